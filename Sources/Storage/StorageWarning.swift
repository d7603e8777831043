/// Something recovery repaired or skipped that an operator should know about (a torn tail cut
/// off, a corrupt old snapshot ignored, a leftover temp file removed). Never silent.
public struct StorageWarning: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// Byte offset in `path` the warning is about; -1 when it concerns the whole file.
    public var offset: Int64
    public var message: String

    public init(path: String, offset: Int64, message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }

    public var description: String {
        offset >= 0 ? "\(path) at offset \(offset): \(message)" : "\(path): \(message)"
    }
}
