#!/usr/bin/env bash
# Binding tests: build the uniffi library, generate the Kotlin, Python and Swift bindings
# from it (library mode), and run tests that really load it from Python and Kotlin.
#
#   bash scripts/binding-tests.sh
#
# Steps:
#   1. cargo build -p portcullis-ffi --features test-hooks (debug, unstripped) and the bindgen;
#   2. the built libportcullis_ffi.so is copied to target/bindings/lib, so a concurrent cargo
#      build in the same workspace (without test-hooks) cannot swap it under the tests;
#   3. bindings are generated into target/bindings/{kotlin,python,swift} (gitignored);
#   4. Python: tests/bindings/python/test_bindings.py with plain python3 (unittest + asyncio);
#   5. Kotlin: tests/bindings/kotlin/*.kt compiled with kotlinc (from the npm package
#      kotlin-compiler, cached) against JNA (Debian libjna-java) and run on the JVM;
#   4b. Python again, against the release library as it ships (LTO, identical code folding,
#      no interface metadata: docs/decisions/0013), built with the same test hooks;
#   6. Swift: no Swift toolchain here, so the generated Swift file, C header and modulemap are
#      checked to exist, the header to declare every exported symbol and to compile with clang.
#
# Tools are installed on first use into ${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}
# (see scripts/lib/tools.sh). The last line is `bindings: N passed, M failed`, summing the
# Python (debug and release library) and Kotlin tests; the script exits non-zero on any failure.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/tools.sh
source "$ROOT/scripts/lib/tools.sh"

export RUST_BACKTRACE=0 # the panic test prints one readable line, not a backtrace
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

OUT="$ROOT/target/bindings"
LIB_NAME="libportcullis_ffi.so"
TEST_HOOK_SYMBOL="uniffi_portcullis_ffi_fn_func_test_hook_panic"
START=$SECONDS

step() {
    printf '\n==> %s\n' "$*"
}

