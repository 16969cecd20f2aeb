import Foundation

/// A one-line progress bar for large sends and fetches, drawn only when stdout is a terminal
/// (scripts and pipes get the plain result lines and nothing else).
final class ProgressBar {
    let label: String
    let total: Int
    let enabled: Bool
    var lastDrawn = -1

    init(label: String, total: Int, enabled: Bool = isatty(STDOUT_FILENO) == 1) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled && total > 0
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let pct = min(100, done * 100 / total)
        guard pct != lastDrawn else { return }
        lastDrawn = pct
        let width = 30
        let filled = pct * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardOutput.write(Data("\r\(label) [\(bar)] \(pct)%".utf8))
    }

    func finish() {
        guard enabled, lastDrawn >= 0 else { return }
        update(total)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}
