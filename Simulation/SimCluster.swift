import KV
import Raft
import Replica
import Service
import Storage
import StorageTestSupport
import Wire

/// What travels on the simulated network.
public enum SimPacket {
    case raft(Message)
    /// `deadline`: the caller's own, in ticks from arrival (nil: `Options.clientDeadlineTicks`).
    case request(LogCommand, token: UInt64, deadline: UInt64?)
    /// What kvd would put on the wire: the service's `reply(for:)` of the outcome. Boxed: a
    /// reply is a large enum, and packets are copied in and out of the network's slab.
    indirect case reply(token: UInt64, reply: ClientReply)
}

/// One event of a run, kept in a ring for failure reports and hashed into the trace.
/// Stored as numbers and formatted only when a report is printed.
public struct TraceEvent: CustomStringConvertible, Sendable {
    public enum Kind: UInt8, Sendable {
        case deliver, request, reply, apply, crash, restart, partition, cut, heal, leader, pause, resume, stepDown, crashMidReady, diskLost, recovered
    }
    public var tick: UInt64
    public var kind: Kind
    public var a: UInt64 = 0
    public var b: UInt64 = 0
    public var c: UInt64 = 0
    public var d: UInt64 = 0

    public var description: String {
        let body: String
        switch kind {
        case .deliver: body = "n\(a)->n\(b) \(MessageTag(rawValue: UInt8(c))?.name ?? "?") term \(d)"
        case .request: body = "client c\(a - clientBase)->n\(b) request seq \(c)"
        case .reply: body = "n\(a)->client c\(b - clientBase) reply (token \(c))"
        case .apply: body = "n\(a) applied index \(b) (term \(c))"
        case .crash: body = "n\(a) crashed"
        case .restart: body = "n\(a) restarted"
        case .partition: body = "partition (group bitmasks \(String(a, radix: 2)), \(String(b, radix: 2)); bridges \(String(c, radix: 2)))"
        case .cut: body = "one-way cut n\(a)->n\(b)"
        case .heal: body = "network healed"
        case .leader: body = "n\(a) became leader of term \(b)"
        case .stepDown: body = "n\(a) stopped leading term \(b)"
        case .crashMidReady: body = "n\(a) crashed inside a Ready (\(b == 0 ? "before the sync" : "after the sync, before the promises"))"
        case .pause: body = "n\(a) paused until t=\(b)"
        case .resume: body = "n\(a) resumed"
        case .diskLost: body = "n\(a) lost its whole disk"
        case .recovered: body = "n\(a) recovered (caught up through commit \(b))"
        }
        return "t=\(tick) \(body)"
    }

    var hash: UInt64 {
        var h = UInt64(kind.rawValue)
        mix(&h, tick); mix(&h, a); mix(&h, b); mix(&h, c); mix(&h, d)
        return h
    }
}

/// The deterministic cluster harness: real `Replica`s (the same code kvd runs) over a
/// simulated network, disk and clock. All randomness flows from one seed.
public final class SimCluster {
    public struct Options {
        public var electionTicks = 10
        public var heartbeatTicks = 1
        public var checkQuorum = true
        /// PreVote (thesis §9.6); off by default, as in kvd, until disk-loss recovery is fixed.
        public var preVote = false
        public var snapshotEvery: UInt64 = 0
        /// Snapshot once this many payload bytes were applied since the last one (0: never).
        public var snapshotBytes = 0
        public var retainedTail: UInt64 = 5
        public var maxEntriesPerAppend = 64
        public var maxInflightAppends = 64
        public var snapshotChunkBytes = 512 * 1024
        /// Check Log Matching every this many ticks (it is O(n^2 * log)).
        public var logCheckInterval: UInt64 = 200
        /// Keep the last events for the failure report.
        public var keepTrace = true
        /// A disk write (append + sync) completes this many ticks after it starts, drawn
        /// uniformly from 0...diskLatency per write; messages are delivered meanwhile.
        public var diskLatency = 0
        /// Chance, per Ready that writes, of a crash inside it: half before the sync (after
        /// the eager sends), half after the sync and before the promises. Only while
        /// `SimCluster.faultsActive`.
        public var midReadyCrashRate = 0.0
        /// Check every outgoing message against the sender's durable state (rule 4).
        public var checkPromises = true
        /// Chance that a node is killed (and restarted a few ticks later) right after it
        /// grants a vote: the moment a lost vote would matter.
        public var crashAfterVoteRate = 0.0
        /// The deadline a simulated client's request carries, in ticks (as KVClient sends its
        /// attempt timeout); the service answers `timeout` a margin before it, as kvd does.
        /// Direct proposals (`propose(on:)`) carry none. 0: none.
        public var clientDeadlineTicks: UInt64 = 40
        /// Size of every replica's client-session table (small: evictions under churn).
        public var sessionLimits = SessionLimits()
        /// WAL segment size on the simulated disk (small, so rollover and deletion happen).
        public var walSegmentBytes = 16 * 1024
        public init() {}
    }

