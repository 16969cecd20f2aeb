import Foundation
import GRDB

/// Storage that fails for a while (disk full, I/O errors, a locked file) is not bad input: the
/// gateway holds what it is working on, waits and tries again rather than stopping or dropping it.
public enum StorageFailure {
    public static func isTransient(_ error: any Error) -> Bool {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_NOMEM: return true
            default: return false
            }
        }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain, [Int(ENOSPC), Int(EIO), Int(EDQUOT)].contains(ns.code) { return true }
        if let c = error as? CocoaError, c.code == .fileWriteOutOfSpace || c.code == .fileWriteUnknown { return true }
        return false
    }

    /// 0.25 s doubling to 10 s.
    public static func delay(attempt: Int) -> Duration { .milliseconds(Int(min(10_000.0, 250.0 * pow(2.0, Double(min(attempt, 8)))))) }
}
