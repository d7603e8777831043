import ClientCore
import KV
import Raft
import Linearizability
import Replica
import Wire

/// Simulated clients: thin shells over `ClientCore`, the state machine `KVClient` runs, so
/// the real client's session, window, routing and retry rules run under the simulator's
/// faults. Each client registers a session through the log, pipelines up to `window`
/// requests, and retries each on its own (same session and sequence) until it is answered.
/// Short-lived clients (`churn`) abandon their session after a few operations and register
/// a new one, filling a small session table so that others' sessions are evicted while
/// they retry; those retries must come back `sessionExpired`, never applied.
/// Every operation is recorded for the linearizability check.
public struct SimClients {
    /// One call: a registration, or a key-value operation recorded as `historyID`.
    struct Call {
        var slot: SessionSlot?
        var command: KVCommand?
        var historyID: Int?
        var retry: CallRetry
        var target: NodeID = noNode
        var token: UInt64 = 0
        var sentAt: UInt64 = 0
        var attempts = 0
        /// Not in flight: (re)send at this tick.
        var resendAt: UInt64? = 0
    }

    struct Client {
        var endpoint: UInt64
        var core: ClientCore<NodeID>
        var calls: [Call] = []
        var readyAt: UInt64 = 0
        /// Operations left before a short-lived client abandons its session; nil: long-lived.
        var lifetime: Int?
    }

    public var history = HistoryRecorder()
    var clients: [Client]
    var rng: SeededRandom
    let keys: [[UInt8]]
    let window: UInt64
    let churnLifetime: ClosedRange<Int>?
    /// Ticks without a reply before a retry on another node.
    public var timeoutTicks: UInt64
    /// New operations are issued only while this is true.
    public var issuing = true
    public private(set) var completedOps = 0
    public private(set) var retries = 0
    /// Requests answered `sessionExpired` (their session was evicted).
    public private(set) var expirations = 0
    /// The most requests one client had in flight at once.
    public private(set) var maxInFlight = 0
    /// Set when a reply contradicts the client protocol or exactly-once.
    public private(set) var violation: String?
    /// The revision each put was stored at, by session slot (a second one: applied twice).
    private var revisions: [SessionSlot: UInt64] = [:]
    /// Every token sent, with its slot, so stale replies are checked too.
    private var tokenSlots: [UInt64: SessionSlot] = [:]

    /// `window`: requests each client may have outstanding (the session window).
    /// `churn`: half the clients are short-lived, living this many operations per session.
    public init(count: Int, keys: Int, nodes: [NodeID], timeoutTicks: UInt64, rng: SeededRandom,
                window: UInt64 = 1, churn: ClosedRange<Int>? = nil) {
        var rng = rng
        self.keys = (0..<keys).map { Array("k\($0)".utf8) }
        self.timeoutTicks = timeoutTicks
        self.window = window
        churnLifetime = churn
        // One tick is one millisecond of the core's clock.
        let policy = RetryPolicy(backoffMin: .milliseconds(1), backoffMax: .milliseconds(16))
        clients = (0..<count).map { i in
            var core = ClientCore(endpoints: nodes, window: window, policy: policy,
                                  downMin: .milliseconds(2), downMax: .milliseconds(40))
            // Start from a random node, as the old clients did.
            for _ in 0..<rng.below(UInt64(nodes.count)) { _ = core.target(now: .zero) }
            return Client(endpoint: clientBase + UInt64(i), core: core)
        }
        self.rng = rng
        if let churn { for i in clients.indices where i % 2 == 1 { clients[i].lifetime = draw(churn) } }
    }

    public var outstanding: Int { clients.reduce(0) { $0 + $1.calls.count } }
    public var allIdle: Bool { clients.allSatisfy { $0.calls.isEmpty } }

    /// One tick of client behaviour: read replies, retry what timed out, issue new work.
    public mutating func step(_ cluster: SimCluster) {
        for i in clients.indices {
            let replies = cluster.clientInbox.removeValue(forKey: clients[i].endpoint) ?? []
            for (token, reply) in replies { handle(i, token: token, reply: reply, cluster) }
            timeOut(i, cluster)
            issue(i, cluster)
            resend(i, cluster)
            maxInFlight = max(maxInFlight, clients[i].calls.count)
        }
    }

