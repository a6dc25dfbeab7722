#!/usr/bin/env bash
# The Android module compiled against the real Android framework and tested under Robolectric.
#
#   bash scripts/android-robolectric-tests.sh
#
# Steps:
#   1. the library and the Kotlin bindings (scripts/lib/bindings.sh), as for scripts/android-jvm-tests.sh;
#   2. signed fixtures made with the console tool (scripts/lib/fixtures.sh) in target/android-robolectric/fixtures;
#   3. the jars pinned in android/robolectric/pom.xml, fetched once by Maven into the cache
#      (scripts/lib/tools.sh ensure_robolectric_jars): Robolectric's android-all for API 35 (the
#      module's compileSdk), its instrumented twin, the instrumented frameworks of API 33 and 34
#      (tests that run per API level), Robolectric, JUnit 4, JNA, kotlinx-coroutines-android;
#   4. kotlinc compiles EVERY Kotlin file under android/src/main except the Google-Maven-only
#      adapter files listed in GRADLE_ONLY below (and in android/README.md) against android-all,
#      coroutines, JNA and the generated bindings. A type error in the glue fails here;
#   5. kotlinc compiles the Robolectric tests in android/src/robolectric/kotlin against that;
#   6. one JVM runs every test class (Robolectric's start-up is paid once), offline: the
#      framework comes from the cache (robolectric.offline, robolectric.dependency.dir), the
#      library is loaded through JNA (jna.library.path) as on a phone.
# Both compiled jars are cached by a hash of their inputs.
#
# The last line is `android-robolectric: N passed, M failed`; the exit status is non-zero on any failure.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/tools.sh
source "$ROOT/scripts/lib/tools.sh"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
START=$SECONDS
OWN="$ROOT/target/android-robolectric"
MAIN_SRC="android/src/main/kotlin"
TEST_SRC="android/src/robolectric/kotlin"
POM="android/robolectric/pom.xml"
MAIN_CLASS="org.portcullis.android.robolectric.RunAllKt"
# The framework jars pom.xml pins (Robolectric 4.17's android-all for SDK 35).
ANDROID_ALL="android-all-15-robolectric-13954326.jar"
ANDROID_ALL_INSTRUMENTED="android-all-instrumented-15-robolectric-13954326-i7.jar"
# The instrumented frameworks of the other API levels tests run at (@Config(sdk = [33, 34])),
# at the versions Robolectric 4.17 names; fetched beside the pom's jars (one Maven project
# holds one version of an artifact).
ANDROID_ALL_OTHER_VERSIONS=("13-robolectric-9030017-i7" "14-robolectric-10818077-i7")
ANDROID_ALL_INSTRUMENTED_OTHER=()
for v in "${ANDROID_ALL_OTHER_VERSIONS[@]}"; do
    ANDROID_ALL_INSTRUMENTED_OTHER+=("android-all-instrumented-$v.jar")
done
# Files that need a Google-Maven-only library: compiled by the Gradle build only. Each must be
# listed in android/README.md; no other file may import androidx.
GRADLE_ONLY=(
    "$MAIN_SRC/org/portcullis/android/AndroidxKeyedAppStatesReporter.kt"
)

step() {
    printf '\n==> %s\n' "$*"
}

finish_early() {
    echo "android-robolectric: $1"
    echo "android-robolectric: 0 passed, 1 failed"
    exit 1
}

# ---------------------------------------------------------------- 1. library and bindings

step "library and Kotlin bindings"
# shellcheck source=scripts/lib/bindings.sh
source "$ROOT/scripts/lib/bindings.sh"
ffi_library_and_bindings "$OWN" || finish_early "no library or bindings"

# ---------------------------------------------------------------- 2. fixtures

