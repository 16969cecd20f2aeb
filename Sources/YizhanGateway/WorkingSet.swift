import Foundation

/// An idle gateway gives back the memory it touched while starting up or working.
///
/// Why: the kernel counts a page of a shared library or of the `yizhan` binary in a process's
/// resident set once the process touches it, and maps the 64 KiB around every fault, so start-up
/// code that never runs again (argument parsing, migrations, the registry's first answer, the
/// HTTP client's TLS libraries) leaves whole libraries resident. Mapped executable pages are also
/// the last the kernel reclaims. After a quiet spell the gateway drops its mappings of clean file
/// pages — code and read-only data, never a page the process wrote (relocated data, heap,
/// stacks) — and returns the allocator's free memory to the kernel. The pages stay in the page
/// cache for every other process; what the idle gateway runs next maps itself in again with a
/// minor fault. This is what the kernel does itself under memory pressure, done at a moment when
/// the gateway knows it is idle.
enum WorkingSet {
    /// An address range `[start, end)` of this process's mappings.
    struct Region: Equatable, Sendable {
        var start: UInt
        var end: UInt
        var residentKiB: Int
    }

    /// What one trim did.
    struct Report: Sendable {
        /// Regions given back, their resident size before the trim, and regions the kernel refused.
        var regions: Int
        var releasedKiB: Int
        var refused: Int
        /// Whether the allocator returned free memory to the kernel.
        var heapReturned: Bool
    }

    /// The mappings in `smaps` (the text of `/proc/self/smaps`) whose resident pages are all clean
    /// pages of a loaded image: private, not writable, backed by `executable` or a shared object
    /// (an inode and a path whose file name has `.so`), with no anonymous (copied-on-write) page
    /// and not locked. Dropping such a mapping's pages loses nothing, since each is read back from
    /// the same file on its next use. A mapping that has a single written page (a relocated
    /// read-only segment, a debugger's breakpoint) is left whole.
    ///
    /// Only images, because they stay mapped for the life of the process (Swift's libraries are
    /// never unloaded): between reading smaps and dropping the pages no other thread can unmap the
    /// range and map its heap there, which `MADV_DONTNEED` would zero. Other read-only file
    /// mappings (a data file, a locale archive) are small here and could come and go.
    static func releasable(smaps: String, executable: String) -> [Region] {
        var out: [Region] = []
        var current: (region: Region, eligible: Bool)?
        func finish() {
            if let c = current, c.eligible, c.region.residentKiB > 0 { out.append(c.region) }
            current = nil
        }
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            if let header = mappingHeader(line, executable: executable) {
                finish()
                current = header
                continue
            }
            guard current != nil else { continue }
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0]
            let value = parts[1].split(separator: " ", omittingEmptySubsequences: true)
            switch key {
            case "Rss":
                current?.region.residentKiB = value.first.flatMap { Int($0) } ?? 0
            case "Anonymous", "Private_Dirty", "Shared_Dirty", "Swap":
                // Any page written or swapped makes the file's copy different from memory.
                if (value.first.flatMap { Int($0) } ?? 1) != 0 { current?.eligible = false }
            case "VmFlags":
                // Locked, I/O or pure-PFN mappings are not the kernel's to refault.
                if value.contains(where: { $0 == "lo" || $0 == "io" || $0 == "pf" || $0 == "dd" }) { current?.eligible = false }
            default:
                continue
            }
        }
        finish()
        return out
    }

    /// A header line is `start-end perms offset dev inode [path]`; anything else is a field line.
    static func mappingHeader(_ line: Substring, executable: String) -> (region: Region, eligible: Bool)? {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let range = fields[0].split(separator: "-")
        guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16), start < end else { return nil }
        let perms = Array(fields[1].utf8)
        guard perms.count == 4 else { return nil }
        let path = fields.count > 5 ? fields[5].drop(while: { $0 == " " }) : ""
        let name = path.split(separator: "/").last ?? ""
        let image = path == executable || name.hasSuffix(".so") || name.contains(".so.")
        let eligible = perms[1] != UInt8(ascii: "w") && perms[3] == UInt8(ascii: "p")
            && fields[4] != "0" && path.hasPrefix("/") && image
        return (Region(start: start, end: end, residentKiB: 0), eligible)
    }

    /// The file this process runs, as smaps names it.
    static let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path

    /// Reads this process's mappings, drops the clean file pages, trims the allocator.
    static func trim() -> Report {
        let regions = (try? Calls.readProcFile("/proc/self/smaps")).map { releasable(smaps: String(decoding: $0, as: UTF8.self), executable: executable) } ?? []
        var report = Report(regions: 0, releasedKiB: 0, refused: 0, heapReturned: false)
        for r in regions {
            if Calls.dropPages(r) {
                report.regions += 1
                report.releasedKiB += r.residentKiB
            } else {
                report.refused += 1
            }
        }
        report.heapReturned = Calls.returnFreeHeap()
        return report
    }
}
