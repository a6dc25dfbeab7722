# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the sourcing script
# Installer helpers for scripts/binding-tests.sh: each ensure_* function makes one tool
# available (installing it only when it is missing) and prints nothing on the fast path.
#
# Tools come only from package registries, by package name:
#   - Debian packages through apt-get (JNA, clang, a JDK when none is installed);
#   - the npm registry package `kotlin-compiler`, unpacked into a cache directory;
#   - the npm registry package `@stoplight/prism-cli` (CAMARA mock server), installed into it.
# Downloads land in ${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}, so reruns are quick.
#
# Source this file; it defines functions and variables only.

PORTCULLIS_CACHE_DIR="${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}"
KOTLIN_COMPILER_VERSION="${KOTLIN_COMPILER_VERSION:-2.4.20}"
PRISM_VERSION="${PRISM_VERSION:-5.16.0}"

# Set by the ensure_* functions.
JNA_JAR=""
KOTLIN_HOME=""
KOTLINC=""
CLANG=""
PRISM=""

tools_log() {
    printf '[tools] %s\n' "$*" >&2
}

# Runs a command as root: directly when already root, else through non-interactive sudo.
_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        tools_log "need root to run: $*"
        return 1
    fi
}

_APT_UPDATED=0

# _quietly NAME COMMAND...: runs COMMAND with its output in $PORTCULLIS_CACHE_DIR/NAME.log,
# shown only when it fails.
_quietly() {
    local log="$PORTCULLIS_CACHE_DIR/$1.log"
    shift
    mkdir -p "$PORTCULLIS_CACHE_DIR"
    local rc=0
    "$@" </dev/null >"$log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || return 0
    tools_log "failed (exit $rc): $*"
    tail -n 30 "$log" >&2
    return "$rc"
}

_apt_update() {
    if [ "$_APT_UPDATED" -eq 0 ]; then
        tools_log "apt-get update"
        _APT_UPDATED=1
        _quietly apt-get-update _as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    fi
}

# True when apt knows an installable version of package $1 (package lists may be absent or stale).
_apt_has_candidate() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')"
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# apt_install PACKAGE...: installs Debian packages, running `apt-get update` first only
# when the package lists do not know them, and once more if the install fails on stale lists.
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        tools_log "apt-get is not available; install $* by hand"
        return 1
    fi
    local pkg
    for pkg in "$@"; do
        if ! _apt_has_candidate "$pkg"; then
            _apt_update
            break
        fi
    done
    tools_log "apt-get install $*"
    if ! _quietly apt-get-install _as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@"; then
        [ "$_APT_UPDATED" -eq 0 ] || return 1
        _apt_update
        _quietly apt-get-install _as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@"
    fi
}

# A JDK (java and javac); Java 17 is expected, Debian's openjdk-17 is installed if none is.
ensure_java() {
    if command -v java >/dev/null 2>&1; then
        return 0
    fi
    apt_install openjdk-17-jdk-headless
    command -v java >/dev/null 2>&1 || { tools_log "java still missing"; return 1; }
}

# JNA, which the generated Kotlin bindings load the Rust library with (Debian's libjna-java).
ensure_jna() {
    local jar=/usr/share/java/jna.jar
    if [ ! -f "$jar" ]; then
        apt_install libjna-java
    fi
    [ -f "$jar" ] || { tools_log "JNA jar not found at $jar"; return 1; }
    JNA_JAR="$jar"
}

