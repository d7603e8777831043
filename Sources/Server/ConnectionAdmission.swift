/// Who may hold a client connection: at most `maxTotal` at once, and at most
/// `maxPerAddress` from one source address, so one host (or one misbehaving program) can
/// never take every slot and lock the other clients out. Loop thread only.
struct ConnectionAdmission {
    enum Refusal: Equatable, CustomStringConvertible {
        case total(limit: Int)
        case perAddress(host: String, limit: Int)

        var description: String {
            switch self {
            case let .total(limit): return "too many client connections (limit \(limit))"
            case let .perAddress(host, limit): return "too many client connections from \(host) (limit \(limit) per address)"
            }
        }
    }

    /// Invariant: 1 <= maxPerAddress <= max(1, maxTotal / 2): one address never holds more
    /// than half the slots, even when the total was lowered to fit the descriptor limit.
    let maxTotal: Int
    let maxPerAddress: Int
    /// Invariant: total == perAddress.values.sum() <= maxTotal.
    private(set) var total = 0
    private var perAddress: [String: Int] = [:]

    init(maxTotal: Int, maxPerAddress: Int) {
        precondition(maxTotal >= 1, "the client connection limit must be at least 1")
        self.maxTotal = maxTotal
        self.maxPerAddress = min(max(1, maxPerAddress), max(1, maxTotal / 2))
    }

    func count(from host: String) -> Int { perAddress[host] ?? 0 }

    /// Takes a slot for a connection from `host`, or says why not.
    mutating func admit(host: String) -> Refusal? {
        guard total < maxTotal else { return .total(limit: maxTotal) }
        let n = perAddress[host] ?? 0
        guard n < maxPerAddress else { return .perAddress(host: host, limit: maxPerAddress) }
        perAddress[host] = n + 1
        total += 1
        return nil
    }

    /// Gives back the slot `admit` gave.
    mutating func release(host: String) {
        guard let n = perAddress[host] else { preconditionFailure("released a connection slot never taken") }
        perAddress[host] = n > 1 ? n - 1 : nil
        total -= 1
    }

    /// "10.0.0.1:5555" -> "10.0.0.1" (the source address a cap applies to).
    static func host(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        return String(address[..<colon])
    }
}

/// How the process's descriptors are shared out. Client connections get what is left after
/// a fixed reserve for the WAL, snapshots, the lock file, the event loop, the listeners and
/// the peer connections, so a connection flood can never starve the disk or Raft traffic of
/// descriptors (a failed open of a WAL segment or snapshot stops the node).
struct DescriptorBudget: Equatable {
    /// RLIMIT_NOFILE in force.
    let limit: Int
    /// Kept for everything except client and peer connections.
    let reserved: Int
    /// Peer-port connections accepted at once (handshaked or not).
    let peerConnections: Int
    /// Client connections accepted at once. Invariant: reserved + peerConnections + clientConnections <= limit.
    let clientConnections: Int

    /// Descriptors kept for the node itself: stdio, epoll, eventfd, signalfd, both
    /// listeners, the LOCK file, open and rolling WAL segments, snapshot writes and reads,
    /// directory fsyncs, one outgoing link per member, and headroom for the runtime.
    static func reserve(members: Int) -> Int { 64 + 2 * members }

    /// Nil when `limit` leaves no room for even a few client connections.
    init?(limit: Int, members: Int, maxPeerConnections: Int, maxClientConnections: Int) {
        let reserved = Self.reserve(members: members)
        let room = limit - reserved - maxPeerConnections
        guard room >= 8 else { return nil }
        self.limit = limit
        self.reserved = reserved
        self.peerConnections = maxPeerConnections
        self.clientConnections = min(maxClientConnections, room)
    }
}
