import Raft

/// Whether a member starts as part of a new cluster or joins one that already has a
/// history (etcd's `--initial-cluster-state`). It matters only when the storage is empty.
public enum InitialClusterState: String, Sendable, CaseIterable {
    /// Bootstrap: every member starts empty together. The default.
    case new
    /// The cluster exists: an empty data directory means this member's disk was lost, so it
    /// starts in recovery (it votes only once it has caught up; docs/operations.md).
    case existing
}

/// The durable flag "this member is recovering from a lost disk": the file `recovering` in
/// the data directory. It outlives restarts, so a node that crashes while catching up (its
/// log then no longer empty) still does not vote until it has caught up. Written before the
/// core runs, removed once the core reports `recoveryFinished` (late removal only delays
/// voting, which is safe).
public struct RecoveryMarker {
    public static let fileName = "recovering"
    public let fileSystem: any FileSystem
    public let directory: String

    public init(fileSystem: any FileSystem, directory: String) {
        self.fileSystem = fileSystem
        self.directory = directory
    }

    var path: String { joinPath(directory, Self.fileName) }

    public func isSet() throws(StorageError) -> Bool {
        try fileSystem.fileExists(path)
    }

    /// Durable when it returns.
    public func set() throws(StorageError) {
        guard try !isSet() else { return }
        try writeFileAtomically(fileSystem, directory: directory, name: Self.fileName,
                                bytes: Array("lost storage; recovering from peers\n".utf8)) { _, _ in }
    }

    public func clear() throws(StorageError) {
        guard try isSet() else { return }
        try fileSystem.remove(path)
        try fileSystem.syncDirectory(directory)
    }

    /// Decides, before the core starts, whether this member starts in recovery, and makes
    /// that durable: an empty storage under `existing`, or a marker left by an earlier start.
    public func startsRecovering(storageEmpty: Bool, clusterState: InitialClusterState) throws(StorageError) -> Bool {
        if storageEmpty && clusterState == .existing { try set() }
        return try isSet()
    }
}

extension PersistentState {
    /// Nothing was ever stored: no term, no vote, no entry, no snapshot.
    public var isEmpty: Bool {
        hardState.term == 0 && hardState.vote == noNode && entries.isEmpty && snapshot == nil
    }
}
