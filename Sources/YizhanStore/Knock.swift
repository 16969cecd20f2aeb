import Foundation
import Synchronization

/// Tells a running gateway that something was stored for it to send, so that an idle gateway
/// need not look at its outbox a hundred times a second.
///
/// The store knocks after each commit that gives a gateway something to send (`enqueue`, a
/// clerk's act, a chase), whichever process made it: an empty datagram on a Unix socket in the
/// abstract namespace whose name derives from the store's path. The gateway listens
/// on its own thread, and a knock only wakes its send loop while that loop is idle (quiet for a
/// second); while documents flow, the loop looks every 10 ms and knocks change nothing, so rounds
/// keep their size (a knock that started a round per document was measured: smaller rounds, more
/// CPU per document, higher latency). A knock carries nothing and can only cause one extra look,
/// so any local process may send one.
public enum Knock {
    /// Knocks for one store: the name worked out and the socket made once, so that a knock after
    /// each commit costs one `sendto`.
    public final class Sender: Sendable {
        let socket: KnockSocket
        let name: [UInt8]

        public init(database: String) throws {
            socket = try KnockSocket()
            name = Knock.name(database)
        }

        /// Wakes the gateway of this store, if one runs and waits (nothing happens otherwise).
        public func knock() { socket.send(to: name) }
    }

    /// The prefix ("yizhan-knock-", or the hand-over's) and a 64-bit FNV-1a hash of the store's resolved path, in hex (a name, not a
    /// secret: it only has to be the same in every process that opens the store).
    static func name(_ database: String, prefix: String = "yizhan-knock-") -> [UInt8] {
        let resolved = realpath(database, nil).map { p in defer { free(p) }; return String(cString: p) } ?? database
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in resolved.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        let hex = String(h, radix: 16)
        return Array((prefix + String(repeating: "0", count: 16 - hex.count) + hex).utf8)
    }

    /// The gateway's side: a thread that waits for knocks and calls `knocked` for each.
    public final class Listener: Sendable {
        let socket: KnockSocket
        let name: [UInt8]
        let stopped = Atomic<Bool>(false)

        public init(database: String, knocked: @escaping @Sendable () -> Void) throws {
            socket = try KnockSocket()
            name = Knock.name(database)
            try socket.bind(name)
            // The thread holds the listener (and its socket) until `stop()` ends it.
            let t = Thread { [self] in
                // Wakes at least once a second to notice `stop()`.
                while !stopped.load(ordering: .acquiring) {
                    if socket.receive(timeoutMilliseconds: 1000), !stopped.load(ordering: .acquiring) { knocked() }
                }
            }
            t.name = "yizhan-knock"
            t.start()
        }

        /// The thread ends at once (it is knocked awake) and the socket closes with it.
        public func stop() {
            stopped.store(true, ordering: .releasing)
            if let s = try? KnockSocket() { s.send(to: name) }
        }
    }
}