die() {
    printf 'binding-tests: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- 1-2. build

step "building portcullis-ffi (test-hooks) and uniffi-bindgen"
mkdir -p "$OUT/lib"
copied=0
for attempt in 1 2 3; do
    cargo build -p portcullis-ffi --features test-hooks </dev/null
    cp "target/debug/$LIB_NAME" "$OUT/lib/$LIB_NAME.tmp"
    # Another build in this workspace may have replaced the library without the test hooks
    # between our build and the copy: check the copy, rebuild if needed.
    if LC_ALL=C grep -aq "$TEST_HOOK_SYMBOL" "$OUT/lib/$LIB_NAME.tmp"; then
        mv "$OUT/lib/$LIB_NAME.tmp" "$OUT/lib/$LIB_NAME"
        copied=1
        break
    fi
    echo "target/debug/$LIB_NAME lacks the test hooks (a concurrent build?); rebuilding (attempt $attempt)"
done
[ "$copied" -eq 1 ] || die "could not get a $LIB_NAME built with --features test-hooks"
LIB="$OUT/lib/$LIB_NAME"

cargo build -p uniffi-bindgen </dev/null
BINDGEN="$ROOT/target/debug/uniffi-bindgen"
[ -x "$BINDGEN" ] || die "uniffi-bindgen was not built"

# ---------------------------------------------------------------- 3. generate

step "generating Kotlin, Python and Swift bindings into target/bindings"
for lang in kotlin python swift; do
    rm -rf "${OUT:?}/$lang"
    "$BINDGEN" generate --library "$LIB" --language "$lang" --out-dir "$OUT/$lang" --no-format \
        </dev/null >"$OUT/generate-$lang.log" 2>&1 ||
        { cat "$OUT/generate-$lang.log" >&2; die "generating $lang bindings failed"; }
done
KOTLIN_BINDINGS="$OUT/kotlin/org/portcullis/portcullis_ffi.kt"
[ -f "$KOTLIN_BINDINGS" ] || die "missing $KOTLIN_BINDINGS (check bindings/uniffi.toml)"
[ -f "$OUT/python/portcullis_ffi.py" ] || die "missing target/bindings/python/portcullis_ffi.py"
# The generated Python module loads the library from its own folder.
cp "$LIB" "$OUT/python/$LIB_NAME"

# Policy fixtures made by the console tool itself (scripts/lib/fixtures.sh).
step "signing policy fixtures with the portcullis console tool"
cargo build -p portcullis-cli </dev/null
PORTCULLIS="$ROOT/target/debug/portcullis"
FIX="$OUT/fixtures"
# shellcheck source=scripts/lib/fixtures.sh
source "$ROOT/scripts/lib/fixtures.sh"
make_policy_fixtures "$PORTCULLIS" "$FIX" "binding tests" </dev/null
export PORTCULLIS_FIXTURES="$FIX"

# counts_from LOG LANG: prints "passed failed" from the suite's "LANG: N passed, M failed" line.
counts_from() {
    local line
    line="$(grep -E "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        echo "0 1" # the suite died before reporting: count it as one failure
    else
        echo "$line" | sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/'
    fi
}

# ---------------------------------------------------------------- 4. python

step "python: tests/bindings/python/test_bindings.py"
set +e
PORTCULLIS_PY_BINDINGS="$OUT/python" PYTHONDONTWRITEBYTECODE=1 \
    python3 tests/bindings/python/test_bindings.py </dev/null 2>&1 | tee "$OUT/python.log"
py_rc=${PIPESTATUS[0]}
set -e
read -r py_passed py_failed < <(counts_from "$OUT/python.log" python)
if [ "$py_rc" -ne 0 ] && [ "$py_failed" -eq 0 ]; then py_failed=1; fi

# ---------------------------------------------------------------- 4b. python, release

# The shipped library is linked differently (bindings/build.rs): it must answer the same tests.
step "python: the same tests against the release library"
cargo build --release -p portcullis-ffi --features test-hooks </dev/null
mkdir -p "$OUT/python-release"
cp "$OUT/python/portcullis_ffi.py" "$OUT/python-release/"
cp "target/release/$LIB_NAME" "$OUT/python-release/$LIB_NAME"
LC_ALL=C grep -aq "$TEST_HOOK_SYMBOL" "$OUT/python-release/$LIB_NAME" ||
    die "target/release/$LIB_NAME lacks the test hooks (a concurrent build?)"
if LC_ALL=C grep -aq UNIFFI_META_ "$OUT/python-release/$LIB_NAME"; then
    die "the release library still carries uniffi's interface metadata (bindings/build.rs)"
fi
set +e
PORTCULLIS_PY_BINDINGS="$OUT/python-release" PYTHONDONTWRITEBYTECODE=1 \
    python3 tests/bindings/python/test_bindings.py </dev/null 2>&1 | tee "$OUT/python-release.log"
pyr_rc=${PIPESTATUS[0]}
set -e
read -r pyr_passed pyr_failed < <(counts_from "$OUT/python-release.log" python)
if [ "$pyr_rc" -ne 0 ] && [ "$pyr_failed" -eq 0 ]; then pyr_failed=1; fi

# ---------------------------------------------------------------- 5. kotlin

step "kotlin: tests/bindings/kotlin"
ensure_java
ensure_jna
ensure_kotlinc
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"
KT_SOURCES=("$KOTLIN_BINDINGS")
while IFS= read -r f; do KT_SOURCES+=("$f"); done < <(find tests/bindings/kotlin -name '*.kt' | sort)
# The compiled jar is cached by a hash of everything that goes into it (generated code is
# deterministic), so a rerun with unchanged sources skips the ~10-25 s compile.
kt_key="$(
    {
        echo "kotlinc $KOTLIN_COMPILER_VERSION -jvm-target 17"
        ls -lL "$JNA_JAR" "$COROUTINES_JAR"
        cat "${KT_SOURCES[@]}"
    } | sha256sum | cut -c1-32
)"
KT_CACHE="$PORTCULLIS_CACHE_DIR/kotlin-build"
KT_JAR="$KT_CACHE/binding-tests-$kt_key.jar"
mkdir -p "$KT_CACHE"
if [ -f "$KT_JAR" ]; then
    echo "kotlinc: sources unchanged, reusing the compiled tests ($KT_JAR)"
    touch "$KT_JAR"
else
    echo "kotlinc -jvm-target 17 (${#KT_SOURCES[@]} files)"
    kt_start=$SECONDS
    "$KOTLINC" -jvm-target 17 -nowarn \
        -cp "$JNA_JAR:$COROUTINES_JAR" \
        -d "$KT_JAR.tmp.jar" "${KT_SOURCES[@]}" </dev/null
    mv "$KT_JAR.tmp.jar" "$KT_JAR"
    echo "kotlinc: compiled in $((SECONDS - kt_start))s"
    # Keep the three most recently used builds.
    find "$KT_CACHE" -maxdepth 1 -name 'binding-tests-*.jar' -printf '%T@ %p\n' |
        sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
