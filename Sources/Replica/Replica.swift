import Codec
import KV
import Raft
import Storage

/// What `process` reports about the log, so the client-request service (which tracks who
/// proposed what) can resolve its requests. Reported in log order, on the replica's thread.
public enum ReplicaEvent: Sendable, Equatable {
    /// The entry at `index` (written in `term`) was applied; `result` is nil for entries that
    /// carry no client command (leader no-ops).
    case applied(index: LogIndex, term: Term, result: KVResult?)
    /// This follower's log was rewritten from `index` on by a new leader: entries there may
    /// have changed term, so proposals made there may never apply.
    case replaced(from: LogIndex)
    /// The state machine was replaced by a snapshot through `index`: whether a proposal at or
    /// below it was applied is unknown here.
    case restored(through: LogIndex)
}

/// A local snapshot to encode and make durable, possibly on another thread: `state` is a
/// copy of the state machine at `metadata.index` (a value type, so the copy is cheap and the
/// replica keeps applying meanwhile). Whoever runs it hands the result to
/// `Replica.completeSnapshot` on the replica's own thread.
public struct SnapshotJob: Sendable {
    public let metadata: SnapshotMetadata
    public let state: KVStateMachine

    /// The snapshot's bytes (the expensive part: run it off the replica's thread).
    public func encode() -> Snapshot {
        Snapshot(metadata: metadata, data: state.snapshotBytes())
    }

    /// Encodes the snapshot and writes its file with `store` (durable on return).
    public func run(writingWith store: SnapshotStore) -> Result<Snapshot, StorageError> {
        let snapshot = encode()
        do {
            try store.save(snapshot)
            return .success(snapshot)
        } catch {
            return .failure(error)
        }
    }
}

/// Makes local snapshots durable off the replica's thread: kvd's background writer, the
/// simulator's delayed disk. `start` must return at once; when the job is done the host calls
/// `Replica.completeSnapshot` with its result, on the replica's thread. At most one job is
/// out at a time.
public protocol SnapshotWorker: AnyObject {
    func start(_ job: SnapshotJob)
}

/// One replica's logic minus I/O: it drives the Raft core, persists through a
/// `RaftStorage`, applies committed entries to the KV state machine and resolves client
/// requests. The simulator and the kvd server both run exactly this code; only the
/// storage, the network and the clock behind it differ.
public final class Replica {
    public struct Options: Sendable {
        /// Take a state-machine snapshot and compact the log every this many applied entries (0: never).
        public var snapshotEvery: UInt64 = 10_000
        /// ... or once this many payload bytes were applied since the last snapshot (0: never).
        public var snapshotBytes: Int = 64 << 20
        /// Entries kept after a snapshot for followers that lag a little.
        public var retainedTail: UInt64 = 1_000
        /// Size of the client-session table (docs/protocol.md, "Sessions").
        public var sessionLimits = SessionLimits()
        public init() {}
    }

    public private(set) var node: RaftNode
    public let storage: RaftStorage
    public private(set) var kv: KVStateMachine
    public let options: Options
    /// Payload bytes applied since the last snapshot (for `snapshotBytes`).
    private var bytesSinceSnapshot = 0
    /// Applied (index, term, request) in order, for observers such as invariant checkers.
    public var onApply: ((Entry) -> Void)?
    /// Role, term and leader changes, for logs.
    public var onSoftState: ((SoftState) -> Void)?
    /// A committed normal entry whose payload did not decode: it is skipped (applied as a
    /// no-op on every replica alike, so the replicas stay equal), counted here and reported
    /// through `onUndecodableEntry`. Only a bug or a foreign writer can cause it, because
    /// every payload was encoded by `LogCommand.encode`: the simulator traps on it, kvd logs
    /// an error and shows the count in status.
    public private(set) var undecodableEntries: UInt64 = 0
    public var onUndecodableEntry: ((Entry, DecodeError) -> Void)?
    /// Runs local snapshots off the replica's thread. Nil: snapshots are encoded and saved
    /// inline (`storage.saveSnapshot`), stalling the replica for as long as that takes.
    public var snapshotWorker: (any SnapshotWorker)?
    /// A snapshot job is out; no other starts until `completeSnapshot`.
    public private(set) var snapshotInFlight = false
    /// Events the core reports for the operator's log (a follower lost entries, recovery).
    public var onEvent: ((RaftEvent) -> Void)?
    /// The durable "recovering from a lost disk" flag, when the host keeps one.
    public let recoveryMarker: RecoveryMarker?
    /// The storage held nothing at all when this replica opened it.
    public let startedEmpty: Bool

