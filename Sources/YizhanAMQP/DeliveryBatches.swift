import Synchronization

/// A batch consumer's deliveries: each step takes everything that arrived since the last one
/// (at most the prefetch window), so a consumer that spends a disk commit on one group finds the
/// next group already grown, instead of a queue of small groups that would each cost a commit.
/// A step takes at most `Sink.groupBytes` of message bodies (always at least one message): a group
/// stays in memory until it is handled while the broker refills the window, so large messages
/// (1 MiB chunks) come in small groups. Fails with the connection's error (after what had
/// arrived) when the connection is lost.
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
        /// 4 MiB: a full window of 256 documents of 4 KiB is one group; 1 MiB chunks come four at a time.
        static let groupBytes = 4 << 20

        func append(_ ds: [AMQPDelivery]) {
            guard !ds.isEmpty else { return }
            let (waiter, group): (CheckedContinuation<[AMQPDelivery]?, any Error>?, [AMQPDelivery]) = state.withLock { s in
                guard !s.cancelled, s.failure == nil else { return (nil, []) }
                s.arrived += ds
                guard let w = s.waiter else { return (nil, []) }
                s.waiter = nil
                return (w, Self.group(from: &s.arrived))
            }
            waiter?.resume(returning: group)
        }

        func finish(throwing e: any Error) {
            let waiter: CheckedContinuation<[AMQPDelivery]?, any Error>? = state.withLock { s in
                if s.failure == nil { s.failure = e }
                let w = s.waiter
                s.waiter = nil
                return w
            }
            waiter?.resume(throwing: e)
        }

        /// The oldest deliveries, up to `groupBytes` of bodies (at least one).
        static func group(from arrived: inout [AMQPDelivery]) -> [AMQPDelivery] {
            var n = 0, bytes = 0
            while n < arrived.count, n == 0 || bytes + arrived[n].body.count <= groupBytes {
                bytes += arrived[n].body.count
                n += 1
            }
            let group = Array(arrived[..<n])
            arrived.removeFirst(n)
            return group
        }

        /// Called (once) when the consuming task is cancelled: the broker-side consumer is cancelled too.
        func setOnCancel(_ f: @escaping @Sendable () -> Void) { state.withLock { $0.onCancel = f } }

        func take() async throws -> [AMQPDelivery]? {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<[AMQPDelivery]?, any Error>) in
                    enum Next { case give([AMQPDelivery]?), fail(any Error), wait }
                    let next: Next = state.withLock { s in
                        if !s.arrived.isEmpty { return .give(Self.group(from: &s.arrived)) }
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
                    let taken = (s.waiter, s.onCancel)
                    s.waiter = nil
                    s.onCancel = nil
                    return taken
                }
                waiter?.resume(returning: nil)
                onCancel?()
            }
        }
    }
}