    public let seed: UInt64
    public let ids: [NodeID]
    public let options: Options
    public private(set) var now: UInt64 = 0
    public var network = SimNetwork<SimPacket>()
    public private(set) var replicas: [Replica?]
    /// Each live node's client-request service (the module kvd drives), rebuilt on restart.
    public private(set) var services: [ClientRequestService?]
    /// File systems under each node's write-ahead log (which loses unsynced bytes and tears
    /// writes on a crash); they survive crashes, the WAL objects do not.
    public let fileSystems: [SimFileSystem]
    public private(set) var invariants = InvariantChecker()
    /// Network randomness (delays, drops) and fault randomness are separate streams so a
    /// change in one does not reshuffle the other.
    var netRng: SeededRandom
    public var faultRng: SeededRandom
    /// Disk latencies and mid-Ready crash decisions.
    var diskRng: SeededRandom
    /// Faults that strike from inside the harness (mid-Ready crashes) only while this is set.
    public var faultsActive = true
    /// How often interesting paths ran (see `CoveragePath`).
    public var coverage = Coverage()
    /// Per node: the Ready whose disk write is in flight, and the tick its sync completes
    /// (UInt64.max: none; kept apart so the per-delivery check does not copy a Ready).
    private var writing: [Ready?]
    private var syncAt: [UInt64]
    /// Per node: what its disk holds durably (for the promise check).
    private var durable: [DurableState?]
    /// Per node: the term it was last seen leading (0: not leading).
    private var ledTerm: [Term]
    /// Highest term any node has reached.
    private var highestTerm: Term = 0
    /// Hash of every event so far: equal seeds must give equal hashes.
    public private(set) var traceHash: UInt64 = 0
    public private(set) var recent: [TraceEvent] = []
    private var recentHead = 0
    /// Messages sent, by kind tag (index 0: rejected AppendEntries).
    private var sentCounts = [Int](repeating: 0, count: MessageTag.allCases.count + 1)
    /// Messages sent, by kind name; "AppendEntriesReject" counts rejections.
    public var sentByKind: [String: Int] {
        var d: [String: Int] = [:]
        for t in MessageTag.allCases { d[t.name] = sentCounts[Int(t.rawValue)] }
        d["AppendEntriesReject"] = sentCounts[0]
        return d
    }
    public private(set) var restarts = 0
    /// Called for every Raft message a node sends (tests count traffic with it).
    public var onSend: ((NodeID, Message) -> Void)?
    /// Client replies delivered, by token.
    public var clientInbox: [UInt64: [(token: UInt64, reply: ClientReply)]] = [:]
    private var nextToken: UInt64 = 1
    /// Paused nodes and the tick they resume at; messages that reached them meanwhile.
    private var pausedUntil: [NodeID: UInt64] = [:]
    private var restartAt: [NodeID: UInt64] = [:]
    /// Snapshot jobs in flight: node, when it completes. A crash discards the node's jobs.
    private var snapshotJobs: [(node: NodeID, due: UInt64, job: SnapshotJob)] = []
    private var snapshotStores: [NodeID: SnapshotStore] = [:]
    private var backlog: [NodeID: [(from: UInt64, payload: SimPacket)]] = [:]
    /// Replies to proposals made directly with `propose`, by token.
    public private(set) var directReplies: [UInt64: ClientOutcome] = [:]

