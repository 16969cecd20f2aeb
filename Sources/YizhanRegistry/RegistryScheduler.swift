import Foundation
import ServiceLifecycle

/// Applies approved requests when their effective time comes (and finishes any that a
/// previous run left half-applied). Runs beside the HTTP server in one `ServiceGroup`.
public struct RegistryScheduler: Service {
    let registry: Registry
    let interval: Duration

    public init(registry: Registry, interval: Duration = .milliseconds(500)) {
        self.registry = registry
        self.interval = interval
    }

    public func run() async throws {
        await registry.reconcile()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await registry.applyDue()
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}
