import Testing
@testable import YizhanCore

@Suite struct DocumentMetadataTests {
    @Test func documentNumbersFollowGBT9704() throws {
        let n = try DocumentNumber("武建〔2007〕242号")
        #expect(n.issuer == "武建" && n.year == 2007 && n.serial == 242)
        #expect(try DocumentNumber("国办发〔2026〕1号").serial == 1)
        let bad: [(String, String)] = [
            ("武建[2007]242号", "hexagonal brackets"), ("武建【2007】242号", "hexagonal brackets"), ("武建〔07〕242号", "four digits"),
            ("武建〔2007〕042号", "leading zeros"), ("武建〔2007〕242", "号"), ("〔2007〕242号", "issuer code"), ("武建2007242号", "〔〕"),
            ("武建〔1900〕1号", "out of range"), ("武建〔2007〕号", "digits"), ("武建〔二〇〇七〕1号", "four digits"),
        ]
        for (text, why) in bad {
            do {
                _ = try DocumentNumber(text)
                Issue.record("\(text) accepted")
            } catch {
                #expect(error.code == .invalidDocumentNumber)
                #expect(error.message.contains(why), "\(text): \(error.message)")
            }
        }
    }

    @Test func documentRules() throws {
        try DocumentInfo(title: "关于…的请示", number: "武建〔2026〕3号", type: "请示", signer: "张三", classification: "非涉密",
                         dateWritten: "2026-11-30", attachments: ["1. 名单"], printedOn: "2026-12-01").validate()
        let cases: [(DocumentInfo, YizhanError.Code)] = [
            (DocumentInfo(title: "t", classification: "秘密"), .classified),
            (DocumentInfo(title: "t", classification: "机密"), .classified),
            (DocumentInfo(title: "t", type: "请示"), .invalidDocument),
            (DocumentInfo(title: "t", type: "报告", signer: "  "), .invalidDocument),
            (DocumentInfo(title: "t", type: "便函"), .invalidDocument),
            (DocumentInfo(title: "t", urgency: "急"), .invalidDocument),
            (DocumentInfo(title: "t", dateWritten: "2026-13-40"), .invalidDocument),
            (DocumentInfo(title: "t", number: "武建〔2026〕01号"), .invalidDocumentNumber),
        ]
        for (info, code) in cases {
            do {
                try info.validate()
                Issue.record("\(info) accepted")
            } catch {
                #expect(error.code == code, "\(info): \(error)")
            }
        }
    }
}
