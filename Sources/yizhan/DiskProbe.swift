import Foundation
import Synchronization
import YizhanCore

/// How long the disk takes to flush a small write while a latency run goes on beside it: the
/// floor under every durable commit in the run, as the raw round trip is the broker's.
///
/// Each gateway commit, the broker's quorum-queue log and the stores' checkpoints all end in a
/// flush of the same disk, and on these machines the flushes of the different processes are
/// seen finishing at the same instant: a slow one (a checkpoint's megabytes, a neighbour on the
/// host) holds up every commit waiting at that moment. The probe writes 4 KiB in place into a
/// file in the work folder (the stores' file system) and `fdatasync`s it every 20 ms on a thread of
/// its own; 50 flushes a second add little beside the run's several hundred.
final class DiskProbe: Sendable {
    struct State {
        var stop = false
        var finished = false
        var flushes: [Flush] = []
        var failure: YizhanError?
    }
    /// One flush: when it began (seconds since 1970, as the stores keep times) and how long it took.
    struct Flush: Sendable {
        var at: Double
        var millis: Double
    }
    let state = Mutex(State())
    let file: ProbeFile
    static let interval = 0.020
    static let blockBytes = 4096
    static let blocks = 256

    init(folder: String) throws(YizhanError) {
        file = try ProbeFile(path: folder + "/disk-probe-\(getpid())", bytes: Self.blockBytes * Self.blocks)
        let thread = Thread { [self] in run() }
        thread.name = "disk-probe"
        thread.start()
    }

    private func run() {
        let block = [UInt8](repeating: 0x5A, count: Self.blockBytes)
        var i = 0
        var next = Date()
        while !state.withLock({ $0.stop }) {
            do {
                try file.write(block, at: (i % Self.blocks) * Self.blockBytes)
                let at = Date().timeIntervalSince1970
                let t0 = DispatchTime.now().uptimeNanoseconds
                try file.flush()
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                state.withLock { $0.flushes.append(Flush(at: at, millis: ms)) }
            } catch {
                state.withLock { $0.failure = error }
                break
            }
            i += 1
            next = next.addingTimeInterval(Self.interval)
            let wait = next.timeIntervalSinceNow
            if wait > 0 { Thread.sleep(forTimeInterval: wait) } else { next = Date() }
        }
        state.withLock { $0.finished = true }
    }

    /// Stops the probe without waiting (the run it measures failed).
    func cancel() { state.withLock { $0.stop = true } }

    /// Stops the probe and returns its flushes (waits at most 5 s for its thread).
    func stop() async throws -> [Flush] {
        state.withLock { $0.stop = true }
        let deadline = ContinuousClock.now + .seconds(5)
        while !state.withLock({ $0.finished }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        return try state.withLock { s in
            if let f = s.failure { throw f }
            return s.flushes
        }
    }
}

extension DiskProbe {
    /// Of the documents slower than `slow` ms (each from `start` to `end`, seconds since 1970), how
    /// many were under way while a flush took longer than `stall` ms: a stall of the disk shared by
    /// both gateways and the broker, not of the gateway's own work.
    static func overlapping(_ spans: [(start: Double, end: Double)], slow: Double, flushes: [Flush], stall: Double) -> (slow: Int, stalled: Int) {
        let stalls = flushes.filter { $0.millis > stall }.map { (from: $0.at, to: $0.at + $0.millis / 1000) }
        let late = spans.filter { ($0.end - $0.start) * 1000 > slow }
        let stalled = late.filter { d in stalls.contains { $0.from < d.end && $0.to > d.start } }
        return (late.count, stalled.count)
    }
}
