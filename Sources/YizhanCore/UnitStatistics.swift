import Foundation

/// One unit's month, as its gateway counts it: what it handled electronically and on paper in
/// the three kinds of business the policy targets, and how promptly it signed for what it got.
/// The leadership group's assessment (考核评比) is computed from these.
public struct UnitStatistics: Codable, Sendable, Equatable {
    public struct Share: Codable, Sendable, Equatable {
        public var electronic: Int
        public var paper: Int
        public init(electronic: Int = 0, paper: Int = 0) { self.electronic = electronic; self.paper = paper }
        /// nil when nothing of the kind was handled at all.
        public var rate: Double? { electronic + paper == 0 ? nil : Double(electronic) / Double(electronic + paper) }
    }

    public var unit: String
    public var name: String
    /// YYYY-MM.
    public var period: String
    /// 公文交换: documents and meeting notices, sent and received.
    public var exchange: Share
    /// 信息报送: information reports sent and received.
    public var reporting: Share
    /// 请示和办理: requests and replies, sent and received.
    public var requests: Share
    /// Documents received in the period that it signed for, and the seconds each took.
    public var received: Int
    public var signedFor: Int
    public var signForSeconds: [Double]
    /// Of the received documents with a sign-for deadline: how many, and how many signed for in time.
    public var withDeadline: Int
    public var signedInTime: Int
    /// Documents it returned (退回), and its own documents others returned.
    public var returned: Int
    public var returnedByOthers: Int
    /// Received documents signed for late, or still unsigned past their deadline.
    public var overdue: Int

    public init(unit: String, name: String, period: String, exchange: Share = .init(), reporting: Share = .init(), requests: Share = .init(),
                received: Int = 0, signedFor: Int = 0, signForSeconds: [Double] = [], withDeadline: Int = 0, signedInTime: Int = 0,
                returned: Int = 0, returnedByOthers: Int = 0, overdue: Int = 0) {
        self.unit = unit; self.name = name; self.period = period; self.exchange = exchange; self.reporting = reporting; self.requests = requests
        self.received = received; self.signedFor = signedFor; self.signForSeconds = signForSeconds; self.withDeadline = withDeadline
        self.signedInTime = signedInTime; self.returned = returned; self.returnedByOthers = returnedByOthers; self.overdue = overdue
    }

    /// The month `text` names (YYYY-MM, 1949 or later), as [start, end) in UTC+8, the government's day.
    public static func period(_ text: String, now: Date = Date()) throws(YizhanError) -> (start: Date, end: Date) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 7, parts.count == 2, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let y = Int(parts[0]), let m = Int(parts[1]), (1...12).contains(m), y >= 1949 else {
            throw YizhanError(.invalidArgument, "--period must be a month YYYY-MM (e.g. 2026-11), not \(text)")
        }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt
        guard let start = cal.date(from: DateComponents(year: y, month: m, day: 1)),
              let end = cal.date(byAdding: .month, value: 1, to: start) else { throw YizhanError(.invalidArgument, "no such month \(text)") }
        guard start <= now else { throw YizhanError(.invalidArgument, "period \(text) has not begun") }
        return (start, end)
    }
}
