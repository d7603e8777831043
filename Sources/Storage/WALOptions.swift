/// Tunables for `WALStorage`. Defaults are documented in docs/storage.md.
public struct WALOptions: Sendable, Equatable {
    /// A segment is closed once it reaches this many bytes (a single larger record still fits
    /// alone). Default 64 MiB.
    public var segmentSize: Int = 64 << 20
    /// Largest record payload accepted on write or read. Default 16 MiB.
    public var maxRecordSize: Int = 16 << 20
    /// Entries kept in the log below a snapshot's index, so that a follower slightly behind can
    /// still be caught up from the log and an older snapshot can still be used if the newest
    /// is damaged. Whole segments entirely at or below `snapshotIndex - retainedTail` are deleted.
    /// Default 10,000.
    public var retainedTail: UInt64 = 10_000
    /// Snapshot files kept (newest first). Default 3; at least 1.
    public var snapshotRetention: Int = 3
    /// Largest snapshot payload accepted on write or read. Default 1 GiB.
    public var maxSnapshotSize: Int = 1 << 30
    /// Appended bytes buffered in memory before they are written (not synced) to the file.
    /// Default 1 MiB.
    public var writeBufferSize: Int = 1 << 20

    public init() {}

    /// The largest `Entry.data` that fits in one record.
    public var maxEntryDataSize: Int { maxRecordSize - WALRecord.entryFixedSize }

    func validate() {
        precondition(segmentSize >= 256, "segmentSize must be at least 256")
        precondition(maxRecordSize >= 64 && maxRecordSize <= Int(UInt32.max), "maxRecordSize out of range")
        precondition(snapshotRetention >= 1, "snapshotRetention must be at least 1")
        precondition(maxSnapshotSize >= 0, "maxSnapshotSize must be non-negative")
        precondition(writeBufferSize >= 0, "writeBufferSize must be non-negative")
    }
}
