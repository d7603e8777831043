import KV
import Raft
import Linearizability
import Replica
import Wire

/// Simulated clients: each registers a session, then issues one operation at a time to the node it believes leads,
/// follows not-leader hints, and on timeout retries elsewhere with the same (client id,
/// sequence) so the session layer applies it at most once. Every operation is recorded
/// for the linearizability check.
public struct SimClients {
    struct Outstanding {
        /// A session registration, or a request recorded in the history as `historyID`.
        var request: LogCommand
        var historyID: Int?
        var token: UInt64
        var sentAt: UInt64
        var attempts: Int
    }

    struct Client {
        var endpoint: UInt64
        /// The registered session; nil until the registration is answered or after it expired.
        var clientID: UInt64?
        var sequence: UInt64 = 0
        var target: NodeID
        var op: Outstanding?
        var readyAt: UInt64 = 0
        var completed = 0
    }

    public var history = HistoryRecorder()
    var clients: [Client]
    var rng: SeededRandom
    let keys: [[UInt8]]
    /// Ticks without a reply before a retry on another node.
    public var timeoutTicks: UInt64
    /// New operations are issued only while this is true.
    public var issuing = true
    public private(set) var completedOps = 0
    public private(set) var retries = 0
    /// Requests answered `sessionExpired` (their session was evicted).
    public private(set) var expirations = 0
    /// Set when a reply contradicts the client protocol (e.g. a session expired unasked).
    public private(set) var violation: String?

    public init(count: Int, keys: Int, nodes: [NodeID], timeoutTicks: UInt64, rng: SeededRandom) {
        var rng = rng
        self.keys = (0..<keys).map { Array("k\($0)".utf8) }
        self.timeoutTicks = timeoutTicks
        clients = (0..<count).map { i in
            Client(endpoint: clientBase + UInt64(i), target: nodes[Int(rng.below(UInt64(nodes.count)))])
        }
        self.rng = rng
    }

    public var outstanding: Int { clients.filter { $0.op != nil }.count }
    public var allIdle: Bool { clients.allSatisfy { $0.op == nil } }

    /// One tick of client behaviour: read replies, retry what timed out, issue new work.
    public mutating func step(_ cluster: SimCluster) {
        for i in clients.indices {
            let replies = cluster.clientInbox.removeValue(forKey: clients[i].endpoint) ?? []
            for (token, reply) in replies { handle(i, token: token, reply: reply, cluster) }
            if let op = clients[i].op, cluster.now >= op.sentAt + timeoutTicks {
                retries += 1
                clients[i].target = cluster.ids[Int(rng.below(UInt64(cluster.ids.count)))]
                resend(i, cluster)
            }
            if clients[i].op == nil && issuing && cluster.now >= clients[i].readyAt {
                issue(i, cluster)
            }
        }
    }

    private mutating func issue(_ i: Int, _ cluster: SimCluster) {
        guard let clientID = clients[i].clientID else {
            clients[i].op = Outstanding(request: .register, historyID: nil, token: 0, sentAt: cluster.now, attempts: 0)
            return resend(i, cluster)
        }
        clients[i].sequence += 1
        let seq = clients[i].sequence
        let key = keys[Int(rng.below(UInt64(keys.count)))]
        let kind: KVOperationKind
        let command: KVCommand
        switch rng.below(10) {
        case 0..<5:
            let value = Array("c\(clients[i].endpoint - clientBase).\(seq)".utf8)
            kind = .put(key: key, value: value); command = .put(key: key, value: value)
        case 5..<9:
            kind = .get(key: key); command = .get(key: key)
        default:
            kind = .delete(key: key); command = .delete(key: key)
        }
        // One operation at a time: everything below this sequence has been answered.
        let req = ClientRequest(clientID: clientID, sequence: seq, firstUnacknowledged: seq, command: command)
        let hid = history.invoke(client: clientID, kind: kind, at: cluster.now)
        clients[i].op = Outstanding(request: .request(req), historyID: hid, token: 0, sentAt: cluster.now, attempts: 0)
        resend(i, cluster)
    }

    private mutating func resend(_ i: Int, _ cluster: SimCluster) {
        guard var op = clients[i].op else { return }
        op.attempts += 1
        op.sentAt = cluster.now
        op.token = cluster.sendRequest(from: clients[i].endpoint, to: clients[i].target, op.request)
        clients[i].op = op
    }

    private mutating func handle(_ i: Int, token: UInt64, reply: ClientReply, _ cluster: SimCluster) {
        guard let op = clients[i].op, op.token == token else { return } // a stale attempt's reply
        switch reply {
        case let .kv(r):
            let o: KVOperationOutcome
            switch r {
            case .stored: o = .ok
            case let .value(v): o = .value(v)
            case let .deleted(n): o = .deleted(n)
            case let .registered(id):
                clients[i].clientID = id
                clients[i].sequence = 0
                clients[i].op = nil
                return
            case .sessionExpired:
                // Evicted: the outcome is unknown; start a new session.
                if let hid = op.historyID { history.giveUp(id: hid) }
                clients[i].clientID = nil
                clients[i].op = nil
                expirations += 1
                return
            case let .refused(why):
                violation = "client \(clients[i].clientID ?? 0): request refused by the session rules: \(why)"
                return
            }
            guard let hid = op.historyID else {
                violation = "client \(clients[i].clientID ?? 0): registration answered with \(r)"
                return
            }
            history.complete(id: hid, outcome: o, at: cluster.now)
            clients[i].op = nil
            clients[i].completed += 1
            completedOps += 1
            clients[i].readyAt = cluster.now + rng.below(3)
        case let .error(.notLeader(leader, _)) where cluster.ids.contains(leader):
            clients[i].target = leader
            resend(i, cluster)
        case .error(.unavailable), .error(.notLeader):
            // No (reachable) leader known there: try another member, same sequence.
            clients[i].target = cluster.ids[Int(rng.below(UInt64(cluster.ids.count)))]
            resend(i, cluster)
        case .error(.busy), .error(.timeout):
            // Not applied, or unknown: retry the same sequence (the session dedupes).
            resend(i, cluster)
        case let .error(e):
            violation = "client \(clients[i].clientID ?? 0) seq \(op.request.request?.sequence ?? 0): unexpected refusal: \(e)"
        case .status, .members, .hello:
            violation = "client \(clients[i].clientID ?? 0) seq \(op.request.request?.sequence ?? 0): a non-KV reply to a KV call"
        }
    }

    /// Ends the run: operations still outstanding have an unknown outcome.
    public mutating func giveUpOutstanding() {
        for i in clients.indices {
            if let hid = clients[i].op?.historyID { history.giveUp(id: hid) }
            clients[i].op = nil
        }
    }
}
