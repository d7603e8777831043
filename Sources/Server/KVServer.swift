import Logging
import Dispatch
import Glibc
import Posix
import KV
import Raft
import Replica
import Service
import Storage
import Synchronization
import Transport
import Wire

/// One kvd node: ONE `Replica` driven from ONE `EventLoop` thread, so the core, the state
/// machine and the storage are never touched concurrently.
///
/// Per loop wake-up: events (peer frames, client calls, the tick timer) feed the replica,
/// and each batch of events ends with exactly one `Replica.process`, so many client requests
/// become one Ready and one fsync (group commit). Client replies leave only through
/// process's reply callback, i.e. after the entry is durable on a quorum and applied.
public final class KVServer: @unchecked Sendable {
    // @unchecked Sendable: `config`, `loop`, `shared` and `stopped` are immutable or
    // synchronized. Everything else (marked "loop-confined") is created by the start task and
    // then touched only by loop tasks, timers and I/O callbacks, which all run on the single
    // loop thread; public methods reach it only through `loop.execute`/`submitAndWait`.

    public let config: ServerConfig
    public let loop: EventLoop

    private struct Shared {
        var clientAddress: SocketAddress?
        var peerAddress: SocketAddress?
        var started = false
        var finished = false
        var failure: ServerError?
    }
    private let shared = Mutex(Shared())
    private let stopped = DispatchSemaphore(value: 0)

    // Loop-confined.
    private var log: ServerLog
    private var replica: Replica?
    /// The client-request lifecycle over `replica` (the same module the simulator drives).
    private var service: ClientRequestService?
    private var wal: WALStorage?
    private var lock: DataDirLock?
    private var snapshotWriter: SnapshotWriter?
    private var peers: PeerNetwork?
    private var clients: ClientGateway?
    private var signals: SignalWatcher?
    private var tickTimer: TimerHandle?
    private var processScheduled = false
    private var stopping = false
    private var processCalls: UInt64 = 0

    public init(config: ServerConfig) throws(ServerError) {
        try config.validate()
        self.config = config
        self.log = ServerLog(logger: config.logger)
        do {
            loop = try EventLoop()
        } catch {
            throw .transport(error)
        }
        log.term = { [weak self] in self?.replica?.node.term ?? 0 }
    }

    // MARK: Lifecycle (any thread)

    /// Binds both ports, opens the data directory and starts the node. On failure nothing
    /// stays open and the error says what to fix.
    public func start() throws(ServerError) {
        let first = shared.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else { throw .notStartable("server \(config.name) was already started") }
        loop.start(name: "kvd-\(config.name)")
        do {
            try loop.submitAndWait { [self] in try setUp() }
        } catch {
            loop.shutdown()
            markFinished(nil)
            if let e = error as? ServerError { throw e }
            if let e = error as? TransportError { throw .transport(e) }
            throw .notStartable("\(error)")
        }
    }

    /// Graceful stop from any thread: stop ticking, answer pending clients, close sockets,
    /// close the log. Returns once the loop thread has exited. Idempotent.
    public func shutdown() {
        try? loop.execute { [self] in stop(reason: "shutdown requested") }
        wait()
    }

    /// Blocks until the server has stopped (shutdown, a signal, or a fatal storage error).
    /// Returns the fatal error, if that is why it stopped.
    @discardableResult
    public func wait() -> ServerError? {
        if !shared.withLock({ $0.finished }) {
            stopped.wait()
            stopped.signal()  // let other waiters through
        }
        loop.shutdown()  // joins the loop thread (the stop task already asked it to end)
        return shared.withLock { $0.failure }
    }

    /// The bound client address (the kernel's choice when the port was 0). Set by `start`.
    public var clientAddress: SocketAddress? { shared.withLock { $0.clientAddress } }
    public var peerAddress: SocketAddress? { shared.withLock { $0.peerAddress } }

    /// SIGTERM/SIGINT stop the server gracefully. Block them first (`SignalWatcher.block`
    /// at the top of main, before any thread starts).
    public func handleSignals(_ list: [Int32] = [SIGTERM, SIGINT]) throws(ServerError) {
        do {
            try loop.submitAndWait { [self] in
                signals = try SignalWatcher(loop: loop, signals: list) { [weak self] signo in
                    self?.stop(reason: signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "signal \(signo)")
                }
            }
        } catch {
            throw .transport((error as? TransportError) ?? .loopShutdown)
        }
    }

    /// A snapshot of the node's view, taken on the loop (tests, tools).
    public func currentStatus() -> StatusInfo? {
        try? loop.submitAndWait { [self] in replica.map { _ in status() } }
    }

