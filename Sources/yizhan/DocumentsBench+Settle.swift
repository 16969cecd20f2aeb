import Foundation
import YizhanCore

extension DocumentsBench {
    /// Waits until the gateways (and a broker on this machine) have worked off what the run before
    /// left behind, so that a paced run measures the latency at its own rate and not the tail of a
    /// burst: after the throughput run the gateways' checkpointers copy a write-ahead log of a
    /// hundred megabytes back into their databases, and the broker trims its quorum-queue logs.
    /// Quiet means every watched process under 5 % of a core over a quarter of a second (an idle
    /// gateway uses about 1 %, an idle broker 1–2 %); at most `atMost`, then it goes on and says so.
    /// The benchmark prints how long it waited (0.25–1.0 s on the machines measured so far).
    static func settle(_ pids: [Int32], atMost: Duration = .seconds(30)) async throws -> (seconds: Double, quiet: Bool) {
        let clock = ContinuousClock()
        let start = clock.now
        let window = Duration.milliseconds(250)
        var before = pids.map(GatewayProcess.cpuSeconds(of:))
        while clock.now - start < atMost {
            try await Task.sleep(for: window)
            let now = pids.map(GatewayProcess.cpuSeconds(of:))
            let busiest = zip(now, before).map { $0 - $1 }.max() ?? 0
            before = now
            if busiest < 0.05 * BenchNetwork.seconds(window) { return (BenchNetwork.seconds(clock.now - start), true) }
        }
        return (BenchNetwork.seconds(clock.now - start), false)
    }

    /// The broker's Erlang VM when the broker runs on this machine (its host is a loopback
    /// address); a remote broker is not watched.
    static func localBrokerPID(url: String) -> Int32? {
        guard let host = URLComponents(string: url)?.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host),
              let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for e in entries {
            guard let pid = Int32(e), let comm = try? String(contentsOfFile: "/proc/\(e)/comm", encoding: .utf8) else { continue }
            if comm.trimmingCharacters(in: .whitespacesAndNewlines) == "beam.smp" { return pid }
        }
        return nil
    }
}