    public init(nodes: Int, seed: UInt64, options: Options = Options()) {
        precondition(nodes >= 1 && nodes <= 9, "1 to 9 nodes")
        self.seed = seed
        self.options = options
        ids = (1...UInt64(nodes)).map { $0 }
        var root = SeededRandom(seed: seed)
        netRng = root.fork()
        faultRng = root.fork()
        // Not forked from `root`: the node seeds drawn from it stay what they were before the
        // disk drew anything (scenario tests depend on their elections).
        diskRng = SeededRandom(seed: seed ^ 0xD15C_1A7E_0C7A_11E5)
        fileSystems = ids.map { _ in SimFileSystem() }
        replicas = Array(repeating: nil, count: nodes)
        writing = Array(repeating: nil, count: nodes)
        syncAt = Array(repeating: .max, count: nodes)
        durable = Array(repeating: nil, count: nodes)
        ledTerm = Array(repeating: 0, count: nodes)
        services = Array(repeating: nil, count: nodes)
        for id in ids { start(id, seed: root.next()) }
    }

    private func raftConfig(_ id: NodeID) -> RaftConfig {
        var c = RaftConfig(id: id, voters: ids)
        c.electionTicks = options.electionTicks
        c.heartbeatTicks = options.heartbeatTicks
        c.checkQuorum = options.checkQuorum
        c.preVote = options.preVote
        c.maxEntriesPerAppend = options.maxEntriesPerAppend
        c.maxInflightAppends = options.maxInflightAppends
        c.snapshotChunkBytes = options.snapshotChunkBytes
        return c
    }

    private func start(_ id: NodeID, seed: UInt64) {
        var ro = Replica.Options()
        ro.snapshotEvery = options.snapshotEvery
        ro.snapshotBytes = options.snapshotBytes
        ro.retainedTail = options.retainedTail
        ro.sessionLimits = options.sessionLimits
        let r: Replica
        do {
            var wo = WALOptions()
            wo.segmentSize = options.walSegmentBytes
            wo.retainedTail = options.retainedTail
            wo.writeBufferSize = 0
            let wal = try WALStorage(directory: "/data/n\(id)", identity: DataDirIdentity(clusterToken: "sim", nodeID: id, nodeName: "n\(id)"),
                                     fileSystem: fileSystems[Int(id - 1)], options: wo)
            snapshotStores[id] = wal.snapshotStore(fileSystem: fileSystems[Int(id - 1)])
            // A node whose disk was lost is restarted as the operator procedure says, as kvd
            // with `--initial-cluster-state existing`, so it comes back in recovery. Others
            // keep their bootstrap flags (`new`, ignored when the disk holds a log, as in etcd).
            let marker = RecoveryMarker(fileSystem: fileSystems[Int(id - 1)], directory: "/data/n\(id)")
            r = try Replica(config: raftConfig(id), storage: wal, seed: seed, options: ro, recoveryMarker: marker,
                            clusterState: lostDisks.contains(id) ? .existing : .new)
            if options.checkPromises { durable[Int(id - 1)] = DurableState(openedNode: r.node) }
            // As kvd does on a background thread, the snapshot is written a little later
            // while the replica keeps going; here "later" is a seeded number of ticks.
            r.snapshotWorker = DelayedSnapshotWorker { [unowned self] job in
                self.snapshotJobs.append((id, self.now + 1 + self.faultRng.below(5), job))
            }
        } catch {
            invariants.fail("node \(id) failed to restart from its disk: \(error)")
            return
        }
        r.onEvent = { [unowned self] e in
            if case let .recoveryFinished(commit, _) = e {
                self.lostDisks.remove(id)
                self.recoveriesFinished += 1
                self.record(TraceEvent(tick: self.now, kind: .recovered, a: id, b: commit))
            }
        }
        r.onUndecodableEntry = { [unowned self] e, error in
            // Every payload in a simulated log was encoded by LogCommand: a failure is a bug.
            preconditionFailure("seed \(self.seed): node \(id) committed entry \(e.index) does not decode: \(error)")
        }
        r.onApply = { [unowned self] e in
            self.invariants.observeApply(node: id, entry: e)
            self.record(TraceEvent(tick: self.now, kind: .apply, a: id, b: e.index, c: e.term))
        }
        replicas[Int(id - 1)] = r
        var limits = ClientRequestService.Limits()
        limits.maxInflightPerCaller = limits.maxPending  // direct proposals in tests all come from one caller
        limits.deadlineMarginCap = 2
        services[Int(id - 1)] = ClientRequestService(replica: r, limits: limits, view: self)
    }

