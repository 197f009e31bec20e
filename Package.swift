// swift-tools-version:6.0
// recur: an embeddable runtime for feedback (recurrent) neural networks.
//
// Products:
//   - `recur`     : the shared library librecur.so with the C ABI of include/recur.h.
//                   The Makefile adds the release-only flags (static Swift runtime,
//                   linker version script); this file stays free of unsafe flags so the
//                   package is usable as a plain SwiftPM dependency.
//   - `RecurCore` : the pure-Swift engine for Swift apps.
import PackageDescription

let package = Package(
    name: "recur",
    products: [
        .library(name: "recur", type: .dynamic, targets: ["Recur"]),
        .library(name: "RecurCore", targets: ["RecurCore"]),
        .executable(name: "recur-cli", targets: ["RecurCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // System zlib (libz), through a tiny module map.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The public header, imported into Swift so the shims use its exact types.
        .systemLibrary(name: "CRecurAPI", path: "Sources/CRecurAPI"),
        // Thread-local last-error storage (C11 _Thread_local).
        .target(name: "CRecurSupport", path: "Sources/CRecurSupport", cSettings: [.headerSearchPath("../../include")]),
        // CPU-specific kernels (AVX2+FMA, int8, the thread pool) selected at run time. They live
        // in the engine's kernel folder beside the portable Swift SIMD kernels (one folder for
        // all kernels); SwiftPM needs C in its own target, so RecurCore excludes the subfolder.
        .target(name: "CRecurKernels", path: "Sources/RecurCore/Kernels/CPU"),
        .target(
            name: "RecurCore", dependencies: ["CZlib", "CRecurKernels", "CRecurAPI"], path: "Sources/RecurCore",
            exclude: ["Kernels/CPU"]),
        .target(
            name: "Recur", dependencies: ["RecurCore", "CRecurAPI", "CRecurSupport"],
            path: "Sources/Recur"),
        // The `recur` command-line tool (installed as PREFIX/bin/recur).
        .executableTarget(
            name: "RecurCLI",
            dependencies: ["RecurCore", "CZlib", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/RecurCLI"),
        .target(name: "RecurTestSupport", path: "Tests/RecurTestSupport"),
        .testTarget(
            name: "RecurCoreTests", dependencies: ["RecurCore", "RecurTestSupport"], path: "Tests/RecurCoreTests"),
        .testTarget(
            name: "RecurTests", dependencies: ["Recur", "RecurCore", "CRecurAPI", "RecurTestSupport"],
            path: "Tests/RecurTests"),
    ]
)