    /// Opens a replica from whatever `storage` holds (a fresh directory is an empty state).
    /// With a `recoveryMarker`, the replica starts in recovery (`RaftConfig.recovering`) when
    /// the storage is empty but the cluster is `existing`, or when an earlier start left the
    /// marker; the marker is made durable before the core runs and removed once it caught up.
    public init(config: RaftConfig, storage: RaftStorage, seed: UInt64, options: Options = Options(),
                recoveryMarker: RecoveryMarker? = nil, clusterState: InitialClusterState = .new) throws(StorageError) {
        let state = try storage.load()
        self.storage = storage
        self.options = options
        self.recoveryMarker = recoveryMarker
        self.startedEmpty = state.isEmpty
        var config = config
        if config.voters.count > 1, let marker = recoveryMarker,
           try marker.startsRecovering(storageEmpty: state.isEmpty, clusterState: clusterState) {
            config.recovering = true
        }
        if let snap = state.snapshot {
            do {
                kv = try KVStateMachine(snapshot: snap.data, limits: options.sessionLimits)
            } catch {
                throw StorageError.corrupt(path: "snapshot@\(snap.metadata.index)", offset: 0, reason: "\(error)")
            }
        } else {
            kv = KVStateMachine(limits: options.sessionLimits)
        }
        node = RaftNode(config: config, state: state, seed: seed,
                        snapshotValidator: { KVStateMachine.snapshotChecksumValid($0) })
    }

    public var id: NodeID { node.id }

    public func tick() { node.tick() }

    public func receive(_ m: Message) { node.step(m) }

    /// The host learned at run time that this member's storage is empty although the cluster
    /// has a history (peers' handshakes): recovery starts, durably, before anything else.
    public func enterRecovery() throws(StorageError) {
        guard !node.recovering else { return }
        try recoveryMarker?.set()
        node.enterRecovery()
    }

    /// Proposes a log command (a session registration or a client request) on the leader:
    /// encoded here once, decoded once by every replica when it applies. Returns where it
    /// went: it applies exactly when `process` reports `.applied` at this index with this
    /// term. Who asked, and when to give up, is the client-request service's business.
    public func propose(_ command: LogCommand) throws(ProposeError) -> (index: LogIndex, term: Term) {
        let index = try node.propose(command.encoded())
        return (index, node.term)
    }

    // MARK: - The Ready loop, in named phases

    /// Runs the Ready loop until the core is idle: for each Ready, the phases below in order
    /// (the order of `Ready`'s contract). Replies go out only after the entry is applied,
    /// which is after it is durable on a majority and here.
    /// `beforePersist` runs after the eager messages were handed to `send` and before the disk
    /// write starts, so a transport can put them on the wire while the fsync runs (§10.2.1).
    public func process(send: (Message) -> Void, events: (ReplicaEvent) -> Void,
                        beforePersist: () -> Void = {}) throws(StorageError) {
        while let rd = try nextReady() {
            for m in rd.eagerMessages { send(m) }
            if !rd.eagerMessages.isEmpty && rd.persists { beforePersist() }
            try write(rd)
            try sync(rd)
            try finish(rd, send: send, events: events)
        }
    }

    /// Phase 1: the core's next Ready, or nil when idle. The caller then sends
    /// `eagerMessages` (they promise nothing unpersisted) and runs `write`, `sync` and
    /// `finish` on it, in that order, before asking for the next one. Between phases it may
    /// keep calling `receive`, `tick` and `propose`: a host with a slow disk (the simulator)
    /// delivers messages while the write is in flight. The core's events are reported here
    /// (a finished recovery first clears its durable marker).
    public func nextReady() throws(StorageError) -> Ready? {
        guard let rd = node.ready() else { return nil }
        if let s = rd.softState { onSoftState?(s) }
        for e in rd.events {
            if case .recoveryFinished = e { try recoveryMarker?.clear() }
            onEvent?(e)
        }
        return rd
    }

    /// Phase 2: hands the Ready's snapshot (durable on return), entries and hard state to
    /// storage. Entries and hard state are not durable until `sync`.
    public func write(_ rd: Ready) throws(StorageError) {
        if let snap = rd.snapshot { try storage.saveSnapshot(snap) }
        if !rd.entries.isEmpty || rd.hardState != nil {
            try storage.append(rd.entries, hardState: rd.hardState)
        }
    }

