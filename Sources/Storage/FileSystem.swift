/// An open file, as handed out by a `FileSystem`. Only meaningful to the file system that
/// created it. Carries the path so every error can name the file.
public struct FileRef: Hashable, Sendable {
    /// File-system specific identifier (a descriptor for POSIX, a table slot for the simulator).
    public let id: Int64
    public let path: String

    public init(id: Int64, path: String) {
        self.id = id
        self.path = path
    }
}

/// The few operations a write-ahead log and a snapshot store need from a disk.
///
/// Writes only ever append (`write` goes to the end of the file); existing bytes change only
/// by `truncate`. Nothing written is durable until `syncData`/`sync` on the file returns, and a
/// create, rename or remove is durable only once `syncDirectory` on its directory returns.
/// All paths are absolute or relative to the process; directories are separated by "/".
public protocol FileSystem: AnyObject {
    /// Creates `path` (and missing parents). Succeeds if it already exists as a directory.
    func makeDirectory(_ path: String) throws(StorageError)
    /// Names (not paths) of the regular files in `path`, in no particular order.
    func listDirectory(_ path: String) throws(StorageError) -> [String]
    func fileExists(_ path: String) throws(StorageError) -> Bool
    func fileSize(_ path: String) throws(StorageError) -> Int64
    /// The whole file.
    func readFile(_ path: String) throws(StorageError) -> [UInt8]
    /// Up to `count` bytes from `offset` (fewer only at end of file).
    func readFile(_ path: String, offset: Int64, count: Int) throws(StorageError) -> [UInt8]
    /// Creates an empty file (replacing any existing one) and opens it for appending.
    func createFile(_ path: String) throws(StorageError) -> FileRef
    /// Opens an existing file for appending at its end.
    func openForAppend(_ path: String) throws(StorageError) -> FileRef
    /// Appends all of `bytes` to the file.
    func write(_ file: FileRef, _ bytes: [UInt8]) throws(StorageError)
    /// fdatasync: file contents (and the size needed to read them) durable.
    func syncData(_ file: FileRef) throws(StorageError)
    /// fsync: contents and all metadata durable.
    func sync(_ file: FileRef) throws(StorageError)
    func close(_ file: FileRef)
    /// Cuts the file at `size` bytes (never extends).
    func truncate(_ path: String, size: Int64) throws(StorageError)
    /// Atomically replaces `to` with `from` (same directory).
    func rename(_ from: String, to: String) throws(StorageError)
    func remove(_ path: String) throws(StorageError)
    /// Makes creates, renames and removes in the directory durable.
    func syncDirectory(_ path: String) throws(StorageError)
}

/// "dir/name", without doubling the separator.
@inlinable func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