    public func replica(_ id: NodeID) -> Replica? { replicas[Int(id - 1)] }
    public func service(_ id: NodeID) -> ClientRequestService? { services[Int(id - 1)] }
    public func isUp(_ id: NodeID) -> Bool { replicas[Int(id - 1)] != nil }
    public var liveIDs: [NodeID] { ids.filter(isUp) }

    // MARK: - Trace

    @inline(__always)
    func record(_ e: TraceEvent) {
        mix(&traceHash, e.hash)
        guard options.keepTrace else { return }
        if recent.count < 64 { recent.append(e) } else { recent[recentHead] = e; recentHead = (recentHead + 1) % 64 }
    }

    /// The last events, oldest first.
    public var lastEvents: [TraceEvent] {
        recent.count < 64 ? recent : Array(recent[recentHead...] + recent[..<recentHead])
    }

    // MARK: - Faults

    public func crash(_ id: NodeID) {
        guard isUp(id) else { return }
        pausedUntil[id] = nil
        backlog[id] = nil
        // Its background snapshot dies with the process (the file may be left half written).
        snapshotJobs.removeAll { $0.node == id }
        replicas[Int(id - 1)] = nil
        services[Int(id - 1)] = nil
        // A write in flight dies with the process: the file system keeps what it keeps.
        writing[Int(id - 1)] = nil
        syncAt[Int(id - 1)] = .max
        durable[Int(id - 1)] = nil
        fileSystems[Int(id - 1)].crash(using: &faultRng)
        network.purge(node: id)
        record(TraceEvent(tick: now, kind: .crash, a: id))
    }

    /// Freezes a node (like SIGSTOP) until tick `until`: it neither ticks nor handles
    /// messages; what arrives meanwhile waits in its socket buffer and is handled on resume.
    public func pause(_ id: NodeID, until: UInt64) {
        guard isUp(id), pausedUntil[id] == nil else { return }
        pausedUntil[id] = until
        record(TraceEvent(tick: now, kind: .pause, a: id, b: until))
    }

    public func isPaused(_ id: NodeID) -> Bool { pausedUntil[id] != nil }

    /// Restarts a crashed node at tick `at` (a supervisor bringing the process back).
    public func scheduleRestart(_ id: NodeID, at: UInt64) {
        restartAt[id] = at
    }

    /// Nodes whose whole disk was lost and that have not finished recovering yet.
    public private(set) var lostDisks: Set<NodeID> = []
    /// Whole disks lost, and recoveries finished, over the run.
    public private(set) var disksLost = 0
    public private(set) var recoveriesFinished = 0

    /// The node's disk dies: it crashes and its data directory is gone (as if replaced by an
    /// empty disk). It restarts later, empty, in recovery.
    public func loseDisk(_ id: NodeID) {
        crash(id)
        let fs = fileSystems[Int(id - 1)], dir = "/data/n\(id)"
        for name in (try? fs.listDirectory(dir)) ?? [] { try? fs.remove(dir + "/" + name) }
        try? fs.syncDirectory(dir)
        lostDisks.insert(id)
        disksLost += 1
        record(TraceEvent(tick: now, kind: .diskLost, a: id))
    }

