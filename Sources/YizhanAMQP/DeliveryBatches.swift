import Synchronization

/// A batch consumer's deliveries: each step takes everything that arrived since the last one
/// (at most the prefetch window), so a consumer that spends a disk commit on one group finds the
/// next group already grown, instead of a queue of small groups that would each cost a commit.
/// Fails with the connection's error (after what had arrived) when the connection is lost.
public struct DeliveryBatches: AsyncSequence, Sendable {
    public typealias Element = [AMQPDelivery]
    let sink: Sink

    public struct AsyncIterator: AsyncIteratorProtocol {
        let sink: Sink
        public mutating func next() async throws -> [AMQPDelivery]? { try await sink.take() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sink: sink) }

    /// Filled by the connection's thread, emptied by the consuming task.
    final class Sink: Sendable {
        struct State {
            var arrived: [AMQPDelivery] = []
            var waiter: CheckedContinuation<[AMQPDelivery]?, any Error>?
            var failure: (any Error)?
            var cancelled = false
            var onCancel: (@Sendable () -> Void)?
        }
        let state = Mutex(State())

        func append(_ ds: [AMQPDelivery]) {
            guard !ds.isEmpty else { return }
            let waiter: CheckedContinuation<[AMQPDelivery]?, any Error>? = state.withLock { s in
                guard !s.cancelled, s.failure == nil else { return nil }
                if let w = s.waiter { s.waiter = nil; return w }
                s.arrived += ds
                return nil
            }
            waiter?.resume(returning: ds)
        }

        func finish(throwing e: any Error) {
            let waiter: CheckedContinuation<[AMQPDelivery]?, any Error>? = state.withLock { s in
                if s.failure == nil { s.failure = e }
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: e)
        }

        /// Called (once) when the consuming task is cancelled: the broker-side consumer is cancelled too.
        func setOnCancel(_ f: @escaping @Sendable () -> Void) { state.withLock { $0.onCancel = f } }

        func take() async throws -> [AMQPDelivery]? {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<[AMQPDelivery]?, any Error>) in
                    enum Next { case give([AMQPDelivery]?), fail(any Error), wait }
                    let next: Next = state.withLock { s in
                        if !s.arrived.isEmpty {
                            defer { s.arrived.removeAll(keepingCapacity: true) }
                            return .give(s.arrived)
                        }
                        if let e = s.failure { return .fail(e) }
                        if s.cancelled { return .give(nil) }
                        s.waiter = c
                        return .wait
                    }
                    switch next {
                    case .give(let ds): c.resume(returning: ds)
                    case .fail(let e): c.resume(throwing: e)
                    case .wait: break
                    }
                }
            } onCancel: {
                let (waiter, onCancel): (CheckedContinuation<[AMQPDelivery]?, any Error>?, (@Sendable () -> Void)?) = state.withLock { s in
                    guard !s.cancelled else { return (nil, nil) }
                    s.cancelled = true
                    defer { s.waiter = nil; s.onCancel = nil }
                    return (s.waiter, s.onCancel)
                }
                waiter?.resume(returning: nil)
                onCancel?()
            }
        }
    }
}
