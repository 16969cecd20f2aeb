import Testing
@testable import YizhanCore

@Suite struct ChunkFrameTests {
    @Test func roundTripsAndNamesItsPlace() throws {
        let id = UUIDv7.make()
        let f = ChunkFrame(document: id, part: 3, index: 70_000, sha256: Array(repeating: 0xAB, count: 32), data: Array(0..<200).map { UInt8($0) })
        let back = try ChunkFrame.decode(f.encoded())
        #expect(back == f)
        #expect(back.messageID == "\(id)/3/70000")
    }

    @Test func refusesWhatIsNotAChunk() {
        let good = ChunkFrame(document: UUIDv7.make(), part: 0, index: 0, sha256: Array(repeating: 1, count: 32), data: [1, 2, 3]).encoded()
        #expect(throws: YizhanError.self) { try ChunkFrame.decode(Array("YZF1....".utf8)) }
        #expect(throws: YizhanError.self) { try ChunkFrame.decode(Array(good.prefix(50))) }
        var badID = good
        badID[6] = UInt8(ascii: "Z")
        #expect(throws: YizhanError.self) { try ChunkFrame.decode(badID) }
        #expect(throws: YizhanError.self) { try ChunkFrame.decode([]) }
    }

    @Test func chunkCountsCoverEveryByteOnce() {
        let t = TransferInfo(chunkSize: 4096)
        #expect(t.chunks(of: 0) == 0)
        #expect(t.chunks(of: 1) == 1)
        #expect(t.chunks(of: 4096) == 1)
        #expect(t.chunks(of: 4097) == 2)
        #expect(t.chunks(of: 50 << 20) == 12_800)
    }
}

@Suite struct Base64URLTests {
    @Test func roundTripsEveryLength() {
        var rng = SystemRandomNumberGenerator()
        for n in 0..<70 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.encode(Array("hello".utf8)) == "aGVsbG8")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test func refusesWhatIsNotBase64URL() {
        for bad in ["a", "aGVsbG8=", "aGV+bG8", "aGV/bG8", "a b", "aGVsbG9", "aGVsbG8\u{00e9}", "===="] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
    }
}