    /// Names of members this node has a working outgoing link to.
    public func connectedPeers() -> [String] {
        (try? loop.submitAndWait { [self] in peers?.connectedPeers ?? [] }) ?? []
    }

    private func markFinished(_ failure: ServerError?) {
        let signal = shared.withLock { s -> Bool in
            if s.failure == nil { s.failure = failure }
            defer { s.finished = true }
            return !s.finished
        }
        if signal { stopped.signal() }
    }

    // MARK: Start-up (loop thread)

    private func setUp() throws(ServerError) {
        let me = config.me!  // validate() checked
        let clientListen: SocketAddress, peerListen: SocketAddress
        do {
            clientListen = try SocketAddress(parsing: config.listenClient)
        } catch {
            throw .config("--listen-client: \(error)")
        }
        do {
            peerListen = try SocketAddress(parsing: config.listenPeer)
        } catch {
            throw .config("--listen-peer: \(error)")
        }
        do {
            try setUpNode(me: me, clientListen: clientListen, peerListen: peerListen)
        } catch {
            tearDown()
            throw error
        }
    }

    /// Start-up in order: ports first (a clash is the most common start-up error and must not
    /// touch the disk), then the disk, then the background writer, links and the tick.
    private func setUpNode(me: Member, clientListen: SocketAddress, peerListen: SocketAddress) throws(ServerError) {
        let budget = try descriptorBudget()
        let clientAddress = try openClientPort(clientListen, maxConnections: budget.clientConnections)
        let advertised = config.advertiseClient ?? clientAddress.description
        let peers = try openPeerPort(peerListen, me: me, advertisedClientURL: advertised, maxConnections: budget.peerConnections)
        let replica = try openReplica(me: me)
        startClientService(over: replica)
        startSnapshotWriter(for: replica)
        connectPeers(peers)
        tickTimer = loop.scheduleRepeating(every: config.tickMilliseconds) { [weak self] in self?.tick() }
        let peerAddress = peers.listenAddress ?? peerListen
        shared.withLock {
            $0.clientAddress = clientAddress
            $0.peerAddress = peerAddress
        }
        logStarted(me: me, client: clientAddress, advertised: advertised, peer: peerAddress)
        requestProcess()  // a restarted node may have committed entries to apply
    }

    /// Raises RLIMIT_NOFILE to the hard limit (logged) and shares the descriptors out, so
    /// client connections can never take the ones the disk and the peers need.
    private func descriptorBudget() throws(ServerError) -> DescriptorBudget {
        let limit: DescriptorLimit
        do {
            limit = config.raiseDescriptorLimit ? try DescriptorLimit.raiseToHard() : try DescriptorLimit.current()
        } catch {
            throw .notStartable("cannot read the file descriptor limit: \(error)")
        }
        guard let budget = DescriptorBudget(limit: limit.soft, members: config.members.count,
                                            maxPeerConnections: config.peerConnectionLimit,
                                            maxClientConnections: config.maxClientConnections) else {
            throw .notStartable("the file descriptor limit (RLIMIT_NOFILE \(limit.soft), hard \(limit.hard)) leaves no room for client"
                + " connections: raise it (ulimit -n) to at least \(DescriptorBudget.reserve(members: config.members.count) + config.peerConnectionLimit + 64)")
        }
        log.info("file descriptor limit", ["nofile": limit.soft, "hard": limit.hard, "reserved": budget.reserved,
                                           "max_peer_connections": budget.peerConnections,
                                           "max_client_connections": budget.clientConnections])
        if budget.clientConnections < config.maxClientConnections {
            log.warn("client connection limit lowered to fit the file descriptor limit",
                     ["configured": config.maxClientConnections, "in_force": budget.clientConnections, "nofile": limit.soft])
        }
        return budget
    }

    /// Binds the client port; returns the bound address.
    private func openClientPort(_ address: SocketAddress, maxConnections: Int) throws(ServerError) -> SocketAddress {
        let clients = ClientGateway(
            loop: loop,
            limits: .init(maxRequestBytes: config.maxRequestBytes, requestTimeoutMilliseconds: config.requestTimeoutMilliseconds,
                          maxInflightPerConnection: config.maxInflightPerConnection,
                          maxPendingTotal: config.maxPendingRequests, maxConnections: maxConnections, maxConnectionsPerAddress: config.maxClientConnectionsPerAddress,
                          idleTimeoutMilliseconds: config.clientIdleTimeoutMilliseconds,
                          frameTimeoutMilliseconds: config.frameTimeoutMilliseconds,
                          maxOutboundBytesPerConnection: config.maxOutboundBytesPerConnection,
                          outboundBudgetBytes: config.outboundBudgetBytes),
            backend: self, log: log)
        self.clients = clients
        do {
            try clients.listen(on: address)
        } catch {
            throw .listen(which: "client", error)
        }
        return clients.listenAddress ?? address
    }