    public func restart(_ id: NodeID) {
        guard !isUp(id) else { return }
        restarts += 1
        start(id, seed: faultRng.next())
        record(TraceEvent(tick: now, kind: .restart, a: id))
    }

    public func partition(_ groups: [[NodeID]], bridges: [NodeID] = []) {
        network.partition(groups, bridges: bridges)
        func mask(_ ns: [NodeID]) -> UInt64 { ns.reduce(0) { $0 | (1 << $1) } }
        record(TraceEvent(tick: now, kind: .partition, a: groups.count > 0 ? mask(groups[0]) : 0,
                          b: groups.count > 1 ? mask(Array(groups.dropFirst().joined())) : 0, c: mask(bridges)))
    }

    public func cut(from: NodeID, to: NodeID) {
        network.cut(from: from, to: to)
        record(TraceEvent(tick: now, kind: .cut, a: from, b: to))
    }

    public func heal() {
        network.heal()
        record(TraceEvent(tick: now, kind: .heal))
    }

    // MARK: - Clients

    /// Sends a client request from `client` (an endpoint >= clientBase) to `node`.
    public func sendRequest(from client: UInt64, to node: NodeID, _ req: ClientRequest) -> UInt64 {
        sendRequest(from: client, to: node, .request(req))
    }

    /// `deadline`: how long the client waits for this attempt, in ticks (as KVClient sends its
    /// attempt timeout); nil uses `Options.clientDeadlineTicks`.
    public func sendRequest(from client: UInt64, to node: NodeID, _ command: LogCommand, deadline: UInt64? = nil) -> UInt64 {
        let token = nextToken
        nextToken += 1
        network.send(from: client, to: node, .request(command, token: token, deadline: deadline), now: now, rng: &netRng)
        return token
    }

    /// Proposes directly on `node` (bypassing the network); the outcome lands in `directReplies`.
    @discardableResult
    public func propose(on node: NodeID, _ req: ClientRequest) -> (token: UInt64, refused: ClientOutcome?) {
        propose(on: node, .request(req))
    }

    @discardableResult
    public func propose(on node: NodeID, _ command: LogCommand) -> (token: UInt64, refused: ClientOutcome?) {
        let token = nextToken
        nextToken += 1
        guard let s = service(node) else { return (token, .notLeader(leader: noNode)) }
        let refused = s.submit(command, from: RequestOrigin(caller: directCaller, requestID: token), now: now)
        if let refused { directReplies[token] = refused }
        return (token, refused)
    }

    // MARK: - Time

    /// One tick: every live node ticks, due messages are delivered, then every node runs
    /// its Ready loop (so messages produced in a tick leave together, as batches).
    public func tick() {
        now += 1
        if !restartAt.isEmpty {
            for id in ids where (restartAt[id] ?? UInt64.max) <= now {
                restartAt[id] = nil
                restart(id)
            }
        }
        if !pausedUntil.isEmpty {
            for id in ids where (pausedUntil[id] ?? UInt64.max) <= now {
                pausedUntil[id] = nil
                record(TraceEvent(tick: now, kind: .resume, a: id))
                for m in backlog.removeValue(forKey: id) ?? [] { deliver(from: m.from, to: id, m.payload) }
            }
        }
        if !snapshotJobs.isEmpty { runDueSnapshotJobs() }
        for id in ids where pausedUntil[id] == nil {
            guard let r = replica(id) else { continue }
            r.tick()
            observe(id, r)
        }
        while let (from, to, payload) = network.nextDue(now: now) {
            if pausedUntil[to] != nil {
                backlog[to, default: []].append((from, payload))
                continue
            }
            deliver(from: from, to: to, payload)
        }
        for id in ids where pausedUntil[id] == nil { process(id) }
        if options.logCheckInterval > 0 && now % options.logCheckInterval == 0 { checkLogs() }
    }

    public func run(ticks: Int) {
        for _ in 0..<ticks {
            tick()
            if invariants.violation != nil { return }
        }
    }

