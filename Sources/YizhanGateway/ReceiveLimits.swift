import YizhanCore

/// What a receiving gateway accepts at most. A message: the largest chunk (16 MiB) plus an
/// envelope; anything larger is refused before it is parsed and only its head is kept.
public enum ReceiveLimits {
    public static let envelope = 1 << 20
    public static let message = TransferInfo.maximumChunk + envelope + 4096
    /// The sum of a document's declared part sizes.
    public static let documentBytes: Int = 64 << 30
    /// Bytes of an oversize message kept in quarantine as evidence.
    public static let keptOfOversize = 64 << 10
}