    private func openPeerPort(_ address: SocketAddress, me: Member, advertisedClientURL: String,
                              maxConnections: Int) throws(ServerError) -> PeerNetwork {
        let peers = PeerNetwork(loop: loop, me: me, members: config.members, clusterToken: config.clusterToken,
                                advertisedClientURL: advertisedClientURL,
                                handshakeTimeoutMilliseconds: config.handshakeTimeoutMilliseconds,
                                maxInboundConnections: maxConnections, log: log)
        self.peers = peers
        do {
            try peers.listen(on: address)
        } catch {
            throw .listen(which: "peer", error)
        }
        return peers
    }

    /// Locks the data directory, checks its identity and recovers the replica from it.
    private func openReplica(me: Member) throws(ServerError) -> Replica {
        let fs = PosixFileSystem()
        do {
            try fs.makeDirectory(config.dataDir)
            lock = try DataDirLock(directory: config.dataDir)
        } catch {
            throw .storage(dataDir: config.dataDir, error)
        }
        let replica: Replica
        do {
            let wal = try WALStorage(directory: config.dataDir,
                                     identity: DataDirIdentity(clusterToken: config.clusterToken, nodeID: me.id, nodeName: me.name),
                                     fileSystem: fs)
            wal.onWarning = { [log] w in log.warn("storage recovery", ["detail": w]) }
            self.wal = wal
            var raft = RaftConfig(id: me.id, voters: config.members.map(\.id))
            raft.electionTicks = config.electionTicks
            raft.heartbeatTicks = config.heartbeatTicks
            if let problem = raft.validate() { throw ServerError.config("raft configuration: \(problem)") }
            var options = Replica.Options()
            options.snapshotEvery = config.snapshotEvery
            options.sessionLimits.maxSessions = config.maxSessions
            let storage = InstrumentedStorage(wal, slowMilliseconds: config.slowSyncMilliseconds, log: log)
            replica = try Replica(config: raft, storage: storage, seed: config.seed, options: options,
                                  recoveryMarker: RecoveryMarker(fileSystem: fs, directory: config.dataDir),
                                  clusterState: config.initialClusterState)
        } catch let e as ServerError {
            throw e
        } catch let e as StorageError {
            throw .storage(dataDir: config.dataDir, e)
        } catch {
            throw .notStartable("\(error)")
        }
        replica.onSoftState = { [weak self] s in self?.softStateChanged(s) }
        replica.onEvent = { [weak self] e in self?.raftEvent(e) }
        replica.onUndecodableEntry = { [log] entry, error in
            // Every replica skips it alike, so they stay equal; but it means a bug or a foreign
            // writer, so it is loud. The count is in `kvctl endpoint status -w json`.
            log.error("committed entry does not decode; skipped", ["index": entry.index, "term": entry.term, "error": error])
        }
        self.replica = replica
        return replica
    }

    /// The client-request lifecycle over the replica: one set of capacities, here.
    private func startClientService(over replica: Replica) {
        var limits = ClientRequestService.Limits()
        limits.maxPending = config.maxPendingRequests
        limits.maxInflightPerCaller = config.maxInflightPerConnection
        limits.requestTimeout = UInt64(config.requestTimeoutMilliseconds) * 1_000_000
        limits.deadlineMarginCap = 100_000_000  // 100 ms (docs/protocol.md, "Deadlines")
        let service = ClientRequestService(replica: replica, limits: limits, view: self)
        self.service = service
        clients?.service = service
    }

    /// Local snapshots are encoded and written on the writer's own thread, started now (not
    /// on first use, when descriptors may have run out); results come back on the loop.
    private func startSnapshotWriter(for replica: Replica) {
        guard let wal else { return }
        let writer = SnapshotWriter(store: wal.snapshotStore(fileSystem: PosixFileSystem()), threadName: "kvd-\(config.name)-snap")
        snapshotWriter = writer
        replica.snapshotWorker = LoopSnapshotWorker(writer: writer, loop: loop) { [weak self] result, ms in
            self?.snapshotJobDone(result, milliseconds: ms)
        }
    }

