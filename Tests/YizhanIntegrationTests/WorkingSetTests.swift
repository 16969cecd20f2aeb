import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import YizhanGateway

/// The idle trim drops only pages that the file can give back unchanged.
@Suite struct WorkingSetTests {
    static let sample = """
    55d0a0000000-55d0a1000000 r-xp 00010000 08:01 1234 /usr/bin/yizhan
    Size:              16384 kB
    Rss:                8576 kB
    Private_Dirty:         0 kB
    Anonymous:             0 kB
    Swap:                  0 kB
    VmFlags: rd ex mr mw me
    55d0a1000000-55d0a1075000 r--p 01000000 08:01 1234 /usr/bin/yizhan
    Rss:                 468 kB
    Private_Dirty:       468 kB
    Anonymous:           468 kB
    VmFlags: rd mr mw me ac
    55d0a1075000-55d0a1100000 rw-p 01075000 08:01 1234 /usr/bin/yizhan
    Rss:                 400 kB
    Anonymous:             0 kB
    VmFlags: rd wr mr mw me ac
    55d0a2000000-55d0a2010000 r--p 00000000 08:01 77 /usr/share/zoneinfo/Asia/Shanghai
    Rss:                  64 kB
    Anonymous:             0 kB
    7f0000000000-7f0000100000 r--p 00000000 08:01 99 /usr/lib/libcrypto.so.3
    Rss:                 788 kB
    Private_Dirty:         0 kB
    Anonymous:             0 kB
    VmFlags: rd mr mw me
    7f0000100000-7f0000200000 r-xp 00000000 08:01 100 /usr/lib/locked.so
    Rss:                  64 kB
    Anonymous:             0 kB
    VmFlags: rd ex mr mw me lo
    7f0000200000-7f0000300000 r--s 00000000 08:01 101 /usr/share/data.bin
    Rss:                  64 kB
    Anonymous:             0 kB
    VmFlags: rd sh mr mw me
    7f0000300000-7f0000400000 r-xp 00000000 08:01 102 /usr/lib/untouched.so
    Rss:                   0 kB
    Anonymous:             0 kB
    7f0000400000-7f0000500000 r-xp 00000000 00:00 0
    Rss:                  64 kB
    Anonymous:            64 kB
    7f0000500000-7f0000600000 r-xp 00000000 08:01 103 /usr/lib/patched.so
    Rss:                  64 kB
    Anonymous:             4 kB
    7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
    Rss:                   8 kB
    Anonymous:             0 kB
    """

    /// Code and read-only data of the executable and shared objects, touched and clean: yes. Other
    /// files, written (relocated) read-only data, writable data, locked, shared, untouched,
    /// anonymous, patched and kernel mappings: no.
    @Test func onlyCleanPrivateReadOnlyImagePagesAreReleasable() {
        let r = WorkingSet.releasable(smaps: Self.sample, executable: "/usr/bin/yizhan")
        #expect(r == [
            .init(start: 0x55d0_a000_0000, end: 0x55d0_a100_0000, residentKiB: 8576),
            .init(start: 0x7f00_0000_0000, end: 0x7f00_0010_0000, residentKiB: 788),
        ])
        // Run by another program, the same binary's pages are not an image of this process.
        #expect(WorkingSet.releasable(smaps: Self.sample, executable: "/usr/bin/other") == [
            .init(start: 0x7f00_0000_0000, end: 0x7f00_0010_0000, residentKiB: 788),
        ])
    }

    /// In this very process: a private mapping of a shared object written and then made read-only
    /// (what the dynamic linker does to relocated data) keeps what was written; a clean read-only
    /// mapping of it loses its resident pages and reads the same bytes afterwards; a clean mapping
    /// of a file that is not an image keeps its pages.
    @Test func aTrimKeepsWrittenPagesAndDropsCleanOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let size = 256 * 1024
        let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let path = dir.appendingPathComponent("libprobe.so").path
        let dataPath = dir.appendingPathComponent("pages.bin").path
        #expect(FileManager.default.createFile(atPath: dataPath, contents: Data(content)))
        let dataFd = open(dataPath, O_RDONLY)
        #expect(dataFd >= 0)
        defer { close(dataFd) }
        let data = try #require(mmap(nil, size, PROT_READ, MAP_PRIVATE, dataFd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(data, size) }
        for off in stride(from: 0, to: size, by: 4096) { _ = data.load(fromByteOffset: off, as: UInt8.self) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }

        let written = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(written, size) }
        written.storeBytes(of: 0xEE, toByteOffset: 4096 + 7, as: UInt8.self)
        #expect(mprotect(written, size, PROT_READ) == 0)

        let clean = try #require(mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(clean, size) }
        var sum = 0
        for off in stride(from: 0, to: size, by: 4096) { sum &+= Int(clean.load(fromByteOffset: off, as: UInt8.self)) }

        #expect(try residentKiB(of: clean) > 0)
        let dataResident = try residentKiB(of: data)
        #expect(dataResident > 0)
        let report = WorkingSet.trim()
        #expect(report.regions > 0 && report.releasedKiB > 0)
        #expect(try residentKiB(of: clean) == 0, "the clean mapping's pages were dropped")
        #expect(try residentKiB(of: data) == dataResident, "a mapping of a data file was left alone")
        #expect(written.load(fromByteOffset: 4096 + 7, as: UInt8.self) == 0xEE, "the written page survived")
        #expect(written.load(fromByteOffset: 4096 + 8, as: UInt8.self) == content[4096 + 8])
        var again = 0
        for off in stride(from: 0, to: size, by: 4096) { again &+= Int(clean.load(fromByteOffset: off, as: UInt8.self)) }
        #expect(again == sum, "the dropped pages read back the file's bytes")
    }

    /// The resident size of the mapping starting at `p`, from this process's smaps.
    func residentKiB(of p: UnsafeMutableRawPointer) throws -> Int {
        let smaps = String(decoding: try WorkingSet.Calls.readProcFile("/proc/self/smaps"), as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let header = WorkingSet.mappingHeader(line, executable: "") {
                inside = header.region.start == UInt(bitPattern: p)
            } else if inside, line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
            }
        }
        throw CocoaError(.fileReadUnknown)
    }
}
