#!/usr/bin/env bash
# Builds the XCFramework and the Swift bindings (../scripts/build-ios.sh, macOS with Xcode)
# and copies them into this Swift package, where Package.swift expects them:
#
#   bash ios/build-package.sh           # build, then copy
#   bash ios/build-package.sh --copy    # copy what ../target/ios already holds
#
# Nothing copied here is committed (see ios/.gitignore).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

if [ "${1:-}" != "--copy" ]; then
    bash "$root/scripts/build-ios.sh"
fi

src="$root/target/ios"
[ -d "$src/PortcullisFFI.xcframework" ] || { echo "missing $src/PortcullisFFI.xcframework" >&2; exit 1; }
[ -f "$src/swift/Portcullis.swift" ] || { echo "missing $src/swift/Portcullis.swift" >&2; exit 1; }

rm -rf "$here/Frameworks/PortcullisFFI.xcframework" "$here/Sources/Portcullis/Generated"
mkdir -p "$here/Frameworks" "$here/Sources/Portcullis/Generated"
cp -R "$src/PortcullisFFI.xcframework" "$here/Frameworks/"
cp "$src/swift/Portcullis.swift" "$here/Sources/Portcullis/Generated/Portcullis.swift"
echo "ios: package ready (Frameworks/PortcullisFFI.xcframework, Sources/Portcullis/Generated/Portcullis.swift)"