    private func connectPeers(_ peers: PeerNetwork) {
        peers.onMessages = { [weak self] messages in
            guard let self, let replica = self.replica, !self.stopping else { return }
            for m in messages { replica.receive(m) }
            self.requestProcess()
        }
        peers.localCommitIndex = { [weak self] in self?.replica?.node.log.committed ?? 0 }
        peers.onPeerHasCommitted = { [weak self] member, commit in self?.peerHasCommitted(member, commit: commit) }
        peers.connect(connectTimeoutMilliseconds: config.peerConnectTimeoutMilliseconds,
                      maxBackoffMilliseconds: config.peerMaxBackoffMilliseconds, seed: config.seed ^ 0x5EED)
    }

    private func logStarted(me: Member, client: SocketAddress, advertised: String, peer: SocketAddress) {
        guard let node = replica?.node else { return }
        log.info("started", [
            "name": me.name, "id": me.id, "client": client, "advertise_client": advertised, "peer": peer,
            "data_dir": config.dataDir, "members": config.members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","),
            "first_index": node.log.firstIndex, "last_index": node.log.lastIndex, "commit": node.log.committed,
            "tick_ms": config.tickMilliseconds, "election_ticks": config.electionTicks,
            "heartbeat_ticks": config.heartbeatTicks, "snapshot_count": config.snapshotEvery,
            "initial_cluster_state": config.initialClusterState.rawValue,
        ])
        if node.recovering {
            log.warn("recovering from a lost disk: this member will not vote or campaign until it has caught up with a leader",
                     ["data_dir": config.dataDir, "marker": RecoveryMarker.fileName])
        }
    }

    /// Releases whatever a failed start-up opened (loop thread).
    private func tearDown() {
        tickTimer?.cancel()
        clients?.shutdown()
        peers?.close()
        signals?.cancel()
        snapshotWriter?.shutdown()
        try? wal?.close()
        lock?.release()
        clients = nil
        peers = nil
        service = nil
        replica = nil
        wal = nil
        lock = nil
    }

    // MARK: Driving the replica (loop thread)

    private func tick() {
        guard let replica, !stopping else { return }
        replica.tick()
        clients?.expire(now: MonotonicClock.nanoseconds())
        requestProcess()
    }

    /// Schedules one process() after the current batch of events. Tasks queued while events
    /// are handled run in the same loop iteration, after all of them.
    func requestProcess() {
        guard !processScheduled, !stopping else { return }
        processScheduled = true
        do {
            try loop.execute { [weak self] in self?.runProcess() }
        } catch {
            processScheduled = false  // queue full: the next tick will try again
        }
    }

    private func runProcess() {
        processScheduled = false
        guard let service, let peers, let clients, !stopping else { return }
        processCalls += 1
        do {
            try service.process(send: { peers.enqueue($0) }, beforePersist: { peers.flush(immediately: true) },
                                deliver: { clients.deliver($0, $1) })
        } catch {
            // The log's state is unknown after a failed write or fsync: stop rather than
            // risk acknowledging something that is not durable.
            log.error("storage failure; stopping", ["error": error])
            peers.flush()
            stop(reason: "storage failure", failure: .storage(dataDir: config.dataDir, error))
            return
        }
        peers.flush()
    }

    /// A background snapshot finished (loop thread): record it and compact, or stop on failure.
    private func snapshotJobDone(_ result: Result<Snapshot, StorageError>, milliseconds: Int) {
        guard let replica, !stopping else { return }
        do {
            if case let .success(snap) = result {
                log.info("snapshot written in the background", ["index": snap.metadata.index, "bytes": snap.data.count, "duration_ms": milliseconds])
            }
            try replica.completeSnapshot(result)
        } catch {
            log.error("snapshot failed; stopping", ["error": error])
            stop(reason: "storage failure", failure: .storage(dataDir: config.dataDir, error))
            return
        }
        requestProcess()
    }

    private func softStateChanged(_ s: SoftState) {
        switch s.role {
        case .leader:
            log.info("became leader at term \(s.term)")
        case .candidate:
            log.info("became candidate at term \(s.term)")
        case .follower:
            if s.leader == noNode {
                log.info("follower at term \(s.term), no leader known")
            } else {
                log.info("became follower of \(memberName(s.leader)) at term \(s.term)")
            }
        }
    }

    private func raftEvent(_ e: RaftEvent) {
        switch e {
        case let .followerLostEntries(peer, index, acknowledged):
            log.error("follower lost entries it had acknowledged (its disk lost them); re-replicating it, and it counts toward commit only once it holds them again",
                      ["peer": memberName(peer), "rejected_index": index, "acknowledged_through": acknowledged])
        case .recoveryStarted:
            log.warn("recovering: this member's storage is empty but the cluster has a history; it will not vote until it has caught up")
        case let .recoveryFinished(commit, term):
            log.info("recovered from a lost disk: caught up with the leader; voting again", ["commit": commit, "term": term])
        }
    }

    /// A peer's handshake shows committed entries, so a majority stores entries. If our log is
    /// still empty from an empty start, our disk may have been lost (or we joined late at
    /// bootstrap): recover before voting. A majority is never empty here, so this cannot
    /// leave a cluster with too few voters.
    private func peerHasCommitted(_ member: Member, commit: UInt64) {
        guard let replica, !stopping, replica.startedEmpty, !replica.node.recovering,
              replica.node.log.lastIndex == 0 else { return }
        do {
            try replica.enterRecovery()
        } catch {
            log.error("cannot record recovery; stopping", ["error": error])
            stop(reason: "storage failure", failure: .storage(dataDir: config.dataDir, error))
            return
        }
        log.warn("peer has a history but our storage started empty: entering recovery",
                 ["peer": member.name, "peer_commit": commit])
        requestProcess()
    }

    private func memberName(_ id: NodeID) -> String {
        config.members.first { $0.id == id }?.name ?? "node \(id)"
    }

    // MARK: Stopping (loop thread)

    private func stop(reason: String, failure: ServerError? = nil) {
        guard !stopping else { return }
        stopping = true
        log.info("stopping", ["reason": reason])
        tickTimer?.cancel()
        clients?.shutdown()
        peers?.close()
        signals?.cancel()
        snapshotWriter?.shutdown()  // waits for a write in progress; its result is not recorded
        if failure == nil {
            do {
                try wal?.close()
            } catch {
                log.error("closing the log failed", ["error": error])
            }
        }
        lock?.release()
        log.info("stopped", ["process_calls": processCalls])
        markFinished(failure)
        loop.shutdown()  // on the loop: ends after this iteration, which flushes pending writes
    }
}

