// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Yizhan",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "yizhan", targets: ["yizhan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CRabbitMQ", path: "Sources/CRabbitMQ", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CGlibc", path: "Sources/CGlibc"),
        .target(name: "YizhanCore", swiftSettings: strict),
        .target(name: "YizhanCrypto", dependencies: ["YizhanCore", "COpenSSL"], swiftSettings: strict),
        .target(name: "YizhanAMQP", dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "YizhanHTTP", dependencies: ["YizhanCore"], swiftSettings: strict),
        .target(name: "YizhanStore", dependencies: ["YizhanCore", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: strict),
        .target(name: "YizhanGateway", dependencies: [
            "YizhanCore", "YizhanCrypto", "YizhanAMQP", "YizhanStore", "YizhanHTTP", "CGlibc",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        .target(name: "YizhanRegistry", dependencies: [
            "YizhanCore", "YizhanCrypto", "YizhanAMQP", "YizhanStore", "YizhanHTTP",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strict),
        .target(name: "YizhanMonitor", dependencies: [
            "YizhanCore", "YizhanStore", "YizhanHTTP",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .executableTarget(name: "yizhan", dependencies: [
            "YizhanCore", "YizhanCrypto", "YizhanAMQP", "YizhanStore", "YizhanGateway", "YizhanRegistry", "YizhanMonitor",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .testTarget(name: "YizhanCoreTests", dependencies: ["YizhanCore"], swiftSettings: strict),
        .testTarget(name: "YizhanCryptoTests", dependencies: ["YizhanCore", "YizhanCrypto"], swiftSettings: strict),
        .testTarget(name: "YizhanStoreTests", dependencies: ["YizhanCore", "YizhanStore"], swiftSettings: strict),
        .testTarget(name: "YizhanAMQPTests", dependencies: ["YizhanAMQP"], swiftSettings: strict),
        .testTarget(name: "YizhanMonitorTests", dependencies: ["YizhanCore", "YizhanMonitor"], swiftSettings: strict),
        .testTarget(name: "YizhanIntegrationTests", dependencies: [
            "YizhanCore", "YizhanCrypto", "YizhanAMQP", "YizhanStore", "YizhanGateway", "YizhanRegistry", "YizhanMonitor",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
    ]
)
