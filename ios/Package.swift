// swift-tools-version:5.9
// The Portcullis Swift package: the Rust core as an XCFramework (binary target) plus the
// uniffi-generated Swift and thin iOS adapters, in one module that apps `import Portcullis`.
//
// Neither the XCFramework nor the generated Swift is committed: run ./build-package.sh (macOS
// with Xcode) first. It calls ../scripts/build-ios.sh and copies
//   ../target/ios/PortcullisFFI.xcframework  -> Frameworks/PortcullisFFI.xcframework
//   ../target/ios/swift/Portcullis.swift     -> Sources/Portcullis/Generated/Portcullis.swift

import PackageDescription

let package = Package(
    name: "Portcullis",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "Portcullis", targets: ["Portcullis"]),
    ],
    targets: [
        // Static libraries for device and simulator with the C header and a module map that
        // declares the C module PortcullisFFI (what the generated Swift imports).
        .binaryTarget(name: "PortcullisFFI", path: "Frameworks/PortcullisFFI.xcframework"),
        // Module name `Portcullis` = bindings/uniffi.toml [bindings.swift] module_name.
        .target(
            name: "Portcullis",
            dependencies: ["PortcullisFFI"],
            path: "Sources/Portcullis"
        ),
    ],
    swiftLanguageVersions: [.v5]
)
