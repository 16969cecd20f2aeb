import Foundation
import Synchronization
import YizhanCrypto

/// Certificates whose chain to the registry CA was verified, so that each signer's chain is
/// checked once rather than on every message. An entry holds only while the certificate's own
/// validity period does; the cache is bounded and cleared whole when full.
final class ChainCache: Sendable {
    struct Entry { var notBefore: Date; var notAfter: Date }
    let entries = Mutex<[String: Entry]>([:])

    func isValid(_ cert: Certificate, at now: Date = Date()) -> Bool {
        guard let e = entries.withLock({ $0[cert.fingerprint] }) else { return false }
        return e.notBefore <= now && now <= e.notAfter
    }

    func remember(_ cert: Certificate) {
        guard let from = cert.notBefore, let until = cert.notAfter else { return }
        entries.withLock { m in
            if m.count >= 4096 { m.removeAll(keepingCapacity: true) }
            m[cert.fingerprint] = Entry(notBefore: from, notAfter: until)
        }
    }
}
