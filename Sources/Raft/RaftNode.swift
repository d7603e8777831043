/// The Raft consensus core for one member: a pure, deterministic state machine.
///
/// In: `tick()`, `step(_:)` with messages from peers, `propose(_:)` from clients.
/// Out: `ready()` (see `Ready` for the caller contract), then `advance(_:)`.
/// It never touches a socket, file, clock, thread or global randomness; the only source
/// of randomness is the seeded generator given at construction, so the same inputs and
/// seed always yield the same outputs.
public struct RaftNode: Sendable {
    public let config: RaftConfig
    public let cluster: ClusterConfig
    public var id: NodeID { config.id }

    /// Latest term seen (§5.1). Invariant: never decreases.
    public internal(set) var term: Term
    /// Candidate voted for in `term`, or noNode. Invariant: at most one per term (§5.2).
    public internal(set) var vote: NodeID
    public internal(set) var role: Role = .follower
    /// The leader of `term` as far as we know, or noNode.
    public internal(set) var leader: NodeID = noNode
    public internal(set) var log: RaftLog
    /// Protocol-aware recovery (Alagappan et al., FAST 2018): set while this member's storage
    /// may have lost votes and entries it gave before. Meanwhile it never grants a vote and
    /// never campaigns. It ends once the log is durable through a commit index that the
    /// leader of the current term reported in an AppendEntries whose entries reach it, and
    /// whose entry is of that term: such a commit was acknowledged by a majority, and a
    /// leader's log holds every entry committed before its term (docs/raft.md, disk loss).
    public internal(set) var recovering: Bool
    /// While recovering: a commit index of the current leader's term, reported by it and
    /// matched by our log; recovery ends once it is durable here. 0: none yet.
    var recoveryTarget: LogIndex = 0

    var rng: SeededRandom
    /// Logical time: ticks since this core started (flow control measures round trips in it).
    var now: UInt64 = 0
    /// When the current or last candidacy started: the vote round trip seeds the leader's
    /// round-trip estimates (flow control needs one before the first append is answered).
    var campaignedAt: UInt64 = 0
    var electionElapsed = 0
    var heartbeatElapsed = 0
    /// Drawn from [E, 2E) each time the election timer resets (§5.2).
    var randomizedElectionTimeout: Int
    /// Votes received in this candidacy, by voter.
    var votes: [NodeID: Bool] = [:]
    /// Leader only: one per voter other than this node, sorted by id (deterministic order).
    public internal(set) var progress: [Progress] = []
    /// Leader only: peers whose progress changed and should be sent to at the next `ready()`
    /// so that proposals made in one batch go out in one AppendEntries.
    var pendingBroadcast = false

    /// The newest local snapshot, sent to followers that need compacted entries.
    var latestSnapshot: Snapshot?
    /// Follower only: an InstallSnapshot being assembled from chunks.
    var incomingSnapshot: (metadata: SnapshotMetadata, totalSize: UInt64, data: [UInt8])?
    /// Assembled snapshot to hand out in the next Ready.
    var readySnapshot: Snapshot?
    /// Verifies assembled snapshot bytes (e.g. their checksum) before installing them.
    let snapshotValidator: @Sendable ([UInt8]) -> Bool

    var eagerMessages: [Message] = []
    var messages: [Message] = []
    /// Hard state handed out by the last Ready.
    var lastHardState: HardState
    var lastSoftState: SoftState

    /// Messages dropped because they were malformed or came from a non-member.
    public internal(set) var droppedMessages = 0
    /// AppendEntries that tried to change committed entries: impossible from a correct
    /// leader, so it is counted and refused rather than trusted (and never crashes us).
    public internal(set) var protocolViolations = 0
    /// Votes refused because this node was recovering.
    public internal(set) var votesRefusedWhileRecovering = 0
    /// Leader: times a follower was found to have lost entries it had acknowledged.
    public internal(set) var followersFoundWithLostEntries = 0
    /// Reported in the next Ready.
    var events: [RaftEvent] = []

    /// Restarts a member from its durable state alone (§5.1: term, vote and log).
    public init(config: RaftConfig, state: PersistentState, seed: UInt64,
                snapshotValidator: @escaping @Sendable ([UInt8]) -> Bool = { _ in true }) {
        if let problem = config.validate() { preconditionFailure("invalid Raft config: \(problem)") }
        self.config = config
        self.cluster = state.snapshot?.metadata.config ?? ClusterConfig(voters: config.voters)
        precondition(cluster.contains(config.id), "this node is not a member of the cluster")
        self.term = state.hardState.term
        self.vote = state.hardState.vote
        self.log = RaftLog(snapshot: state.snapshot?.metadata, entries: state.entries, commit: state.hardState.commit)
        self.recovering = config.recovering
        self.latestSnapshot = state.snapshot
        self.rng = SeededRandom(seed: seed)
        self.snapshotValidator = snapshotValidator
        self.randomizedElectionTimeout = config.electionTicks
        self.lastHardState = state.hardState
        self.lastSoftState = SoftState(role: .follower, term: state.hardState.term, leader: noNode)
        for (i, e) in log.entries.enumerated() {
            precondition(e.index == log.compactedIndex + 1 + LogIndex(i), "restored log is not contiguous")
        }
        resetElectionTimer()
    }

    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    public var softState: SoftState { SoftState(role: role, term: term, leader: leader) }
    var peers: [NodeID] { cluster.voters.filter { $0 != id } }