    private static func time(_ tick: UInt64) -> ClientTime { .milliseconds(Int64(tick)) }

    private static func ticks(_ d: Duration) -> UInt64 {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return UInt64(max(0, ms))
    }

    private mutating func draw(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.below(UInt64(r.count))) }

    // MARK: Issuing

    /// Starts new calls while the session allows (a few per tick, so windows fill up).
    private mutating func issue(_ i: Int, _ cluster: SimCluster) {
        guard issuing, cluster.now >= clients[i].readyAt else { return }
        for _ in 0...rng.below(4) {
            let start = clients[i].core.session.start()
            switch start {
            case .wait: return
            case .register:
                clients[i].calls.append(Call(retry: CallRetry(now: Self.time(cluster.now), timeout: nil, policy: clients[i].core.policy)))
                return
            case let .go(slot):
                let (kind, command) = randomOperation(i, slot)
                let hid = history.invoke(client: clients[i].endpoint, kind: kind, at: cluster.now)
                clients[i].calls.append(Call(slot: slot, command: command, historyID: hid,
                                             retry: CallRetry(now: Self.time(cluster.now), timeout: nil, policy: clients[i].core.policy)))
            }
        }
        clients[i].readyAt = cluster.now + rng.below(3)
    }

    private mutating func randomOperation(_ i: Int, _ slot: SessionSlot) -> (KVOperationKind, KVCommand) {
        let key = keys[Int(rng.below(UInt64(keys.count)))]
        switch rng.below(10) {
        case 0..<5:
            let value = Array("c\(clients[i].endpoint - clientBase).\(slot.sessionID).\(slot.sequence)".utf8)
            return (.put(key: key, value: value), .put(key: key, value: value))
        case 5..<9:
            return (.get(key: key), .get(key: key))
        default:
            return (.delete(key: key), .delete(key: key))
        }
    }

    // MARK: Sending

    /// Sends every call that is due, to wherever the core says.
    private mutating func resend(_ i: Int, _ cluster: SimCluster) {
        for c in clients[i].calls.indices {
            guard let due = clients[i].calls[c].resendAt, due <= cluster.now else { continue }
            switch clients[i].core.target(now: Self.time(cluster.now)) {
            case let .failure(wait):
                clients[i].calls[c].resendAt = max(cluster.now + 1, Self.ticks(wait.time))
            case let .success(node):
                var call = clients[i].calls[c]
                let command: LogCommand
                if let slot = call.slot, let kv = call.command {
                    command = .request(clients[i].core.session.request(slot, kv))
                } else {
                    command = .register
                }
                if call.attempts > 0 { retries += 1 }
                call.attempts += 1
                call.target = node
                call.sentAt = cluster.now
                call.resendAt = nil
                // The request carries this attempt's timeout as its deadline, as KVClient's do.
                let deadline = Self.ticks(call.retry.attemptTimeout(base: .milliseconds(Int64(timeoutTicks))))
                call.token = cluster.sendRequest(from: clients[i].endpoint, to: node, command, deadline: deadline)
                if let slot = call.slot { tokenSlots[call.token] = slot }
                clients[i].calls[c] = call
            }
        }
    }

    /// A call with no reply within the attempt timeout: the core fails over.
    private mutating func timeOut(_ i: Int, _ cluster: SimCluster) {
        for c in clients[i].calls.indices {
            let call = clients[i].calls[c]
            let limit = Self.ticks(call.retry.attemptTimeout(base: .milliseconds(Int64(timeoutTicks))))
            guard call.resendAt == nil, cluster.now >= call.sentAt + limit else { continue }
            decide(i, c, .timedOut, cluster)
        }
    }

    /// Lets the core decide the retry for call `c` after `event`.
    private mutating func decide(_ i: Int, _ c: Int, _ event: AttemptEvent<NodeID>, _ cluster: SimCluster) {
        let now = Self.time(cluster.now), target = clients[i].calls[c].target
        var retry = clients[i].calls[c].retry
        var decision = clients[i].core.handle(event, at: target, call: &retry, now: now)
        if decision == .learnMembers {  // simulated redirects always carry the node id itself
            decision = clients[i].core.handle(event, at: target, call: &retry, now: now, afterLearning: true)
        }
        clients[i].calls[c].retry = retry
        if case let .retry(after: wait) = decision { clients[i].calls[c].resendAt = cluster.now + Self.ticks(wait) }
    }

    // MARK: Replies

    private mutating func handle(_ i: Int, token: UInt64, reply: ClientReply, _ cluster: SimCluster) {
        if case let .kv(.stored(rev)) = reply, let slot = tokenSlots[token] { checkAppliedOnce(slot, rev) }
        // A stale attempt's reply (the call was resent or finished) is otherwise ignored.
        guard let c = clients[i].calls.firstIndex(where: { $0.token == token && $0.resendAt == nil }) else { return }
        switch reply {
        case let .kv(r): answered(i, c, r, cluster)
        case let .error(.notLeader(leader, _)):
            decide(i, c, .notLeader(leaderID: leader, leader: cluster.ids.contains(leader) ? leader : nil), cluster)
        case .error(.unavailable): decide(i, c, .unavailable, cluster)
        case .error(.busy): decide(i, c, .busy, cluster)
        case .error(.timeout): decide(i, c, .serverTimedOut, cluster)
        case .error(.shuttingDown): decide(i, c, .shuttingDown, cluster)
        case let .error(e):
            violation = "client \(clients[i].endpoint - clientBase): unexpected refusal: \(e)"
        case .status, .members, .hello:
            violation = "client \(clients[i].endpoint - clientBase): a non-KV reply to a KV call"
        }
    }

    private mutating func checkAppliedOnce(_ slot: SessionSlot, _ revision: UInt64) {
        if let first = revisions.updateValue(revision, forKey: slot), first != revision {
            violation = "session \(slot.sessionID) seq \(slot.sequence) applied twice: stored at revisions \(first) and \(revision)"
        }
    }

    private mutating func answered(_ i: Int, _ c: Int, _ result: KVResult, _ cluster: SimCluster) {
        let call = clients[i].calls.remove(at: c)
        clients[i].core.succeeded(at: call.target)
        let outcome: KVOperationOutcome
        switch result {
        case let .registered(id):
            guard call.slot == nil else { violation = "a key-value request was answered registered(\(id))"; return }
            clients[i].core.session.registered(id)
            return
        case .sessionExpired:
            // Evicted: not applied now; whether an earlier attempt was is unknown. New session.
            guard let slot = call.slot, let hid = call.historyID else { violation = "a registration was answered sessionExpired"; return }
            history.giveUp(id: hid)
            clients[i].core.session.expired(slot.sessionID)
            expirations += 1
            return
        case let .refused(why):
            violation = "client \(clients[i].endpoint - clientBase): request refused by the session rules: \(why)"
            return
        case .stored: outcome = .ok
        case let .value(v): outcome = .value(v)
        case let .deleted(n): outcome = .deleted(n)
        }
        guard let slot = call.slot, let hid = call.historyID else { violation = "a registration was answered \(result)"; return }
        history.complete(id: hid, outcome: outcome, at: cluster.now)
        clients[i].core.session.finish(slot)
        completedOps += 1
        retireIfDone(i)
    }

    /// A short-lived client that used up its operations leaves; a new one (same endpoint,
    /// new session) takes its place. Its old session stays in the table until evicted.
    private mutating func retireIfDone(_ i: Int) {
        guard let left = clients[i].lifetime, let churn = churnLifetime else { return }
        if left > 1 { clients[i].lifetime = left - 1; return }
        clients[i].lifetime = draw(churn)
        if let id = clients[i].core.session.sessionID { clients[i].core.session.expired(id) }
    }

    /// Ends the run: operations still outstanding have an unknown outcome.
    public mutating func giveUpOutstanding() {
        for i in clients.indices {
            for call in clients[i].calls { if let hid = call.historyID { history.giveUp(id: hid) } }
            clients[i].calls.removeAll()
        }
    }
}
