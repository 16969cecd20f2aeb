#if canImport(Glibc)
import Glibc
#endif
import CGlibc
import YizhanCore

extension WorkingSet {
    /// The one place the working-set trim calls the C library.
    enum Calls {
        /// The whole of a file under `/proc`. Not Foundation's `String(contentsOfFile:)`: a `/proc`
        /// file reports a size of zero and Foundation returns only its first read (3,918 of 29,173
        /// bytes of a small program's smaps here), so it is read here until EOF.
        static func readProcFile(_ path: String) throws(YizhanError) -> [UInt8] {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw YizhanError(.configuration, "cannot open \(path) (errno \(errno))") }
            defer { close(fd) }
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw YizhanError(.configuration, "cannot read \(path) (errno \(errno))")
                }
                if n == 0 { return out }
                out.append(contentsOf: chunk[0..<n])
            }
        }

        /// Drops the process's page-table entries for a region of clean file pages; the next access
        /// maps the same page of the file again. False when the kernel refuses (a region that went
        /// away or was locked since it was read).
        static func dropPages(_ r: Region) -> Bool {
            guard let p = UnsafeMutableRawPointer(bitPattern: r.start) else { return false }
            return madvise(p, Int(r.end - r.start), MADV_DONTNEED) == 0
        }

        /// glibc's `malloc_trim`: free memory at the top of the heap and whole free pages inside the
        /// arenas go back to the kernel. True when some did.
        static func returnFreeHeap() -> Bool {
            malloc_trim(0) == 1
        }
    }
}
