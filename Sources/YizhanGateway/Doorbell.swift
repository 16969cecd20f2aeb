import Synchronization

/// Wakes the sending loop early (a receipt was queued, a document stored) instead of letting it
/// sleep out its poll interval. One waiter at a time.
final class Doorbell: Sendable {
    struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    let state = Mutex(State())

    func ring() {
        let w = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter { s.waiter = nil; return w }
            s.pending = true
            return nil
        }
        w?.resume()
    }

    /// Returns when rung or after `timeout`, whichever comes first.
    func wait(timeout: Duration) async {
        if state.withLock({ s in let p = s.pending; s.pending = false; return p }) { return }
        await withTaskGroup(of: Void.self) { g in
            g.addTask {
                try? await Task.sleep(for: timeout)
                self.ring()
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending { s.pending = false; return true }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
            g.cancelAll()
        }
        state.withLock { $0.pending = false }
    }
}
