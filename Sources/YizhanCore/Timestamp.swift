import Foundation

/// RFC 3339 UTC timestamps with millisecond precision, the only form the wire uses.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        var f = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
        f.timeZone = .gmt
        return date.formatted(f)
    }

    public static func parse(_ text: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text) { return d }
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }
}
