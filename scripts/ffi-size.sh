#!/usr/bin/env bash
# Reports the size of the shipping FFI library for this host: the release cdylib
# (opt-level "z", LTO, one codegen unit, see Cargo.toml) before and after stripping.
#
#   bash scripts/ffi-size.sh
#
# Mobile sizes differ by target; scripts/build-android.sh prints those on a machine with the NDK.
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
