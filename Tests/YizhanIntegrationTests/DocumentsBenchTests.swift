import Foundation
import Testing

extension BrokerTests {
    /// A small `yizhan bench documents` through real gateway processes and the real broker: not a
    /// timing (figures are never asserted against targets here), but proof that every figure the
    /// README quotes is measured: the throughput run delivers every document with its receipt, both
    /// latency runs store and time what they hand over, both baselines and the raw round trip run.
    @Test func documentsBenchMeasuresEveryFigure() async throws {
        try await TestBroker.requireRunning()
        let timings = NSTemporaryDirectory() + "yizhan-timings-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: timings) }
        let r = try runCLI(["bench", "documents", "--count", "300", "--size", "1024", "--paced", "1", "--timings", timings,
                            "--broker", TestBroker.amqpURL, "--broker-admin", TestBroker.adminURL])
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        let out = r.out
        #expect(out.contains("end to end: 300 documents in"), "\(out)")

        // Both latency runs: the second at half the 1,000/s target, each with documents stored and timed.
        let runs = out.matches(of: /latency at (half that rate|half the 1,000\/s target) \(([0-9]+) documents\/s asked, ([0-9]+) stored, handed over, ([0-9]+) documents\): p50 ([0-9.]+) ms, p95 ([0-9.]+) ms, p99 ([0-9.]+) ms/)
        #expect(runs.map { String($0.output.1) } == ["half that rate", "half the 1,000/s target"], "\(out)")
        for m in runs {
            let timed = Int(m.output.4) ?? 0
            let p50 = Double(m.output.5) ?? 0, p99 = Double(m.output.7) ?? 0
            #expect(timed > 0 && p50 > 0 && p99 >= p50, "\(m.output.0)")
        }
        #expect(runs.last.map { $0.output.2 == "500" } == true, "\(out)")
        // One second each: the second's p99 is the run's.
        let seconds = out.matches(of: /p99 second by second: ([0-9, ]+) ms; over 50 ms in ([0-9]+) of ([0-9]+) seconds/)
        #expect(seconds.count == 2, "\(out)")
        for (m, s) in zip(runs, seconds) {
            #expect(s.output.3 == "1" && s.output.1.split(separator: ",").count == 1, "\(s.output.0)")
            // The same value printed to 1 ms and to 0.1 ms (so within 0.55 of each other, whichever way each rounded).
            #expect(abs((Double(s.output.1) ?? -10) - (Double(m.output.7) ?? 10)) <= 0.55, "\(m.output.0) / \(s.output.0)")
            // Counted on the unrounded p99: a printed 50 may be either side of it.
            if let v = Double(s.output.1), v != 50 { #expect((s.output.2 == "1") == (v > 50), "\(s.output.0)") }
        }
        // --timings: a line per timed document of each run, its steps in the order they happen.
        let lines = try String(contentsOfFile: timings, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(lines.first?.joined(separator: ",") == "run,document,handed_over,stored,signed,confirmed,stored_at_receiver,receipt_confirmed,receipt_stored")
        let rows = lines.dropFirst()
        #expect(rows.allSatisfy { $0.count == 9 }, "\(rows.prefix(3))")
        #expect(Set(rows.map { $0[1] }).count == rows.count, "each document once")
        for (m, label) in zip(runs, ["half that rate", "half the 1,000/s target"]) {
            #expect(rows.filter { $0[0] == label.replacingOccurrences(of: ",", with: ";") }.count == Int(m.output.4), "\(label)")
        }
        for row in rows {
            let t = row.dropFirst(2).map { Double($0) ?? .nan }
            let (handed, stored, signed, atReceiver, receiptConfirmed, receiptStored) = (t[0], t[1], t[2], t[4], t[5], t[6])
            #expect(stored <= signed && atReceiver <= receiptConfirmed && handed < receiptStored, "\(row)")
        }
        // Each says how long it waited for the machine to go quiet (on a busy machine it may go on after 30 s, and says so).
        #expect(out.matches(of: /started [0-9.]+ s after (the throughput run|the run before), once (quiet|NOT quiet after 30 s, anyway)/).count == 2, "\(out)")
        #expect(out.matches(of: /beside them on this machine's [0-9]+ cores: (the local broker [0-9]+ %, )?this benchmark [0-9]+ % of a core/).count == 2, "\(out)")
        // The disk probe flushed during both runs and its figures are real numbers.
        let disks = out.matches(of: /the disk beside them: a 4 KiB write flushed \(fdatasync\) every 20 ms in the work folder took p50 ([0-9.]+) ms, p99 ([0-9.]+) ms, at most ([0-9.]+) \(([0-9]+) flushes\)/)
        #expect(disks.count == 2, "\(out)")
        for d in disks {
            let (p50, p99, most, n) = (Double(d.output.1) ?? -1, Double(d.output.2) ?? -1, Double(d.output.3) ?? -1, Int(d.output.4) ?? 0)
            #expect(n > 0 && p50 >= 0 && p99 >= p50 && most >= p99, "\(d.output.0)")
        }
        let slow = out.matches(of: /documents over 50 ms: ([0-9]+); of them under way while one of those flushes took over 10 ms: ([0-9]+)/)
        #expect(slow.count == 2 && slow.allSatisfy { (Int($0.output.2) ?? .max) <= (Int($0.output.1) ?? -1) }, "\(out)")

        // Per gateway: CPU and memory; then the two baselines, the raw round trip and the ratios.
        #expect(out.contains("gateway sender 1: CPU") && out.contains("gateway receiver 1: CPU"), "\(out)")
        let a = out.firstMatch(of: /baseline \(a\) raw broker, 600 persistent [0-9]+-byte messages.*: ([0-9]+) messages\/s/).flatMap { Int($0.output.1) } ?? 0
        let b = out.firstMatch(of: /baseline \(b\) the same, Ed25519 sign on publish and verify on consume: ([0-9]+) messages\/s/).flatMap { Int($0.output.1) } ?? 0
        #expect(a > 0 && b > 0, "\(out)")
        #expect(out.firstMatch(of: /baseline round trip at the paced rate \([0-9]+\/s, [1-9][0-9]* messages\)/) != nil, "\(out)")
        // What the raw round trip took of the same cores: its clients did work, so their share is not zero.
        let rawCPU = out.firstMatch(of: /while it ran: (the local broker [0-9]+ %, )?both its clients \(this benchmark\) ([0-9]+) % of a core/)
        #expect(rawCPU.map { (Int($0.output.2) ?? 0) > 0 } == true, "\(out)")
        #expect(out.firstMatch(of: /gateway \/ \(a\): [0-9.]+   gateway \/ \(b\): [0-9.]+/) != nil, "\(out)")
        try await TestBroker.requireRunning()
    }

    /// `--paced-rate` repeated: a latency run at each rate (and none at the default rates), then one
    /// line with each rate's p99 as its run printed it and the highest rate held under 50 ms,
    /// counted from those p99s; the timings file tells the runs apart.
    @Test func documentsBenchRunsEachGivenRate() async throws {
        try await TestBroker.requireRunning()
        let timings = NSTemporaryDirectory() + "yizhan-timings-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: timings) }
        let r = try runCLI(["bench", "documents", "--count", "100", "--size", "256", "--paced", "1", "--paced-rate", "60", "--paced-rate", "30",
                            "--timings", timings, "--broker", TestBroker.amqpURL, "--broker-admin", TestBroker.adminURL])
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        let out = r.out
        let runs = out.matches(of: /latency at given rate ([0-9]) of 2 \(([0-9]+) documents\/s asked, [0-9]+ stored, handed over, ([0-9]+) documents\): p50 [0-9.]+ ms, p95 [0-9.]+ ms, p99 ([0-9.]+) ms/)
        #expect(runs.map { "\($0.output.1):\($0.output.2)" } == ["1:60", "2:30"], "\(out)")
        #expect(!out.contains("half that rate") && !out.contains("half the 1,000/s target"), "\(out)")
        let p99 = Dictionary(uniqueKeysWithValues: runs.map { (String($0.output.2), String($0.output.4)) })
        // Sorted by rate, each p99 as its run printed it.
        let line = out.firstMatch(of: /p99 by rate: 30\/s ([0-9.]+) ms, 60\/s ([0-9.]+) ms; under 50 ms (up to ([0-9]+) documents\/s|at none) of the rates run/)
        #expect(line.map { String($0.output.1) == p99["30"] && String($0.output.2) == p99["60"] } == true, "\(out)")
        // Counted on the unrounded p99s: a printed 50.0 may be either side of 50.
        if let line, let low = Double(line.output.1), let high = Double(line.output.2), low != 50, high != 50 {
            let expected = low >= 50 ? nil : high >= 50 ? "30" : "60"
            #expect(line.output.4.map(String.init) == expected, "\(line.output.0)")
        }
        // The raw round trip runs at the first rate given.
        #expect(out.contains("baseline round trip at the paced rate (60/s,"), "\(out)")
        let labels = Set(try String(contentsOfFile: timings, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").first.map(String.init) ?? "" })
        #expect(labels == ["given rate 1 of 2", "given rate 2 of 2"], "\(labels)")
    }
}