    /// Ticks until `done` holds (checked after each tick) or `maxTicks` pass.
    @discardableResult
    public func run(upTo maxTicks: Int, until done: (SimCluster) -> Bool) -> Bool {
        for _ in 0..<maxTicks {
            if done(self) { return true }
            tick()
            if invariants.violation != nil { return false }
        }
        return done(self)
    }

    private func runDueSnapshotJobs() {
        guard snapshotJobs.contains(where: { $0.due <= now }) else { return }
        let jobs = snapshotJobs
        snapshotJobs.removeAll { $0.due <= now }
        for j in jobs where j.due <= now {
            guard let r = replica(j.node), let store = snapshotStores[j.node] else { continue }
            do {
                try r.completeSnapshot(j.job.run(writingWith: store))
                recordDurableSnapshot(Int(j.node - 1), j.job.metadata, fromLeader: false)
            } catch {
                invariants.fail("node \(j.node) failed to record a snapshot: \(error)")
            }
        }
    }

    private func deliver(from: UInt64, to: UInt64, _ payload: SimPacket) {
        switch payload {
        case let .raft(m):
            guard let r = replica(to) else { return }
            record(TraceEvent(tick: now, kind: .deliver, a: from, b: to, c: UInt64(m.kind.tag.rawValue), d: m.term))
            countDelivery(m, to: r)
            r.receive(m)
            observe(to, r)
        case let .request(req, token, callerDeadline):
            let origin = RequestOrigin(caller: from, requestID: token)
            // The simulated network may duplicate a packet; a client connection never does, so a
            // copy of a request still in flight is dropped rather than refused.
            guard let s = service(to), !s.isInFlight(origin) else { return }
            record(TraceEvent(tick: now, kind: .request, a: from, b: to, c: req.request?.sequence ?? 0))
            let deadline = callerDeadline ?? (options.clientDeadlineTicks > 0 ? options.clientDeadlineTicks : nil)
            if let refused = s.submit(req, from: origin, now: now, timeout: deadline) {
                network.send(from: to, to: from, .reply(token: token, reply: s.reply(for: refused)), now: now, rng: &netRng)
            }
        case let .reply(token, reply):
            record(TraceEvent(tick: now, kind: .reply, a: from, b: to, c: token))
            clientInbox[to, default: []].append((token, reply))
        }
    }

    /// Coverage of what a delivery is about to exercise (before the node steps it).
    @inline(__always)
    private func countDelivery(_ m: Message, to r: Replica) {
        if syncAt[Int(r.id - 1)] != .max { coverage[.deliveriesDuringWrite] += 1 }
        switch m.kind {
        case .requestVoteResponse, .appendEntriesResponse, .heartbeatResponse, .installSnapshotResponse:
            if m.term < r.term {
                coverage[.staleResponses] += 1
            } else if m.term > r.term && r.role != .follower {
                coverage[.higherTermResponses] += 1
            }
        case let .appendEntries(prev, _, entries, leaderCommit):
            let lastNew = prev + LogIndex(entries.count)
            if leaderCommit > lastNew && r.lastIndex > lastNew && m.term >= r.term { coverage[.commitClampedToLastNew] += 1 }
        default:
            break
        }
    }

    /// Looks at a node after anything that may have changed its role or commit index: every
    /// leadership is observed (also one that ends within the tick it began), and the term in
    /// which each index was first committed is recorded.
    @inline(__always)
    private func observe(_ id: NodeID, _ r: Replica) {
        let term = r.term
        if term > highestTerm { highestTerm = term }
        if r.committed > invariants.highestCommitted { invariants.observeCommit(r.committed, term: term) }
        let k = Int(id - 1)
        if r.role == .leader {
            guard ledTerm[k] != term else { return }
            if ledTerm[k] != 0 { record(TraceEvent(tick: now, kind: .stepDown, a: id, b: ledTerm[k])) }
            ledTerm[k] = term
            coverage[.elections] += 1
            if term < highestTerm { coverage[.electionsWonLate] += 1 }
            invariants.observeLeader(id, term: term, log: r.node.log)
            record(TraceEvent(tick: now, kind: .leader, a: id, b: term))
        } else if ledTerm[k] != 0 {
            record(TraceEvent(tick: now, kind: .stepDown, a: id, b: ledTerm[k]))
            ledTerm[k] = 0
        }
    }