step "signing fixtures with the portcullis console tool"
cargo build -p portcullis-cli </dev/null || finish_early "building portcullis-cli failed"
FIX="$OWN/fixtures"
# shellcheck source=scripts/lib/fixtures.sh
source "$ROOT/scripts/lib/fixtures.sh"
make_policy_fixtures "$ROOT/target/debug/portcullis" "$FIX" "android robolectric tests" </dev/null ||
    finish_early "signing the fixtures failed"

# ---------------------------------------------------------------- 3. tools and jars

step "kotlinc, and the jars of $POM"
ensure_java || finish_early "no JDK"
ensure_kotlinc || finish_early "no kotlinc"
ensure_robolectric_jars "$ROOT/$POM" "${ANDROID_ALL_OTHER_VERSIONS[@]/#/org.robolectric:android-all-instrumented:}" ||
    finish_early "could not fetch the jars of $POM"
J="$ROBOLECTRIC_JARS"
for jar in "$ANDROID_ALL" "$ANDROID_ALL_INSTRUMENTED" "${ANDROID_ALL_INSTRUMENTED_OTHER[@]}"; do
    [ -f "$J/$jar" ] || finish_early "$POM did not bring $jar (update ANDROID_ALL* here with the pins)"
done
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"
echo "jars: ${J/#"$HOME"/\~} ($(find "$J" -name '*.jar' | wc -l) jars)"

# The classpath of everything but the two framework jars. Robolectric loads the instrumented one
# itself, in its sandbox; the plain one goes last on the JVM's classpath only so that JUnit can
# read @Config (whose defaults name android.app.Application) before the sandbox exists.
RUN_CP=""
while IFS= read -r jar; do
    case "$(basename "$jar")" in android-all-*) continue ;; esac
    RUN_CP="$RUN_CP${RUN_CP:+:}$jar"
done < <(find "$J" -maxdepth 1 -name '*.jar' | sort)
lib_jar() { find "$J" -maxdepth 1 -name "$1-[0-9]*.jar" | head -n 1; }
MAIN_CP="$J/$ANDROID_ALL:$(lib_jar jna):$(lib_jar kotlinx-coroutines-core-jvm):$(lib_jar kotlinx-coroutines-android)"

# compile NAME CLASSPATH EXTRA_ARGS... -- SOURCES...: kotlinc into a jar cached by a hash of the
# sources, the classpath and the compiler; sets COMPILED.
compile() {
    local name="$1" cp="$2" key jar cache="$PORTCULLIS_CACHE_DIR/kotlin-build"
    shift 2
    local args=()
    while [ "$1" != "--" ]; do args+=("$1"); shift; done
    shift
    key="$(
        {
            echo "kotlinc $KOTLIN_COMPILER_VERSION -jvm-target 17 ${args[*]}"
            tr ':' '\n' <<<"$cp" | xargs -r ls -lL
            # Names relative to the checkout (the bindings by content alone: they may come from
            # target/bindings or target/android-robolectric), so a fresh clone hits the same cache.
            for f in "$@"; do
                if [ "$f" = "$FFI_KOTLIN_BINDINGS" ]; then echo "bindings"; else echo "${f#"$ROOT"/}"; fi
                cat "$f"
            done
        } | sha256sum | cut -c1-32
    )"
    jar="$cache/$name-$key.jar"
    mkdir -p "$cache"
    if [ -f "$jar" ]; then
        echo "kotlinc: sources unchanged, reusing $jar"
        touch "$jar"
    else
        echo "kotlinc -jvm-target 17 ($# files)"
        local t=$SECONDS
        "$KOTLINC" -jvm-target 17 -nowarn -cp "$cp" "${args[@]}" -d "$jar.tmp.jar" "$@" </dev/null || return 1
        mv "$jar.tmp.jar" "$jar"
        echo "kotlinc: compiled in $((SECONDS - t))s"
        find "$cache" -maxdepth 1 -name "$name-*.jar" -printf '%T@ %p\n' |
            sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
    fi
    COMPILED="$jar"
}

