/// Bounds on everything a peer or client may send. Every decoder checks these before
/// allocating, so a hostile or corrupted stream cannot make a node allocate without limit.
public struct WireLimits: Sendable, Equatable {
    /// Whole frame, header included.
    public var maxFrameBytes: Int
    public var maxEntriesPerMessage: Int
    public var maxEntryBytes: Int
    public var maxSnapshotChunkBytes: Int
    public var maxVoters: Int
    public var maxMessagesPerBatch: Int
    /// Node names, member names, addresses.
    public var maxNameBytes: Int
    public var maxTokenBytes: Int
    /// Free-text reasons in refusals and client errors.
    public var maxReasonBytes: Int
    public var maxMembers: Int

    public init(
        maxFrameBytes: Int = 4 << 20,
        maxEntriesPerMessage: Int = 16_384,
        maxEntryBytes: Int = 2 << 20,
        maxSnapshotChunkBytes: Int = 2 << 20,
        maxVoters: Int = 255,
        maxMessagesPerBatch: Int = 1024,
        maxNameBytes: Int = 255,
        maxTokenBytes: Int = 1024,
        maxReasonBytes: Int = 1024,
        maxMembers: Int = 255
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.maxEntriesPerMessage = maxEntriesPerMessage
        self.maxEntryBytes = maxEntryBytes
        self.maxSnapshotChunkBytes = maxSnapshotChunkBytes
        self.maxVoters = maxVoters
        self.maxMessagesPerBatch = maxMessagesPerBatch
        self.maxNameBytes = maxNameBytes
        self.maxTokenBytes = maxTokenBytes
        self.maxReasonBytes = maxReasonBytes
        self.maxMembers = maxMembers
    }

    public static let `default` = WireLimits()
}
