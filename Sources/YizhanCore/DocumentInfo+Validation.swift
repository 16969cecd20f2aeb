import Foundation

extension DocumentInfo {
    /// The GB/T 9704 rules a sender must meet and a receiver checks again.
    public func validate() throws(YizhanError) {
        if let c = classification, c != Self.nonClassified {
            throw YizhanError(.classified, "classified documents (\(c)) are not carried by this system; only \(Self.nonClassified) documents are")
        }
        if let n = number { _ = try DocumentNumber(n) }
        if let t = type, !Self.documentTypes.contains(t) {
            throw YizhanError(.invalidDocument, "document type \(t) is not one of \(Self.documentTypes.joined(separator: " "))")
        }
        if let u = urgency, !Self.urgencies.contains(u) { throw YizhanError(.invalidDocument, "urgency must be 特急 or 加急, not \(u)") }
        if let t = type, Self.upwardTypes.contains(t), (signer ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw YizhanError(.invalidDocument, "a \(t) is an upward document and needs its signer (签发人)")
        }
        for (field, value) in [("dateWritten", dateWritten), ("printedOn", printedOn)] {
            if let v = value, Timestamp.parse(v + "T00:00:00Z") == nil || v.count != 10 {
                throw YizhanError(.invalidDocument, "\(field) must be a date YYYY-MM-DD, not \(v)")
            }
        }
    }
}
