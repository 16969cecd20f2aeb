import Foundation
import Testing
import YizhanCore

extension BrokerTests {
    /// The CI-sized run of `yizhan bench faults` (Deploy/faults.sh runs 10,000): a stream of
    /// documents through two gateway processes with the broker restarted, each gateway SIGKILLed
    /// five times, every connection closed and the receiver's disk full for a while; the harness
    /// itself checks exactly-once delivery and every receipt, and exits non-zero otherwise.
    @Test func documentsSurviveFaultsExactlyOnce() async throws {
        try await TestBroker.requireRunning()
        let r = try runCLI(["bench", "faults", "--documents", "800", "--rate", "160", "--seed", "\(UInt64.random(in: 1...1_000_000))",
                            "--disk-full-seconds", "3"])
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        #expect(r.out.contains("exactly once: yes"), "\(r.out)")
        #expect(r.out.contains("stuck in an outbox:                 0"), "\(r.out)")
        for fault in ["SIGKILL sender", "SIGKILL receiver", "broker restart", "broker closes all connections", "receiver's disk full"] {
            #expect(r.out.contains(fault), "\(fault) did not happen:\n\(r.out)")
        }
        // The disk really was full for B: it logged the failures and waited them out.
        let retried = r.out.firstMatch(of: /B met it (\d+) times/).flatMap { Int($0.output.1) } ?? 0
        #expect(retried > 0, "\(r.out)")
        try await TestBroker.requireRunning()
    }
}

extension BrokerTests {
    /// A real three-node cluster on this machine (Deploy/cluster.sh), gateways given every node:
    /// mid-stream one node is stopped, later the node leading the receiver's quorum queue, besides
    /// the kills, the closed connections and the full disk. No document lost, none duplicated.
    @Test func clusterNodesGoDownAndNothingIsLostOrDuplicated() async throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        /// Runs Deploy/cluster.sh with its output in a file and its exit status written by the
        /// shell: the nodes it starts detach, and Foundation's Process can miss the script's exit then.
        func cluster(_ args: String...) async throws -> (Int32, String) {
            let tag = NSTemporaryDirectory() + "yizhan-cluster-" + UUIDv7.make()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", "bash \"$0\" \"$@\" > '\(tag).log' 2>&1 < /dev/null; echo $? > '\(tag).tmp' && mv '\(tag).tmp' '\(tag).rc'",
                           repo.appendingPathComponent("Deploy/cluster.sh").path] + args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            try await eventually("cluster.sh \(args.joined(separator: " ")) to finish", timeout: .seconds(600)) { FileManager.default.fileExists(atPath: tag + ".rc") }
            let rc = Int32((try String(contentsOfFile: tag + ".rc", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            let text = (try? String(contentsOfFile: tag + ".log", encoding: .utf8)) ?? ""
            for ext in [".rc", ".log"] { try? FileManager.default.removeItem(atPath: tag + ext) }
            return (rc, text)
        }
        let started = try await cluster("start")
        #expect(started.0 == 0, "\(started.1)")
        guard started.0 == 0 else { return }
        let r = try runCLI(["bench", "faults", "--cluster", "--documents", "600", "--rate", "150", "--seed", "\(UInt64.random(in: 1...1_000_000))",
                            "--disk-full-seconds", "2"])
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        #expect(r.out.contains("exactly once: yes"), "\(r.out)")
        #expect(r.out.contains("cluster node stopped") && r.out.contains("node leading the receiver's queue stopped"), "\(r.out)")
        let stopped = try await cluster("stop")
        #expect(stopped.0 == 0, "\(stopped.1)")
    }
}
