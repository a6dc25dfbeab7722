# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the sourcing script
# The host build of libportcullis_ffi.so and its Kotlin bindings, for the scripts that run the
# Android module's Kotlin on the JVM (scripts/android-jvm-tests.sh, scripts/android-robolectric-tests.sh).
#
#   ffi_library_and_bindings OWN_DIR
#
# Builds `cargo build -p portcullis-ffi --features test-hooks`, then reuses what
# scripts/binding-tests.sh left in target/bindings/{lib,kotlin} when that library is the one
# just built (same features, so no rebuild flip-flop between the scripts); otherwise copies the
# library into OWN_DIR/lib and generates the bindings into OWN_DIR/kotlin.
# PORTCULLIS_BINDINGS_DIR overrides where to look first. Sets FFI_LIB_DIR and FFI_KOTLIN_BINDINGS;
# returns non-zero (with a message on stderr) on failure. Run from the repository root.

FFI_LIB_DIR=""
FFI_KOTLIN_BINDINGS=""

ffi_library_and_bindings() {
    local own="$1" lib_name="libportcullis_ffi.so"
    local shared="${PORTCULLIS_BINDINGS_DIR:-$PWD/target/bindings}"
    cargo build -p portcullis-ffi --features test-hooks </dev/null || { echo "cargo build failed" >&2; return 1; }
    local built="target/debug/$lib_name"
    [ -f "$built" ] || { echo "missing $built" >&2; return 1; }
    if [ -f "$shared/lib/$lib_name" ] && [ -f "$shared/kotlin/org/portcullis/portcullis_ffi.kt" ] &&
        cmp -s "$built" "$shared/lib/$lib_name"; then
        echo "reusing $shared/{lib,kotlin} from scripts/binding-tests.sh (library is current)"
        FFI_LIB_DIR="$shared/lib"
        FFI_KOTLIN_BINDINGS="$shared/kotlin/org/portcullis/portcullis_ffi.kt"
    else
        echo "target/bindings is missing or stale: generating into ${own#"$PWD"/}"
        mkdir -p "$own/lib"
        # Copy first, so a concurrent cargo build cannot swap the library under the tests.
        cp "$built" "$own/lib/$lib_name.tmp"
        mv "$own/lib/$lib_name.tmp" "$own/lib/$lib_name"
        cargo build -p uniffi-bindgen </dev/null || { echo "building uniffi-bindgen failed" >&2; return 1; }
        rm -rf "$own/kotlin"
        target/debug/uniffi-bindgen generate --library "$own/lib/$lib_name" --language kotlin \
            --out-dir "$own/kotlin" --no-format </dev/null >"$own/generate-kotlin.log" 2>&1 ||
            { cat "$own/generate-kotlin.log" >&2; echo "generating the Kotlin bindings failed" >&2; return 1; }
        FFI_LIB_DIR="$own/lib"
        FFI_KOTLIN_BINDINGS="$own/kotlin/org/portcullis/portcullis_ffi.kt"
    fi
    [ -f "$FFI_KOTLIN_BINDINGS" ] || { echo "missing $FFI_KOTLIN_BINDINGS (check bindings/uniffi.toml)" >&2; return 1; }
}
