/// Client requests proposed to the replica and awaiting their outcome, keyed by the token
/// handed to `Replica.submit`. Deadlines are uniform (now + timeout), so insertion order is
/// deadline order and expiry is a walk from the front of a FIFO.
struct PendingRequests {
    struct Request {
        /// Which client connection asked, and the request id to answer.
        let connection: UInt64
        let requestID: UInt64
        let deadline: UInt64  // monotonic nanoseconds
    }

    let capacity: Int
    private var byToken: [UInt64: Request] = [:]
    private var order: [(token: UInt64, deadline: UInt64)] = []
    private var head = 0
    private var nextToken: UInt64 = 1

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { byToken.count }
    var isFull: Bool { byToken.count >= capacity }

    /// A fresh token; tokens are never reused, so a late outcome can never reach the wrong request.
    mutating func makeToken() -> UInt64 {
        defer { nextToken += 1 }
        return nextToken
    }

    mutating func add(token: UInt64, _ request: Request) {
        byToken[token] = request
        order.append((token, request.deadline))
    }

    mutating func remove(_ token: UInt64) -> Request? {
        byToken.removeValue(forKey: token)
    }

    /// Removes and returns the requests whose deadline has passed.
    mutating func expire(now: UInt64) -> [(token: UInt64, request: Request)] {
        var out: [(UInt64, Request)] = []
        while head < order.count, order[head].deadline <= now {
            let token = order[head].token
            head += 1
            if let r = byToken.removeValue(forKey: token) { out.append((token, r)) }
        }
        // Entries for requests already answered stay in `order` until their deadline; compact
        // once the consumed prefix dominates so memory tracks the live requests.
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return out
    }

    /// Removes everything (shutdown).
    mutating func removeAll() -> [(token: UInt64, request: Request)] {
        let all = byToken.map { ($0.key, $0.value) }
        byToken.removeAll()
        order.removeAll()
        head = 0
        return all
    }
}