// MARK: - ClientBackend

extension KVServer: ClientBackend, ClusterView {
    func status() -> StatusInfo {
        let node = replica!.node
        let me = config.me!
        return StatusInfo(name: me.name, id: me.id, role: node.role, term: node.term, leaderID: node.leader,
                          leaderName: node.leader == noNode ? "" : memberName(node.leader),
                          commitIndex: node.log.committed, appliedIndex: min(node.log.applied, node.log.committed),
                          logSize: node.log.lastIndex + 1 - node.log.firstIndex,
                          firstIndex: node.log.firstIndex, lastIndex: node.log.lastIndex,
                          sessions: UInt64(replica!.kv.sessionCount), sessionLimit: UInt64(replica!.kv.limits.maxSessions),
                          undecodableEntries: replica!.undecodableEntries)
    }

    func memberList() -> [MemberInfo] {
        config.members.map { m in
            MemberInfo(id: m.id, name: m.name, peerURL: m.peerURL, clientURL: clientURL(of: m.id) ?? "")
        }
    }

    func scheduleExpiry(after milliseconds: Int) {
        _ = loop.schedule(after: milliseconds) { [weak self] in
            guard let self, !self.stopping else { return }
            self.clients?.expire(now: MonotonicClock.nanoseconds())
        }
    }

    var selfID: NodeID { config.me!.id }
    var selfName: String { config.me!.name }

    func clientURL(of id: NodeID) -> String? {
        if id == selfID { return peers?.advertisedClientURL }
        return peers?.clientURLs[id]
    }

    /// Redirect only to a leader we hold a live link to: once its connection drops (a killed
    /// leader), followers answer `unavailable` instead of sending clients to a dead address
    /// for the rest of the election timeout.
    public func redirectAddress(of leader: NodeID) -> String? {
        guard leader == selfID || peers?.isConnected(leader) == true else { return nil }
        return clientURL(of: leader)
    }
}

/// kvd's `SnapshotWorker`: the job runs on the background `SnapshotWriter`; its result hops
/// back to the loop (outside the task-queue bound: at most one job is in flight, so it can
/// never be refused for a full queue and never needs a retry loop).
private final class LoopSnapshotWorker: SnapshotWorker {
    let writer: SnapshotWriter
    let loop: EventLoop
    let done: @Sendable (Result<Snapshot, StorageError>, Int) -> Void

    init(writer: SnapshotWriter, loop: EventLoop, done: @escaping @Sendable (Result<Snapshot, StorageError>, Int) -> Void) {
        self.writer = writer
        self.loop = loop
        self.done = done
    }

    func start(_ job: SnapshotJob) {
        let loop = self.loop, done = self.done
        writer.submit(SnapshotWriter.Job(metadata: job.metadata, encode: { job.state.snapshotBytes() }) { result, ms in
            try? loop.executeReserved { done(result, ms) }  // fails only when shutting down: not recorded
        })
    }
}
