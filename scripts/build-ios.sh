#!/usr/bin/env bash
# Builds PortcullisFFI.xcframework (device + simulator static libraries, C header,
# modulemap) and the Swift bindings. Runs on macOS with Xcode; this repository's
# own CI has no Xcode and runs scripts/cross-check.sh instead (a compile-check, not a build).
#
#   bash scripts/build-ios.sh
#
# Output: target/ios/PortcullisFFI.xcframework and target/ios/swift/Portcullis.swift,
# which the Swift package in ios/ wraps.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" != Darwin ] || ! command -v xcodebuild >/dev/null; then
    echo "build-ios: needs macOS with Xcode (xcodebuild); on Linux run scripts/cross-check.sh" >&2
    exit 1
fi

out=target/ios
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
rustup target add "${targets[@]}"
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-15.0}

for t in "${targets[@]}"; do
    cargo build --release -p portcullis-ffi --target "$t"
done

# Swift bindings and the C header from an unstripped host build (library mode).
cargo build -p portcullis-ffi
rm -rf "$out" && mkdir -p "$out/swift" "$out/headers" "$out/sim"
cargo run -q -p uniffi-bindgen -- generate \
    --library target/debug/libportcullis_ffi.dylib \
    --config bindings/uniffi.toml \
    --language swift --no-format --out-dir "$out/swift"
mv "$out"/swift/*.h "$out/headers/"
# The XCFramework's module must be named module.modulemap.
mv "$out"/swift/*.modulemap "$out/headers/module.modulemap"

lipo -create \
    target/aarch64-apple-ios-sim/release/libportcullis_ffi.a \
    target/x86_64-apple-ios/release/libportcullis_ffi.a \
    -output "$out/sim/libportcullis_ffi.a"

xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libportcullis_ffi.a -headers "$out/headers" \
    -library "$out/sim/libportcullis_ffi.a" -headers "$out/headers" \
    -output "$out/PortcullisFFI.xcframework"

echo "ios: $out/PortcullisFFI.xcframework and $out/swift/Portcullis.swift"
