#!/usr/bin/env bash
# Reports the size of the shipping FFI library for this host: the release cdylib
# (opt-level "z", LTO, one codegen unit, see Cargo.toml) before and after stripping.
#
#   bash scripts/ffi-size.sh
#
# Mobile sizes differ by target; scripts/build-android.sh prints those on a machine with the NDK.
# It also prints the largest sections and, when `cargo bloat` is installed, the bytes each
# crate contributes (docs/decisions/0009-ffi-size-features.md; cargo bloat builds the library
# once more with its own flags); CI needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p portcullis-ffi
lib=target/release/libportcullis_ffi.so
[ -f "$lib" ] || lib=target/release/libportcullis_ffi.dylib
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
cp "$lib" "$stripped"
strip "$stripped" 2>/dev/null || strip -x "$stripped"
unstripped_size=$(wc -c <"$lib")
stripped_size=$(wc -c <"$stripped")
echo "ffi-size: $(basename "$lib") unstripped ${unstripped_size} bytes, stripped ${stripped_size} bytes ($((stripped_size / 1024)) KiB)"

if command -v size >/dev/null 2>&1 && size -A "$stripped" >/dev/null 2>&1; then
    echo "ffi-size: largest sections of the stripped library (bytes):"
    size -A "$stripped" | awk '$1 ~ /^\./ && $2 > 0 { print $2, $1 }' | sort -rn | head -8 |
        awk '{ printf "  %-20s %10d\n", $2, $1 }'
fi
if cargo bloat --version >/dev/null 2>&1; then
    echo "ffi-size: bytes by crate (cargo bloat; C code is counted as [Unknown]):"
    cargo bloat --release -p portcullis-ffi --lib --crates -n 20
fi