    // MARK: - Time

    /// Advances logical time by one tick.
    public mutating func tick() {
        now += 1
        electionElapsed += 1
        switch role {
        case .follower, .candidate:
            // A recovering node may not vote for itself either: it waits for a leader.
            if electionElapsed >= randomizedElectionTimeout && !recovering { campaign() }
        case .leader:
            heartbeatElapsed += 1
            if heartbeatElapsed >= config.heartbeatTicks {
                heartbeatElapsed = 0
                broadcastHeartbeat()
            }
            if electionElapsed >= config.electionTicks {
                electionElapsed = 0
                if config.checkQuorum && !quorumActive() {
                    // §6.2: a leader cut off from a majority steps down so clients retry elsewhere.
                    becomeFollower(term: term, leader: noNode)
                } else {
                    clearActivity()
                }
            }
        }
    }

    mutating func resetElectionTimer() {
        electionElapsed = 0
        randomizedElectionTimeout = config.electionTicks + Int(rng.below(UInt64(config.electionTicks)))
    }

    // MARK: - Roles (§5.2)

    /// Leaves the election timer alone (Figure 2, §5.2): it restarts only when we grant a
    /// vote, hear from the current leader (`acceptLeader`) or campaign. A refused vote, a
    /// higher term in a reply or a lost election must not restart it, or stale candidates
    /// raising the term would keep the only electable node from ever timing out.
    mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID) {
        precondition(newTerm >= term, "terms never decrease")
        if newTerm > term {
            term = newTerm
            vote = noNode
        }
        role = .follower
        leader = newLeader
        progress.removeAll()
        votes.removeAll()
        pendingBroadcast = false
    }

    mutating func campaign() {
        term += 1
        vote = id
        role = .candidate
        leader = noNode
        votes = [id: true]
        progress.removeAll()
        campaignedAt = now
        resetElectionTimer()
        if cluster.quorum == 1 {
            becomeLeader()
            return
        }
        for peer in peers {
            // Sent only after term and vote are durable (Ready.messages).
            send(to: peer, .requestVote(lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm))
        }
    }

    mutating func becomeLeader() {
        precondition(role == .candidate, "only a candidate becomes leader")
        role = .leader
        leader = id
        heartbeatElapsed = 0
        electionElapsed = 0
        let voteRoundTrip = Int(now - campaignedAt)
        progress = peers.map {
            var p = Progress(id: $0, next: log.lastIndex + 1, maxInflight: config.maxInflightAppends)
            p.estimateRoundTrip(voteRoundTrip)
            return p
        }
        // §5.4.2 / §8: a no-op from the new term lets earlier entries commit through it.
        log.appendAsLeader(Entry(term: term, index: log.lastIndex + 1, kind: .noop))
        pendingBroadcast = true
        maybeCommit()
    }

    // MARK: - Recovery

    /// Puts this node into recovery at run time: the host learned that its storage is empty
    /// although the cluster has a history (e.g. from the peers' handshakes). It stops voting
    /// and campaigning at once; a candidate or leader steps down.
    public mutating func enterRecovery() {
        guard !recovering else { return }
        precondition(cluster.voters.count > 1, "a single-member cluster has no peer to recover from")
        recovering = true
        recoveryTarget = 0
        if role != .follower { becomeFollower(term: term, leader: noNode) }
        events.append(.recoveryStarted)
    }

    /// Ends recovery once the target commit index is durable here and its entry is of the
    /// current leader's term (a commit of an earlier term may miss what this term committed).
    mutating func maybeFinishRecovery() {
        guard recovering, recoveryTarget > 0, log.persisted >= recoveryTarget, log.committed >= recoveryTarget,
              log.term(at: recoveryTarget) == term else { return }
        recovering = false
        events.append(.recoveryFinished(commit: recoveryTarget, term: term))
        recoveryTarget = 0
    }

    // MARK: - Proposals

    /// Appends a client command to the leader's log. Returns its index; the entry is
    /// committed when it appears in `Ready.committedEntries` with this index and term.
    public mutating func propose(_ data: [UInt8]) throws(ProposeError) -> LogIndex {
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard data.count <= config.maxEntryBytes else { throw .tooLarge(size: data.count, limit: config.maxEntryBytes) }
        let uncommitted = Int(log.lastIndex - log.committed)
        guard uncommitted < config.maxUncommittedEntries else { throw .busy(uncommitted: uncommitted) }
        let index = log.lastIndex + 1
        log.appendAsLeader(Entry(term: term, index: index, kind: .normal, data: data))
        pendingBroadcast = true
        return index
    }

    // MARK: - Ready / Advance

    /// Whether `ready()` would return something.
    public var hasReady: Bool {
        pendingBroadcast || !eagerMessages.isEmpty || !messages.isEmpty || readySnapshot != nil || !events.isEmpty
            || log.unstable <= log.lastIndex || log.applying < log.committed
            || hardState != lastHardState || softState != lastSoftState
    }

    /// Collects everything the caller must do now (see `Ready`). Returns nil when idle.
    public mutating func ready() -> Ready? {
        if pendingBroadcast {
            pendingBroadcast = false
            for i in progress.indices { sendAppend(i, allowEmpty: false) }
        }
        guard hasReady else { return nil }
        var rd = Ready()
        if hardState != lastHardState {
            rd.hardState = hardState
            lastHardState = hardState
        }
        if softState != lastSoftState {
            rd.softState = softState
            lastSoftState = softState
        }
        if let snap = readySnapshot {
            rd.snapshot = snap
            readySnapshot = nil
        }
        if log.unstable <= log.lastIndex {
            rd.entries = Array(log.entries[Int(log.unstable - log.compactedIndex - 1)...])
            log.unstable = log.lastIndex + 1
        }
        if log.applying < log.committed {
            let from = log.applying + 1
            let through = min(log.committed, log.applying + LogIndex(config.maxApplyBatch))
            rd.committedEntries = log.slice(from: from, through: through, maxCount: config.maxApplyBatch, maxBytes: Int.max)
            log.applying = through
        }
        rd.eagerMessages = eagerMessages
        rd.messages = messages
        rd.events = events
        events.removeAll()
        eagerMessages.removeAll(keepingCapacity: true)
        messages.removeAll(keepingCapacity: true)
        checkInvariants()
        return rd
    }

    /// Tells the core that everything in `rd` was done (persisted, sent, applied).
    public mutating func advance(_ rd: Ready) {
        if let snap = rd.snapshot {
            log.persisted = max(log.persisted, min(snap.metadata.index, log.lastIndex))
        }
        if let last = rd.entries.last, log.matchTerm(last.index, last.term) {
            // A truncation since the Ready may have replaced these entries; then they are
            // persisted again by a later Ready and this one counts for nothing.
            log.persisted = max(log.persisted, last.index)
        }
        if let last = rd.committedEntries.last {
            log.setApplied(last.index)
        }
        maybeFinishRecovery()
        if role == .leader && maybeCommit() {
            pendingBroadcast = true
        }
        checkInvariants()
    }

    // MARK: - Snapshots

    /// Records a local snapshot of the state machine at an applied index and drops log
    /// entries up to `compactThrough` (<= its index; entries after stay for slow followers).
    public mutating func compact(snapshot: Snapshot, compactThrough: LogIndex) {
        let meta = snapshot.metadata
        precondition(meta.index <= log.applied, "snapshot beyond the applied index")
        precondition(compactThrough <= meta.index, "cannot compact past the snapshot")
        if let t = log.term(at: meta.index) { precondition(t == meta.term, "snapshot term does not match the log") }
        if meta.index >= (latestSnapshot?.metadata.index ?? 0) { latestSnapshot = snapshot }
        log.compact(through: compactThrough)
    }

    // MARK: - Output

    /// Queues a message: in `eagerMessages` if its kind may precede persistence, otherwise in
    /// `messages`, sent only after this Ready is durable (`MessageKind.mayPrecedePersistence`).
    mutating func send(to peer: NodeID, _ kind: MessageKind) {
        let m = Message(from: id, to: peer, term: term, kind: kind)
        if kind.mayPrecedePersistence { eagerMessages.append(m) } else { messages.append(m) }
    }

    func checkInvariants() {
        log.checkInvariants()
        precondition(role != .leader || leader == id, "a leader knows it leads")
        precondition(role != .candidate || vote == id, "a candidate votes for itself")
        precondition(!recovering || role == .follower, "a recovering node neither campaigns nor leads")
        for p in progress { p.checkInvariants(maxInflight: config.maxInflightAppends) }
    }
}

extension RaftNode {
    /// Index of the newest snapshot this node holds (0 when none).
    public var latestSnapshotIndex: LogIndex { latestSnapshot?.metadata.index ?? 0 }
}
