#if canImport(Glibc)
import Glibc
#endif
import YizhanCore

extension DiskProbe {
    /// The probe's file, the one place it calls the C library: a descriptor closed in `deinit`.
    final class ProbeFile: Sendable {
        let fd: Int32
        let path: String

        /// Creates (or empties) `path` and writes `bytes` of zeros into it, flushed, so that the
        /// probe's writes later land on blocks already allocated, as a reused SQLite log's do.
        init(path: String, bytes: Int) throws(YizhanError) {
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw YizhanError(.configuration, "cannot create \(path) (errno \(errno))") }
            self.fd = fd
            self.path = path
            try write([UInt8](repeating: 0, count: bytes), at: 0)
            try flush()
        }

        deinit {
            close(fd)
            unlink(path)
        }

        func write(_ bytes: [UInt8], at offset: Int) throws(YizhanError) {
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { b -> Int in
                    guard let base = b.baseAddress else { return 0 }
                    return pwrite(fd, base + done, b.count - done, off_t(offset + done))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw YizhanError(.configuration, "cannot write \(path) (errno \(errno))")
                }
                done += n
            }
        }

        /// The data to the disk, as a WAL commit with `synchronous = FULL` does (`fdatasync`).
        func flush() throws(YizhanError) {
            while fdatasync(fd) != 0 {
                if errno == EINTR { continue }
                throw YizhanError(.configuration, "cannot flush \(path) (errno \(errno))")
            }
        }
    }
}
