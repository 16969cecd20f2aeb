import Foundation

/// A document number (发文字号) per GB/T 9704-2012 §7.2.4: issuer code (机关代字), the full year in
/// hexagonal brackets 〔〕, a serial without leading zeros, then 号 — e.g. `武建〔2007〕242号`.
public struct DocumentNumber: Sendable, Equatable {
    public let issuer: String
    public let year: Int
    public let serial: Int

    public init(_ text: String) throws(YizhanError) {
        func bad(_ why: String) -> YizhanError { YizhanError(.invalidDocumentNumber, "document number \(text): \(why) (expected e.g. 武建〔2007〕242号)") }
        guard let open = text.firstIndex(of: "〔") else {
            if text.contains("[") || text.contains("【") || text.contains("(") || text.contains("（") {
                throw bad("the year goes in hexagonal brackets 〔〕 (U+3014, U+3015), not [] 【】 or ()")
            }
            throw bad("no year in 〔〕")
        }
        guard let close = text.firstIndex(of: "〕"), open < close else { throw bad("unclosed 〔") }
        let issuer = String(text[..<open])
        guard !issuer.isEmpty, issuer.count <= 20, issuer.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw bad("the issuer code must be 1 to 20 letters")
        }
        let yearText = String(text[text.index(after: open)..<close])
        guard yearText.count == 4, yearText.allSatisfy(\.isASCII), let year = Int(yearText) else { throw bad("the year must be four digits, in full") }
        guard (1949...2100).contains(year) else { throw bad("year \(year) is out of range") }
        let rest = text[text.index(after: close)...]
        guard rest.hasSuffix("号") else { throw bad("it must end with 号") }
        let serialText = String(rest.dropLast())
        guard !serialText.isEmpty, serialText.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw bad("the serial must be digits") }
        guard !serialText.hasPrefix("0") else { throw bad("the serial has no leading zeros (编号不编虚位)") }
        guard serialText.count <= 9, let serial = Int(serialText) else { throw bad("the serial is too long") }
        self.issuer = issuer
        self.year = year
        self.serial = serial
    }
}
