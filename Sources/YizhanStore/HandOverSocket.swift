#if canImport(Glibc)
import Glibc
#endif
import YizhanCore

/// The one place the hand-over's socket calls live (see `HandOver`): a Unix stream socket in
/// Linux's abstract namespace, owned by this class and closed in `deinit`. Nothing above it sees a
/// descriptor or a pointer.
final class HandOverSocket: Sendable {
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    static func stream() throws(YizhanError) -> HandOverSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw YizhanError(.configuration, "cannot create a hand-over socket (errno \(errno))") }
        return HandOverSocket(fd: fd)
    }

    deinit { close(fd) }

    /// Listens on `name` (without the abstract namespace's leading NUL).
    static func listening(on name: [UInt8]) throws(YizhanError) -> HandOverSocket {
        let s = try stream()
        guard KnockSocket.withAddress(name, { bind(s.fd, $0, $1) }) == 0 else {
            throw YizhanError(.configuration, errno == EADDRINUSE ? "another process already takes documents for this store" : "cannot bind the hand-over socket (errno \(errno))")
        }
        guard listen(s.fd, 64) == 0 else { throw YizhanError(.configuration, "cannot listen on the hand-over socket (errno \(errno))") }
        return s
    }

    /// Connects to `name`; nil when nobody listens there (no gateway runs for this store).
    static func connected(to name: [UInt8]) throws(YizhanError) -> HandOverSocket? {
        let s = try stream()
        guard KnockSocket.withAddress(name, { connect(s.fd, $0, $1) }) == 0 else {
            if errno == ECONNREFUSED || errno == ENOENT { return nil }
            throw YizhanError(.remote, "cannot reach the gateway's hand-over socket (errno \(errno))")
        }
        return s
    }

    /// Waits at most `timeoutMilliseconds` for a connection; nil when none came.
    func accept(timeoutMilliseconds: Int32) -> HandOverSocket? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMilliseconds) == 1 else { return nil }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { return nil }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        return HandOverSocket(fd: c)
    }

    /// The connecting process's user id (`SO_PEERCRED`, set by the kernel, not by the peer).
    var peerUID: UInt32? {
        // struct ucred's layout (socket(7)); Glibc's module declares it only under _GNU_SOURCE.
        struct Credentials { var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0 }
        var cred = Credentials()
        var len = socklen_t(MemoryLayout<Credentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0, Int(len) == MemoryLayout<Credentials>.size else { return nil }
        return cred.uid
    }

    static var ownUID: UInt32 { geteuid() }

    /// Bounds how long a read may wait (0: no bound).
    func setReceiveTimeout(milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads exactly `count` bytes; nil when the peer closed the connection first (or a read failed).
    func read(exactly count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { p in recv(fd, p.baseAddress! + got, count - got, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        return out
    }

    func write(_ bytes: [UInt8]) throws(YizhanError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { p in Glibc.send(fd, p.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw YizhanError(.remote, "the hand-over connection broke (errno \(errno))") }
            sent += n
        }
    }

    /// Writes all of `bytes` at once or nothing useful: false when the peer's buffer could not take
    /// them without waiting (the stream is then out of step and should be hung up).
    func writeWithoutWaiting(_ bytes: [UInt8]) -> Bool {
        while true {
            let n = bytes.withUnsafeBytes { p in Glibc.send(fd, p.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n < 0, errno == EINTR { continue }
            return n == bytes.count
        }
    }

    /// Ends both directions at once: a thread blocked reading this socket wakes up.
    func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
