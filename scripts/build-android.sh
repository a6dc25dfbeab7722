#!/usr/bin/env bash
# Builds the Android native libraries and Kotlin bindings. Needs the Android NDK
# (ANDROID_NDK_HOME, r26 or later) and runs on a developer's machine or a CI
# runner with the NDK; this repository's own CI has no NDK and runs
# scripts/cross-check.sh instead (a compile-check, not a build).
#
#   ANDROID_NDK_HOME=$HOME/Android/Sdk/ndk/27.2.12479018 bash scripts/build-android.sh
#
# Output: target/android/jniLibs/<abi>/libportcullis_ffi.so (stripped) and
# target/android/kotlin/org/portcullis/*.kt, ready to drop into the android/ module.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK (r26 or later)}"
api_level=${ANDROID_API_LEVEL:-29} # minSdk of the agent app
out=target/android

command -v cargo-ndk >/dev/null || cargo install cargo-ndk --locked
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android

# The host build is only the source of uniffi metadata for the generated Kotlin.
cargo build -p portcullis-ffi
cargo build -p uniffi-bindgen

cargo ndk --platform "$api_level" \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    -o "$out/jniLibs" \
    build --release -p portcullis-ffi

cargo run -q -p uniffi-bindgen -- generate \
    --library target/debug/libportcullis_ffi.so \
    --config bindings/uniffi.toml \
    --language kotlin --no-format --out-dir "$out/kotlin"

for so in "$out"/jniLibs/*/libportcullis_ffi.so; do
    echo "android: $so $(wc -c <"$so") bytes"
done
