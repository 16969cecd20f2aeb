#if canImport(Glibc)
import Glibc
#endif
import YizhanCore

/// The one place the knock's socket calls live: a Unix datagram socket in Linux's abstract
/// namespace (no file to leave behind or to clean up), owned by this class and closed in `deinit`.
final class KnockSocket: Sendable {
    let fd: Int32

    init() throws(YizhanError) {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw YizhanError(.configuration, "cannot create a knock socket (errno \(errno))") }
    }

    deinit { close(fd) }

    /// Binds to `name` (without the leading NUL of the abstract namespace).
    func bind(_ name: [UInt8]) throws(YizhanError) {
        let r = Self.withAddress(name) { Glibc.bind(fd, $0, $1) }
        guard r == 0 else {
            throw YizhanError(.configuration, errno == EADDRINUSE ? "another process already listens for this store's knocks" : "cannot bind the knock socket (errno \(errno))")
        }
    }

    /// One empty datagram to `name`; false when nobody listens (no gateway runs for this store).
    @discardableResult
    func send(to name: [UInt8]) -> Bool {
        Self.withAddress(name) { sendto(fd, nil, 0, Int32(MSG_DONTWAIT), $0, $1) } == 0
    }

    /// Waits for the next datagram, at most `timeoutMilliseconds`; true when one came.
    func receive(timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMilliseconds) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) >= 0
    }

    static func withAddress<T>(_ name: [UInt8], _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let n = min(name.count, MemoryLayout.size(ofValue: a.sun_path) - 1)
        withUnsafeMutableBytes(of: &a.sun_path) { p in
            p[0] = 0 // abstract namespace
            for i in 0..<n { p[i + 1] = name[i] }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + n)
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}