# ---------------------------------------------------------------- 4. android/src/main

step "kotlinc: all of $MAIN_SRC (but the Gradle-only adapters) against $ANDROID_ALL"
gradle_only_lines=0
for f in "${GRADLE_ONLY[@]}"; do
    [ -f "$f" ] || finish_early "GRADLE_ONLY names $f, which does not exist"
    grep -q "$(basename "$f")" android/README.md || finish_early "android/README.md does not list $f"
    gradle_only_lines=$((gradle_only_lines + $(wc -l <"$f")))
done
MAIN_SOURCES=("$FFI_KOTLIN_BINDINGS")
while IFS= read -r f; do
    skip=0
    for g in "${GRADLE_ONLY[@]}"; do [ "$f" = "$g" ] && skip=1; done
    [ "$skip" -eq 1 ] || MAIN_SOURCES+=("$f")
done < <(find "$MAIN_SRC" -name '*.kt' | sort)
# Everything compiled here must build without Google's Maven repository.
if grep -nE '^\s*import\s+androidx\.' "${MAIN_SOURCES[@]:1}"; then
    finish_early "files outside GRADLE_ONLY import androidx (isolate the dependency in an adapter file)"
fi
echo "compiling $((${#MAIN_SOURCES[@]} - 1)) files of $MAIN_SRC; left to the Gradle build: ${#GRADLE_ONLY[@]} file(s), $gradle_only_lines lines"
compile android-main "$MAIN_CP" -- "${MAIN_SOURCES[@]}" || finish_early "kotlinc failed on $MAIN_SRC"
MAIN_JAR="$COMPILED"

# ---------------------------------------------------------------- 5. tests

step "kotlinc: $TEST_SRC"
TEST_SOURCES=()
while IFS= read -r f; do TEST_SOURCES+=("$f"); done < <(find "$TEST_SRC" -name '*.kt' | sort)
compile android-robolectric "$MAIN_JAR:$J/$ANDROID_ALL:$RUN_CP" "-Xfriend-paths=$MAIN_JAR" -- "${TEST_SOURCES[@]}" ||
    finish_early "kotlinc failed on $TEST_SRC"
TEST_JAR="$COMPILED"

# ---------------------------------------------------------------- 6. run

step "java $MAIN_CLASS (Robolectric, SDK 35 and the levels tests ask for, offline)"
LOG="$OWN/tests.log"
mkdir -p "$OWN"
set +e
java -Xmx2g -XX:+UseParallelGC \
    -Drobolectric.offline=true -Drobolectric.dependency.dir="$J" \
    -Djna.library.path="$FFI_LIB_DIR" -Dportcullis.fixtures="$FIX" -Dportcullis.root="$ROOT" \
    -cp "$TEST_JAR:$MAIN_JAR:$STDLIB_JAR:$RUN_CP:$J/$ANDROID_ALL" \
    "$MAIN_CLASS" </dev/null 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

line="$(grep -E '^android-robolectric: [0-9]+ passed, [0-9]+ failed$' "$LOG" | tail -n 1 || true)"
if [ -z "$line" ]; then
    passed=0
    failed=1
else
    passed="$(sed -E 's/^android-robolectric: ([0-9]+) passed.*/\1/' <<<"$line")"
    failed="$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")"
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

step "summary ($((SECONDS - START))s)"
printf '  android/src/main  compiled against %s (%d files; %d Gradle-only file(s), %d lines, not compiled here)\n' \
    "$ANDROID_ALL" "$((${#MAIN_SOURCES[@]} - 1))" "${#GRADLE_ONLY[@]}" "$gradle_only_lines"
printf '  robolectric       %d passed, %d failed   (%s, Robolectric 4.17, SDK 35, 33 and 34 where a test asks, kotlinc %s)\n' \
    "$passed" "$failed" "$TEST_SRC" "$KOTLIN_COMPILER_VERSION"
echo "android-robolectric: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