# The Kotlin compiler from the npm registry package `kotlin-compiler`, unpacked once into the cache.
# Sets KOTLIN_HOME (with bin/kotlinc and lib/*.jar) and KOTLINC.
ensure_kotlinc() {
    local home="$PORTCULLIS_CACHE_DIR/kotlin-compiler-$KOTLIN_COMPILER_VERSION"
    if [ ! -x "$home/bin/kotlinc" ] || [ ! -f "$home/.complete" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            tools_log "npm is needed to fetch the Kotlin compiler (apt-get install npm)"
            apt_install npm
        fi
        tools_log "fetching kotlin-compiler@$KOTLIN_COMPILER_VERSION (npm pack) into $PORTCULLIS_CACHE_DIR"
        mkdir -p "$PORTCULLIS_CACHE_DIR"
        local work
        work="$(mktemp -d "$PORTCULLIS_CACHE_DIR/.kotlin-compiler.XXXXXX")"
        (
            cd "$work"
            npm pack "kotlin-compiler@$KOTLIN_COMPILER_VERSION" \
                --silent --no-fund --no-audit --loglevel=error </dev/null >/dev/null
            tar -xzf kotlin-compiler-*.tgz
            rm -f kotlin-compiler-*.tgz
        ) || { rm -rf "$work"; tools_log "could not fetch kotlin-compiler"; return 1; }
        # Check the layout before relying on it.
        local need
        for need in bin/kotlinc lib/kotlin-compiler.jar lib/kotlin-stdlib.jar \
            lib/kotlinx-coroutines-core-jvm.jar; do
            if [ ! -e "$work/package/$need" ]; then
                tools_log "kotlin-compiler package lacks $need"
                rm -rf "$work"
                return 1
            fi
        done
        chmod +x "$work/package/bin/"* 2>/dev/null || true
        touch "$work/package/.complete"
        rm -rf "$home"
        mv "$work/package" "$home"
        rm -rf "$work"
    fi
    KOTLIN_HOME="$home"
    KOTLINC="$home/bin/kotlinc"
}

# clang, to check that the generated C header compiles (Debian's clang, only when absent).
ensure_clang() {
    local c
    for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
        if command -v "$c" >/dev/null 2>&1; then
            CLANG="$(command -v "$c")"
            return 0
        fi
    done
    apt_install clang
    CLANG="$(command -v clang)" || { tools_log "clang still missing"; return 1; }
}

# Prism, the OpenAPI mock server the carrier tests run on the CAMARA contracts: the npm
# registry package `@stoplight/prism-cli`, installed once (with its dependencies) into
# the cache. Sets PRISM to its executable.
ensure_prism() {
    local home="$PORTCULLIS_CACHE_DIR/prism-cli-$PRISM_VERSION"
    local bin="$home/node_modules/.bin/prism"
    if [ ! -x "$bin" ] || [ ! -f "$home/.complete" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            tools_log "npm is needed to fetch Prism (apt-get install npm)"
            apt_install npm
        fi
        tools_log "installing @stoplight/prism-cli@$PRISM_VERSION (npm) into $home"
        mkdir -p "$PORTCULLIS_CACHE_DIR"
        local work
        work="$(mktemp -d "$PORTCULLIS_CACHE_DIR/.prism-cli.XXXXXX")"
        if ! _quietly prism-install npm install --prefix "$work" "@stoplight/prism-cli@$PRISM_VERSION" \
            --no-fund --no-audit --loglevel=error; then
            rm -rf "$work"
            tools_log "could not install @stoplight/prism-cli"
            return 1
        fi
        if [ ! -x "$work/node_modules/.bin/prism" ]; then
            rm -rf "$work"
            tools_log "@stoplight/prism-cli installed no prism executable"
            return 1
        fi
        touch "$work/.complete"
        rm -rf "$home"
        mv "$work" "$home"
    fi
    PRISM="$bin"
}

# Maven (Debian's package when it is not installed), for the Robolectric jars below.
ensure_maven() {
    command -v mvn >/dev/null 2>&1 && return 0
    apt_install maven
    command -v mvn >/dev/null 2>&1 || { tools_log "mvn still missing"; return 1; }
}

# The jars pinned in android/robolectric/pom.xml (Robolectric, the android-all framework jars for
# the module's compileSdk, JUnit, JNA, kotlinx-coroutines-android), fetched once from Maven
# Central with `mvn dependency:copy-dependencies` into $PORTCULLIS_CACHE_DIR/robolectric/jars-<hash
# of the pom>; a changed pin fetches afresh, and older fetches are removed. Maven's own download
# cache is a temporary folder removed afterwards, so the ~560 MB are on disk once.
# .aar dependencies (androidx.test from Maven Central) are reduced to their classes.jar.
# Further arguments are artifacts (group:artifact:version) copied beside them with
# `mvn dependency:copy`: other versions of an artifact the pom already names, which one Maven
# project cannot hold. Sets ROBOLECTRIC_JARS to that folder.
ROBOLECTRIC_JARS=""
ensure_robolectric_jars() {
    local pom="$1" key dir work aar artifact
    shift
    key="$({ cat "$pom"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16)"
    dir="$PORTCULLIS_CACHE_DIR/robolectric/jars-$key"
    if [ ! -f "$dir/.complete" ]; then
        ensure_java && ensure_maven || return 1
        mkdir -p "$PORTCULLIS_CACHE_DIR/robolectric"
        work="$(mktemp -d "$PORTCULLIS_CACHE_DIR/robolectric/.fetch.XXXXXX")"
        tools_log "fetching the jars of $pom (mvn dependency:copy-dependencies) into $dir"
        if ! _quietly robolectric-fetch mvn -B -q -f "$pom" -Dmaven.repo.local="$work/m2" \
            dependency:copy-dependencies -DoutputDirectory="$work/jars"; then
            rm -rf "$work"
            return 1
        fi
        for artifact in "$@"; do
            if ! _quietly robolectric-fetch mvn -B -q -f "$pom" -Dmaven.repo.local="$work/m2" \
                dependency:copy -Dartifact="$artifact" -DoutputDirectory="$work/jars"; then
                rm -rf "$work"
                return 1
            fi
        done
        for aar in "$work"/jars/*.aar; do
            [ -e "$aar" ] || continue
            unzip -p "$aar" classes.jar >"${aar%.aar}.jar" && rm -f "$aar" || { rm -rf "$work"; return 1; }
        done
        touch "$work/jars/.complete"
        rm -rf "$dir"
        mv "$work/jars" "$dir"
        rm -rf "$work"
        find "$PORTCULLIS_CACHE_DIR/robolectric" -mindepth 1 -maxdepth 1 -name 'jars-*' ! -name "jars-$key" \
            -exec rm -rf {} +
    fi
    ROBOLECTRIC_JARS="$dir"
}
