import Raft

/// Snapshot files in a directory: written atomically, validated on read, pruned to the newest
/// `retention` files.
public struct SnapshotStore {
    public let fileSystem: any FileSystem
    public let directory: String
    /// Files kept by `prune`, newest first. Invariant: >= 1.
    public let retention: Int
    /// Largest `Snapshot.data` written or read.
    public let maxDataSize: Int

    public init(fileSystem: any FileSystem, directory: String, retention: Int = 3, maxDataSize: Int = 1 << 30) {
        precondition(retention >= 1, "snapshot retention must be at least 1")
        precondition(maxDataSize >= 0, "maxDataSize must be non-negative")
        self.fileSystem = fileSystem
        self.directory = directory
        self.retention = retention
        self.maxDataSize = maxDataSize
    }

    /// Durable when it returns.
    public func save(_ snapshot: Snapshot) throws(StorageError) {
        let m = snapshot.metadata
        guard m.index >= 1, m.term >= 1 else { throw .invalidArgument("snapshot index and term must be >= 1") }
        guard !m.config.voters.isEmpty, m.config.voters.count <= SnapshotFile.maxVoters,
              !m.config.voters.contains(noNode) else {
            throw .invalidArgument("snapshot config needs 1...\(SnapshotFile.maxVoters) non-zero voters")
        }
        guard snapshot.data.count <= maxDataSize else {
            throw .invalidArgument("snapshot of \(snapshot.data.count) bytes exceeds the limit \(maxDataSize)")
        }
        let name = SnapshotFileName(index: m.index, term: m.term).fileName
        let limit = maxDataSize
        try writeFileAtomically(fileSystem, directory: directory, name: name, bytes: SnapshotFile.encode(snapshot)) {
            (bytes, path) throws(StorageError) in
            let back = try SnapshotFile.decode(bytes, path: path, maxDataSize: limit)
            guard back == snapshot else {
                throw StorageError.corrupt(path: path, offset: 0, reason: "snapshot read back differs from the one written")
            }
        }
    }

    /// Snapshot files present, newest (highest index, then term) first. Unparseable names are ignored.
    public func list() throws(StorageError) -> [(index: LogIndex, term: Term, path: String)] {
        try fileSystem.listDirectory(directory)
            .compactMap { SnapshotFileName.parse($0) }
            .sorted { ($0.index, $0.term) > ($1.index, $1.term) }
            .map { (index: $0.index, term: $0.term, path: joinPath(directory, $0.fileName)) }
    }

    /// Reads and validates one file; its contents must agree with its name.
    public func read(path: String) throws(StorageError) -> Snapshot {
        let bytes = try fileSystem.readFile(path)
        let s = try SnapshotFile.decode(bytes, path: path, maxDataSize: maxDataSize)
        let name = String(path.split(separator: "/").last ?? "")
        if let parsed = SnapshotFileName.parse(name), parsed.index != s.metadata.index || parsed.term != s.metadata.term {
            throw StorageError.corrupt(path: path, offset: 8, reason: "snapshot contents (index \(s.metadata.index), term \(s.metadata.term)) do not match the file name")
        }
        return s
    }

    /// Deletes all but the newest `retention` files. Returns the deleted paths.
    @discardableResult
    public func prune() throws(StorageError) -> [String] {
        let all = try list()
        guard all.count > retention else { return [] }
        let doomed = all[retention...].map(\.path)
        for p in doomed { try fileSystem.remove(p) }
        try fileSystem.syncDirectory(directory)
        return doomed
    }
}