    /// Runs a node's Ready loop in the phases of `Replica` (the same code kvd runs through
    /// `Replica.process`), with the disk taking time: a write started in one tick may sync
    /// ticks later, while the node keeps receiving messages. A crash may land between phases.
    private func process(_ id: NodeID) {
        let k = Int(id - 1)
        guard let r = replica(id), let service = service(id) else { return }
        if let due = service.nextDeadline, due <= now { service.expire(now: now) { answer(from: id, service, $0, $1) } }
        service.deliverOrphans { answer(from: id, service, $0, $1) }
        do {
            if syncAt[k] != .max {
                guard syncAt[k] <= now, let rd = writing[k] else { return }
                writing[k] = nil
                syncAt[k] = .max
                guard try completeWrite(id, r, rd) else { return }
            }
            while let rd = try r.nextReady() {
                for m in rd.eagerMessages { send(m, from: id, r) }
                try r.write(rd)
                if let snap = rd.snapshot { recordDurableSnapshot(k, snap.metadata, fromLeader: true) }
                guard rd.persists else {
                    guard try completeWrite(id, r, rd) else { return }
                    continue
                }
                if crashMidReady(id, beforeSync: true) { return }
                let latency = options.diskLatency > 0 ? diskRng.below(UInt64(options.diskLatency) + 1) : 0
                if latency > 0 {
                    writing[k] = rd
                    syncAt[k] = now + latency
                    return
                }
                guard try completeWrite(id, r, rd) else { return }
            }
        } catch {
            invariants.fail("node \(id) storage failed: \(error)")
        }
    }

    /// Sync, then (unless a crash lands in between) the promises, apply and advance.
    /// Returns false when the node crashed.
    private func completeWrite(_ id: NodeID, _ r: Replica, _ rd: Ready) throws(StorageError) -> Bool {
        let k = Int(id - 1)
        try r.sync(rd)
        if !rd.entries.isEmpty || rd.hardState != nil, durable[k] != nil {
            // In place: a copy would make the append copy the whole term array.
            let replaced = durable[k]!.recordSync(rd.entries, rd.hardState)
            if replaced > 0 {
                coverage[.truncations] += 1
                coverage[.entriesTruncated] += replaced
            }
        }
        if rd.persists && crashMidReady(id, beforeSync: false) { return false }
        var grantedVote = false
        guard let service = service(id) else { return false }
        try service.finish(rd, send: { m in
            if case .requestVoteResponse(true) = m.kind { grantedVote = true }
            send(m, from: id, r)
        }, deliver: { origin, outcome in answer(from: id, service, origin, outcome) })
        observe(id, r)
        if r.node.protocolViolations > 0 {
            invariants.fail("node \(id) received an AppendEntries that would change committed entries")
        }
        if grantedVote && options.crashAfterVoteRate > 0 && faultRng.chance(options.crashAfterVoteRate) {
            crash(id)
            scheduleRestart(id, at: now + 1 + faultRng.below(3))
            return false
        }
        return true
    }

    /// Routes a resolved request: a direct proposal's outcome to `directReplies`, a client's
    /// as the wire reply kvd would send.
    private func answer(from id: NodeID, _ service: ClientRequestService, _ origin: RequestOrigin, _ outcome: ClientOutcome) {
        if origin.caller == directCaller {
            directReplies[origin.requestID] = outcome
        } else {
            network.send(from: id, to: origin.caller, .reply(token: origin.requestID, reply: service.reply(for: outcome)),
                         now: now, rng: &netRng)
        }
    }

