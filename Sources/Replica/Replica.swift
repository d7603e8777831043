import Codec
import KV
import Raft
import Storage

/// What a client hears back about one request.
public enum ClientOutcome: Sendable, Equatable {
    /// Committed and applied.
    case result(KVResult)
    /// Refused before proposing: ask `leader` (noNode when unknown). Nothing happened.
    case notLeader(leader: NodeID)
    /// Refused before proposing: too many requests in flight. Nothing happened.
    case busy
    /// Refused before proposing: the request exceeds a size limit. Nothing happened.
    case tooLarge(limit: Int)
    /// The proposal was overwritten by another leader's entry: it was not applied.
    case dropped
}

/// A local snapshot to encode and make durable, possibly on another thread: `state` is a
/// copy of the state machine at `metadata.index` (a value type, so the copy is cheap and the
/// replica keeps applying meanwhile). Whoever runs it hands the result to
/// `Replica.completeSnapshot` on the replica's own thread.
public struct SnapshotJob: Sendable {
    public let metadata: SnapshotMetadata
    public let state: KVStateMachine

    /// Encodes the snapshot and writes its file with `store` (durable on return).
    public func run(writingWith store: SnapshotStore) -> Result<Snapshot, StorageError> {
        let snapshot = Snapshot(metadata: metadata, data: state.snapshotBytes())
        do {
            try store.save(snapshot)
            return .success(snapshot)
        } catch {
            return .failure(error)
        }
    }
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
        /// At most this many proposals awaiting their outcome.
        public var maxPending: Int = 16_384
        public var kvLimits = KVStateMachine.Limits()
        public init() {}
    }

    public private(set) var node: RaftNode
    public let storage: RaftStorage
    public private(set) var kv: KVStateMachine
    public let options: Options
    /// Payload bytes applied since the last snapshot (for `snapshotBytes`).
    private var bytesSinceSnapshot = 0
    /// Proposals in flight: log index -> (term proposed in, caller's token).
    private var pending: [LogIndex: (term: Term, token: UInt64)] = [:]
    /// Applied (index, term, request) in order, for observers such as invariant checkers.
    public var onApply: ((Entry) -> Void)?
    /// Role, term and leader changes, for logs.
    public var onSoftState: ((SoftState) -> Void)?
    /// Runs local snapshots off the replica's thread. Nil: snapshots are encoded and saved
    /// inline (`storage.saveSnapshot`), stalling the replica for as long as that takes.
    public var onSnapshotJob: ((SnapshotJob) -> Void)?
    /// A snapshot job is out; no other starts until `completeSnapshot`.
    public private(set) var snapshotInFlight = false

    /// Opens a replica from whatever `storage` holds (a fresh directory is an empty state).
    public init(config: RaftConfig, storage: RaftStorage, seed: UInt64, options: Options = Options()) throws(StorageError) {
        let state = try storage.load()
        self.storage = storage
        self.options = options
        if let snap = state.snapshot {
            do {
                kv = try KVStateMachine(snapshot: snap.data, limits: options.kvLimits)
            } catch {
                throw StorageError.corrupt(path: "snapshot@\(snap.metadata.index)", offset: 0, reason: "\(error)")
            }
        } else {
            kv = KVStateMachine(limits: options.kvLimits)
        }
        node = RaftNode(config: config, state: state, seed: seed,
                        snapshotValidator: { KVStateMachine.snapshotChecksumValid($0) })
    }

    public var id: NodeID { node.id }

    public func tick() { node.tick() }

    public func receive(_ m: Message) { node.step(m) }

    /// Proposes a client request. Returns an outcome at once when it was refused;
    /// otherwise the outcome arrives through `process(...)`'s reply callback.
    public func submit(_ request: ClientRequest, token: UInt64) -> ClientOutcome? {
        guard pending.count < options.maxPending else { return .busy }
        do {
            let index = try node.propose(request.encoded())
            pending[index] = (node.term, token)
            return nil
        } catch {
            switch error {
            case let .notLeader(leader): return .notLeader(leader: leader)
            case .busy: return .busy
            case let .tooLarge(_, limit): return .tooLarge(limit: limit)
            }
        }
    }

    // MARK: - The Ready loop, in named phases

    /// Runs the Ready loop until the core is idle: for each Ready, the phases below in order
    /// (the order of `Ready`'s contract). Replies go out only after the entry is applied,
    /// which is after it is durable on a majority and here.
    /// `beforePersist` runs after the eager messages were handed to `send` and before the disk
    /// write starts, so a transport can put them on the wire while the fsync runs (§10.2.1).
    public func process(send: (Message) -> Void, reply: (UInt64, ClientOutcome) -> Void,
                        beforePersist: () -> Void = {}) throws(StorageError) {
        while let rd = nextReady() {
            for m in rd.eagerMessages { send(m) }
            if !rd.eagerMessages.isEmpty && rd.persists { beforePersist() }
            try write(rd)
            try sync(rd)
            try finish(rd, send: send, reply: reply)
        }
    }

    /// Phase 1: the core's next Ready, or nil when idle. The caller then sends
    /// `eagerMessages` (they promise nothing unpersisted) and runs `write`, `sync` and
    /// `finish` on it, in that order, before asking for the next one. Between phases it may
    /// keep calling `receive`, `tick` and `submit`: a host with a slow disk (the simulator)
    /// delivers messages while the write is in flight.
    public func nextReady() -> Ready? {
        guard let rd = node.ready() else { return nil }
        if let s = rd.softState { onSoftState?(s) }
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
    /// a received snapshot, applies committed entries, answers their clients, and advances.
    public func finish(_ rd: Ready, send: (Message) -> Void, reply: (UInt64, ClientOutcome) -> Void) throws(StorageError) {
        // A leader only appends to its own log, so only a follower can see our proposals
        // overwritten (after we lost leadership): scan then, not on the leader's hot path.
        if node.role != .leader, let first = rd.entries.first { resolveOverwritten(from: first.index, reply: reply) }
        for m in rd.messages { send(m) }
        if let snap = rd.snapshot { restore(snap) }
        for e in rd.committedEntries { apply(e, reply: reply) }
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

    /// Entries from `index` on were replaced (a new leader's log won): our proposals there
    /// whose term no longer matches will never apply. Replies go out in index order.
    private func resolveOverwritten(from index: LogIndex, reply: (UInt64, ClientOutcome) -> Void) {
        guard !pending.isEmpty else { return }
        let affected = pending.keys.filter { $0 >= index }.sorted()
        for i in affected where node.log.term(at: i) != pending[i]!.term {
            reply(pending.removeValue(forKey: i)!.token, .dropped)
        }
    }

    private func restore(_ snap: Snapshot) {
        // The core verified the checksum before handing the snapshot out.
        guard let restored = try? KVStateMachine(snapshot: snap.data, limits: options.kvLimits) else {
            preconditionFailure("snapshot passed its checksum but does not decode")
        }
        kv = restored
        // Proposals covered by the snapshot: we cannot tell whether they were applied, so no
        // answer is given; the client times out and retries with the same sequence.
        pending = pending.filter { $0.key > snap.metadata.index }
    }

    private func apply(_ e: Entry, reply: (UInt64, ClientOutcome) -> Void) {
        let mine = pending.removeValue(forKey: e.index)
        bytesSinceSnapshot += e.data.count
        var result: KVResult?
        if e.kind == .normal, let req = try? ClientRequest.decode(e.data) {
            result = kv.apply(req, at: e.index)
        } else {
            kv.markApplied(e.index)
        }
        onApply?(e)
        if let mine {
            if mine.term == e.term, let result {
                reply(mine.token, .result(result))
            } else {
                reply(mine.token, .dropped)
            }
        }
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
        if let run = onSnapshotJob {
            snapshotInFlight = true
            run(job)
        } else {
            let snap = Snapshot(metadata: job.metadata, data: kv.snapshotBytes())
            try storage.saveSnapshot(snap)
            install(snap)
        }
    }

    /// Finishes a job handed to `onSnapshotJob`. A snapshot overtaken meanwhile (one from
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
