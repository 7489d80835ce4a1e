// swift-tools-version:6.1
// qvtop: a terminal dashboard that runs scheduler models live and draws them.
// Dependencies point one way: qvtop → Terminal → Dashboard → Telemetry (a leaf: no runtime),
// Recording → Telemetry, Workloads → Telemetry/Runtime. Only Terminal imports CCurses.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("NonisolatedNonsendingByDefault")
]

// `-z now` (resolve every dynamic symbol at load): without it the first call of each libc/Swift runtime
// symbol runs the lazy PLT resolver on whatever stack calls it, ~3 KB, on a fiber's small stack (Fiber.swift,
// "Stacks"). It belongs to the final link, so the executable and the runtime's tests set it; the Runtime
// library cannot (a package dependency may not carry unsafeFlags), and README tells its users.
let bindNow: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "now"])]

let package = Package(
    name: "qvtop",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "qvtop", targets: ["qvtop"]),
        // The fiber runtime (M:N scheduler, channels, fd I/O on fibers) and the event loop, for other
        // packages (README, "The runtime as a library").
        .library(name: "Runtime", targets: ["Runtime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // ncursesw, wide-character API. No logic: module map + shim header.
        .systemLibrary(name: "CCurses", pkgConfig: "ncursesw", providers: [.apt(["libncursesw5-dev"])]),
        // Context switch (assembly), epoll/eventfd/gettid shims, TSan fiber hooks.
        .target(name: "CRuntime"),
        // Fibers, M:N scheduler, event loop, metrics. No curses, no files, no UI.
        .target(
            name: "Runtime",
            dependencies: [
                "CRuntime",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // Snapshot values the UI reads, from a live runtime or a recording.
        .target(name: "Telemetry", swiftSettings: swiftSettings),
        // Workload engine, scheduler models, presets (TOML), samplers, headless runs.
        .target(
            name: "Workloads",
            dependencies: [
                "Runtime", "Telemetry",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // Recording file format, writer, reader/replayer, exports.
        .target(name: "Recording", dependencies: ["Telemetry"], swiftSettings: swiftSettings),
        // Pure: UI state, intents, reducer, cell grid, layout, panels.
        .target(name: "Dashboard", dependencies: ["Telemetry"], swiftSettings: swiftSettings),
        // The only importer of CCurses: blits a grid, reads keys, resize, signals.
        .target(name: "Terminal", dependencies: ["CCurses", "Dashboard"], swiftSettings: swiftSettings),
        // `qvtop bench NAME`: benchmark bodies, one file per area.
        .target(
            name: "Benchmarks",
            dependencies: ["Runtime", "Telemetry", "Workloads", "Dashboard"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "qvtop",
            dependencies: [
                "Runtime", "CRuntime", "Telemetry", "Workloads", "Recording", "Dashboard", "Terminal", "Benchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: bindNow
        ),
        .testTarget(
            name: "RuntimeTests", dependencies: ["Runtime", "CRuntime"], swiftSettings: swiftSettings,
            linkerSettings: bindNow),
        // README's library example (Example.swift), compiled against Runtime's public API and run.
        .testTarget(name: "RuntimeExampleTests", dependencies: ["Runtime"], swiftSettings: swiftSettings),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"], swiftSettings: swiftSettings),
        .testTarget(name: "WorkloadsTests", dependencies: ["Workloads"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RecordingTests", dependencies: ["Recording"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard"], swiftSettings: swiftSettings),
        .testTarget(name: "EndToEndTests", dependencies: [], swiftSettings: swiftSettings),
    ]
)