fi
set +e
java -Djna.library.path="$OUT/lib" \
    -cp "$KT_JAR:$STDLIB_JAR:$COROUTINES_JAR:$JNA_JAR" \
    org.portcullis.bindingtests.BindingsTestKt </dev/null 2>&1 | tee "$OUT/kotlin.log"
kt_rc=${PIPESTATUS[0]}
set -e
read -r kt_passed kt_failed < <(counts_from "$OUT/kotlin.log" kotlin)
if [ "$kt_rc" -ne 0 ] && [ "$kt_failed" -eq 0 ]; then kt_failed=1; fi

# ---------------------------------------------------------------- 6. swift

step "swift: generated files and C header"
swift_ok=1
swift_check() {
    # swift_check DESCRIPTION COMMAND...: runs a check, reports it, records a failure.
    local what="$1"
    shift
    if "$@"; then
        echo "  ok    $what"
    else
        echo "  FAIL  $what"
        swift_ok=0
    fi
}
SWIFT_FILE="$OUT/swift/Portcullis.swift"
HEADERS=("$OUT"/swift/*FFI.h)
MODULEMAPS=("$OUT"/swift/*.modulemap)
swift_check "Portcullis.swift generated" test -s "$SWIFT_FILE"
swift_check "one C header (*FFI.h) generated" test "${#HEADERS[@]}" -eq 1 -a -s "${HEADERS[0]}"
swift_check "one modulemap generated" test "${#MODULEMAPS[@]}" -eq 1 -a -s "${MODULEMAPS[0]}"
HEADER="${HEADERS[0]}"
MODULEMAP="${MODULEMAPS[0]}"
swift_check "modulemap names $(basename "$HEADER")" grep -q "header \"$(basename "$HEADER")\"" "$MODULEMAP"
swift_check "Swift file imports the C module $(basename "$HEADER" .h)" \
    grep -q "import $(basename "$HEADER" .h)" "$SWIFT_FILE"

header_declares_exports() {
    local sym missing=0
    while IFS= read -r sym; do
        if ! grep -qw "$sym" "$HEADER"; then
            echo "        not declared in the header: $sym"
            missing=1
        fi
    done < <(nm -D --defined-only "$LIB" | awk '{ print $3 }' | grep -E '^(uniffi|ffi)_portcullis_ffi_')
    return "$missing"
}
if command -v nm >/dev/null 2>&1; then
    swift_check "header declares every exported uniffi symbol" header_declares_exports
fi

ensure_clang
header_compiles() {
    # Included from a C file, as the Swift module (and any C or Objective-C caller) uses it.
    printf '#include "%s"\nint main(void) { return 0; }\n' "$(basename "$HEADER")" |
        "$CLANG" -fsyntax-only -x c -std=c11 -Wall -Wextra -Werror -I "$OUT/swift" -
}
swift_check "header compiles as C ($(basename "$CLANG") -fsyntax-only -std=c11 -Wall -Wextra -Werror)" \
    header_compiles
modulemap_imports() {
    local cache
    cache="$(mktemp -d)"
    printf '#include "%s"\nint main(void) { return 0; }\n' "$(basename "$HEADER")" |
        "$CLANG" -fsyntax-only -x c -std=c11 -fmodules -fmodules-cache-path="$cache" \
            -fmodule-map-file="$MODULEMAP" -I "$OUT/swift" -
    local rc=$?
    rm -rf "$cache"
    return "$rc"
}
swift_check "modulemap builds the C module (clang -fmodules)" modulemap_imports

# ---------------------------------------------------------------- summary

passed=$((py_passed + pyr_passed + kt_passed))
failed=$((py_failed + pyr_failed + kt_failed))
if [ "$swift_ok" -ne 1 ]; then failed=$((failed + 1)); fi

step "summary ($((SECONDS - START))s)"
printf '  python  %3d passed, %d failed   (tests/bindings/python, python3 %s)\n' \
    "$py_passed" "$py_failed" "$(python3 -c 'import platform; print(platform.python_version())')"
printf '  python  %3d passed, %d failed   (the same, release library)\n' "$pyr_passed" "$pyr_failed"
printf '  kotlin  %3d passed, %d failed   (tests/bindings/kotlin, kotlinc %s, JNA %s)\n' \
    "$kt_passed" "$kt_failed" "$KOTLIN_COMPILER_VERSION" "$(basename "$(readlink -f "$JNA_JAR")")"
if [ "$swift_ok" -eq 1 ]; then
    echo "  swift   generated files checked, header compiles (not run: no Swift toolchain; not counted)"
else
    echo "  swift   FAILED generated-file checks (counted as 1 failure)"
fi
echo "bindings: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
