#!/usr/bin/env bash
# JVM tests of the Android module's platform-independent Kotlin against the real library.
#
#   bash scripts/android-jvm-tests.sh
#
# android/src/main/kotlin/org/portcullis/android/core/*.kt holds everything in the Android
# module that needs no android.* API (mapping telephony values to observations, keyed app
# state encoding, the immediate-send limiter, the delivery loop, WorkManager delays). This
# script compiles those files together with the uniffi-generated Kotlin bindings and the tests
# in android/src/test/kotlin with kotlinc, and runs them on the JVM, where the bindings load
# libportcullis_ffi.so through JNA, as on a phone.
#
# Steps:
#   1. the library and the Kotlin bindings (scripts/lib/bindings.sh): the ones
#      scripts/binding-tests.sh leaves in target/bindings/{lib,kotlin} when they are current,
#      otherwise generated the same way into target/android-jvm/;
#   2. signed policy fixtures made with the console tool (cargo build -p portcullis-cli) by
#      scripts/lib/fixtures.sh, as for scripts/binding-tests.sh: fresh keys, trust root v1 and
#      its rotation to v2, baseline bundles for group all-staff with fixed times, in
#      target/android-jvm/fixtures;
#   3. kotlinc (npm `kotlin-compiler`, cached) and JNA (Debian libjna-java) via scripts/lib/tools.sh;
#      the compiled jar is cached by a hash of its inputs;
#   4. java -Djna.library.path=... -Dportcullis.fixtures=... org.portcullis.android.jvmtests.HarnessKt.
#
# The last line is `android-jvm: N passed, M failed`; the exit status is non-zero on any failure.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/tools.sh
source "$ROOT/scripts/lib/tools.sh"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
START=$SECONDS
OWN="$ROOT/target/android-jvm"
CORE_SRC="android/src/main/kotlin/org/portcullis/android/core"
TEST_SRC="android/src/test/kotlin"
MAIN_CLASS="org.portcullis.android.jvmtests.HarnessKt"

step() {
    printf '\n==> %s\n' "$*"
}

# Any failure before the tests ran is reported in the closing-line format too.
finish_early() {
    echo "android-jvm: $1"
    echo "android-jvm: 0 passed, 1 failed"
    exit 1
}

# ---------------------------------------------------------------- 1. library and bindings

step "library and Kotlin bindings"
# shellcheck source=scripts/lib/bindings.sh
source "$ROOT/scripts/lib/bindings.sh"
ffi_library_and_bindings "$OWN" || finish_early "no library or bindings"
LIB_DIR="$FFI_LIB_DIR"
BINDINGS="$FFI_KOTLIN_BINDINGS"

# ---------------------------------------------------------------- 2. policy fixtures

# Made by the console tool itself (scripts/lib/fixtures.sh).
step "signing policy fixtures with the portcullis console tool"
cargo build -p portcullis-cli </dev/null || finish_early "building portcullis-cli failed"
PORTCULLIS="$ROOT/target/debug/portcullis"
FIX="$OWN/fixtures"
# shellcheck source=scripts/lib/fixtures.sh
source "$ROOT/scripts/lib/fixtures.sh"
make_policy_fixtures "$PORTCULLIS" "$FIX" "android jvm tests" </dev/null ||
    finish_early "signing the policy fixtures failed"
echo "fixtures in ${FIX#"$ROOT"/}: $(cd "$FIX" && ls -- *.signed *.bundle *.indicators | tr '\n' ' ')"

# ---------------------------------------------------------------- 3. compile

step "kotlinc: $CORE_SRC + bindings + $TEST_SRC"
ensure_java || finish_early "no JDK"
ensure_jna || finish_early "no JNA"
ensure_kotlinc || finish_early "no kotlinc"
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"

SOURCES=("$BINDINGS")
while IFS= read -r f; do SOURCES+=("$f"); done < <(find "$CORE_SRC" "$TEST_SRC" -name '*.kt' | sort)

# The platform-independent files must not touch android.*: checked here before compiling
# (a clearer message than kotlinc's unresolved references) and again by a test.
if grep -nE '^\s*import\s+(android|androidx|com\.android)\.' "$CORE_SRC"/*.kt; then
    finish_early "files in $CORE_SRC import Android APIs (they must stay platform-independent)"
fi

key="$(
    {
        echo "kotlinc $KOTLIN_COMPILER_VERSION -jvm-target 17"
        ls -lL "$JNA_JAR" "$COROUTINES_JAR"
        for f in "${SOURCES[@]}"; do
            echo "$f"
            cat "$f"
        done
    } | sha256sum | cut -c1-32
)"
CACHE="$PORTCULLIS_CACHE_DIR/kotlin-build"
JAR="$CACHE/android-jvm-tests-$key.jar"
mkdir -p "$CACHE"
if [ -f "$JAR" ]; then
    echo "kotlinc: sources unchanged, reusing the compiled tests ($JAR)"
    touch "$JAR"
else
    echo "kotlinc -jvm-target 17 (${#SOURCES[@]} files)"
    kt_start=$SECONDS
    "$KOTLINC" -jvm-target 17 -nowarn \
        -cp "$JNA_JAR:$COROUTINES_JAR" \
        -d "$JAR.tmp.jar" "${SOURCES[@]}" </dev/null || finish_early "kotlinc failed"
    mv "$JAR.tmp.jar" "$JAR"
    echo "kotlinc: compiled in $((SECONDS - kt_start))s"
    # Keep the three most recently used builds of this suite.
    find "$CACHE" -maxdepth 1 -name 'android-jvm-tests-*.jar' -printf '%T@ %p\n' |
        sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
fi

# ---------------------------------------------------------------- 4. run

step "java $MAIN_CLASS"
mkdir -p "$OWN"
LOG="$OWN/tests.log"
set +e
java -Djna.library.path="$LIB_DIR" -Dportcullis.coreSources="$ROOT/$CORE_SRC" \
    -Dportcullis.fixtures="$FIX" -Dportcullis.androidDir="$ROOT/android" \
    -cp "$JAR:$STDLIB_JAR:$COROUTINES_JAR:$JNA_JAR" \
    "$MAIN_CLASS" </dev/null 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

line="$(grep -E '^android-jvm: [0-9]+ passed, [0-9]+ failed$' "$LOG" | tail -n 1 || true)"
if [ -z "$line" ]; then
    passed=0
    failed=1 # the suite died before reporting
else
    passed="$(sed -E 's/^android-jvm: ([0-9]+) passed.*/\1/' <<<"$line")"
    failed="$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")"
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

step "summary ($((SECONDS - START))s)"
printf '  kotlin (JVM)  %d passed, %d failed   (%s, kotlinc %s, JNA %s)\n' \
    "$passed" "$failed" "$TEST_SRC" "$KOTLIN_COMPILER_VERSION" "$(basename "$(readlink -f "$JNA_JAR")")"
echo "android-jvm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