    /// Phase 3: makes what `write` wrote durable. Nothing the Ready promises may be sent before.
    public func sync(_ rd: Ready) throws(StorageError) {
        if !rd.entries.isEmpty || rd.hardState != nil { try storage.sync() }
    }

    /// Phase 4: sends the promises (`rd.messages`: votes, acknowledgements, candidacy), restores
    /// a received snapshot, applies committed entries, reports them, and advances.
    public func finish(_ rd: Ready, send: (Message) -> Void, events: (ReplicaEvent) -> Void) throws(StorageError) {
        // A leader only appends to its own log, so only a follower can see our proposals
        // overwritten (after we lost leadership): report it then, not on the leader's hot path.
        if node.role != .leader, let first = rd.entries.first { events(.replaced(from: first.index)) }
        for m in rd.messages { send(m) }
        if let snap = rd.snapshot { restore(snap, events: events) }
        for e in rd.committedEntries { apply(e, events: events) }
        node.advance(rd)
        try maybeSnapshot()
    }

    // Cheap views of the core for observers that look after every message (a copy of
    // `node` would copy its log).
    public var role: Role { node.role }
    public var term: Term { node.term }
    public var committed: LogIndex { node.log.committed }
    public var lastIndex: LogIndex { node.log.lastIndex }
    public func logTerm(at index: LogIndex) -> Term? { node.log.term(at: index) }

    private func restore(_ snap: Snapshot, events: (ReplicaEvent) -> Void) {
        // The core verified the checksum before handing the snapshot out.
        guard let restored = try? KVStateMachine(snapshot: snap.data, limits: options.sessionLimits) else {
            preconditionFailure("snapshot passed its checksum but does not decode")
        }
        kv = restored
        events(.restored(through: snap.metadata.index))
    }

    private func apply(_ e: Entry, events: (ReplicaEvent) -> Void) {
        bytesSinceSnapshot += e.data.count
        var result: KVResult?
        if e.kind == .normal {
            do {
                result = kv.apply(try LogCommand.decode(e.data), at: e.index)
            } catch {
                kv.markApplied(e.index)
                undecodableEntries += 1
                onUndecodableEntry?(e, error)
            }
        } else {
            kv.markApplied(e.index)
        }
        onApply?(e)
        events(.applied(index: e.index, term: e.term, result: result))
    }

    private func maybeSnapshot() throws(StorageError) {
        guard !snapshotInFlight else { return }
        let applied = node.log.applied
        let last = node.latestSnapshotIndex
        let dueByCount = options.snapshotEvery > 0 && applied >= last + options.snapshotEvery
        let dueByBytes = options.snapshotBytes > 0 && bytesSinceSnapshot >= options.snapshotBytes && applied > last
        guard dueByCount || dueByBytes, let term = node.log.term(at: applied) else { return }
        precondition(kv.appliedIndex == applied, "state machine and core disagree on the applied index")
        let job = SnapshotJob(metadata: SnapshotMetadata(index: applied, term: term, config: node.cluster), state: kv)
        bytesSinceSnapshot = 0
        if let worker = snapshotWorker {
            snapshotInFlight = true
            worker.start(job)
        } else {
            let snap = Snapshot(metadata: job.metadata, data: kv.snapshotBytes())
            try storage.saveSnapshot(snap)
            install(snap)
        }
    }

    /// Finishes a job handed to `snapshotWorker`. A snapshot overtaken meanwhile (one from
    /// the leader covered more) is dropped; a failed write is a storage failure.
    public func completeSnapshot(_ result: Result<Snapshot, StorageError>) throws(StorageError) {
        precondition(snapshotInFlight, "no snapshot job is in flight")
        snapshotInFlight = false
        let snap = try result.get()
        guard snap.metadata.index > node.latestSnapshotIndex else { return }
        try storage.snapshotWritten(snap)
        install(snap)
    }

    private func install(_ snap: Snapshot) {
        let applied = snap.metadata.index
        let keepFrom = applied > options.retainedTail ? applied - options.retainedTail : 0
        node.compact(snapshot: snap, compactThrough: max(node.log.compactedIndex, keepFrom))
    }
}

extension Ready {
    /// Whether this Ready has anything for the disk (and so promises wait for a sync).
    public var persists: Bool { snapshot != nil || !entries.isEmpty || hardState != nil }
}