    /// The send path: counts, checks the promise against durable state, hands to the network.
    private func send(_ m: Message, from id: NodeID, _ r: Replica) {
        let tag = Int(m.kind.tag.rawValue)
        sentCounts[tag] += 1
        if case let .appendEntriesResponse(false, _, hintTerm, _) = m.kind {
            sentCounts[0] += 1
            coverage[hintTerm > 0 ? .conflictHints : .shortLogHints] += 1
        }
        if let d = durable[Int(id - 1)] {
            switch m.kind {
            case .requestVoteResponse(true), .appendEntriesResponse(true, _, _, _), .installSnapshotResponse(_, _, true):
                coverage[.promisesChecked] += 1
            default: break
            }
            // The in-memory log names the acknowledged entry only while the node is still in the
            // message's term: with the disk slow, it may have moved on since the Ready was taken.
            if let why = brokenPromise(m, durable: d, memTerm: { r.term == m.term ? r.logTerm(at: $0) : nil }) {
                invariants.fail("persist before you promise: n\(id) \(why): \(m.kind.name) to n\(m.to) term \(m.term) (\(m.kind)); \(d)")
            }
        }
        onSend?(id, m)
        network.send(from: id, to: m.to, .raft(m), now: now, rng: &netRng)
    }

    private func recordDurableSnapshot(_ k: Int, _ meta: SnapshotMetadata, fromLeader: Bool) {
        coverage[fromLeader ? .snapshotInstalls : .localSnapshots] += 1
        guard durable[k] != nil else { return }
        if durable[k]!.recordSnapshot(meta) && fromLeader { coverage[.snapshotInstallsWithConflictingSuffix] += 1 }
    }

    /// A crash inside a Ready (only while faults are active). Returns whether it struck.
    private func crashMidReady(_ id: NodeID, beforeSync: Bool) -> Bool {
        guard faultsActive, options.midReadyCrashRate > 0, diskRng.chance(options.midReadyCrashRate / 2) else { return false }
        // Keep a majority up, as the fault injector does.
        guard ids.count - liveIDs.count < (ids.count - 1) / 2 else { return false }
        coverage[beforeSync ? .crashesBeforeSync : .crashesAfterSync] += 1
        record(TraceEvent(tick: now, kind: .crashMidReady, a: id, b: beforeSync ? 0 : 1))
        crash(id)
        scheduleRestart(id, at: now + 1 + diskRng.below(5))
        return true
    }

    /// Log Matching across all live nodes plus each node's committed prefix.
    public func checkLogs() {
        let logs = liveIDs.map { ($0, replica($0)!.node.log) }
        invariants.checkLogMatching(logs)
        for (id, log) in logs { invariants.checkCommittedPrefix(node: id, log: log) }
    }

    // MARK: - Queries for tests

    /// The live leader with the highest term, if any.
    public var leader: NodeID? {
        var best: (NodeID, Term)?
        for id in liveIDs {
            let n = replica(id)!.node
            if n.role == .leader && (best == nil || n.term > best!.1) { best = (id, n.term) }
        }
        return best?.0
    }

    /// Every live node that believes it leads (possibly several, in different terms).
    public var leaders: [NodeID] { liveIDs.filter { replica($0)!.node.role == .leader } }

    public func node(_ id: NodeID) -> RaftNode? { replica(id)?.node }

    public var maxTerm: Term { liveIDs.map { replica($0)!.node.term }.max() ?? 0 }
}

/// The caller id of proposals made with `propose(on:)` (client endpoints are >= clientBase).
let directCaller: UInt64 = 0

extension SimCluster: ClusterView {
    /// A crashed leader's connections are gone, so members stop redirecting to it at once,
    /// as kvd's do when the peer link drops.
    public func redirectAddress(of leader: NodeID) -> String? {
        ids.contains(leader) && isUp(leader) ? "n\(leader)" : nil
    }
}

/// The simulator's `SnapshotWorker`: queues the job; `runDueSnapshotJobs` writes it later.
private final class DelayedSnapshotWorker: SnapshotWorker {
    let enqueue: (SnapshotJob) -> Void
    init(_ enqueue: @escaping (SnapshotJob) -> Void) { self.enqueue = enqueue }
    func start(_ job: SnapshotJob) { enqueue(job) }
}
