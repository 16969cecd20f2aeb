import Foundation
import GRDB
import Testing
@testable import YizhanStore

/// Which failures the gateway waits out (disk full, I/O) and which are real errors.
@Suite struct StorageFailureTests {
    @Test func diskFullAndIOErrorsAreTransient() {
        #expect(StorageFailure.isTransient(DatabaseError(resultCode: .SQLITE_FULL, message: "database or disk is full", sql: "COMMIT TRANSACTION")))
        #expect(StorageFailure.isTransient(DatabaseError(resultCode: .SQLITE_IOERR_WRITE, message: "disk I/O error")))
        #expect(StorageFailure.isTransient(NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))))
        #expect(StorageFailure.isTransient(CocoaError(.fileWriteOutOfSpace)))
        #expect(!StorageFailure.isTransient(DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "CHECK constraint failed")))
        #expect(!StorageFailure.isTransient(CocoaError(.fileReadNoSuchFile)))
        #expect(StorageFailure.delay(attempt: 0) == .milliseconds(250) && StorageFailure.delay(attempt: 20) == .seconds(10))
    }
}
