import Heap
import Raft

/// The proposals awaiting their outcome, indexed three ways: by log index (resolution), by
/// origin (duplicate request ids, a caller going away) and by deadline (expiry).
///
/// Invariant: `byIndex` and `byOrigin` hold the same requests; `perCaller[c]` counts the
/// requests of caller `c` and is absent at zero. The deadline heap may hold stale keys for
/// requests already resolved; a key is live only while `byIndex[index]?.serial == serial`.
struct PendingTable {
    struct Request {
        let origin: RequestOrigin
        let term: Term
        /// In the host's clock units; UInt64.max means no deadline.
        let deadline: UInt64
        /// Distinguishes this admission from any earlier one at the same index.
        let serial: UInt64
    }

    struct DeadlineKey: Comparable {
        let deadline: UInt64
        let serial: UInt64
        let index: LogIndex
        static func < (a: DeadlineKey, b: DeadlineKey) -> Bool { (a.deadline, a.serial) < (b.deadline, b.serial) }
    }

    private(set) var byIndex: [LogIndex: Request] = [:]
    private var byOrigin: [RequestOrigin: LogIndex] = [:]
    private var perCaller: [UInt64: Int] = [:]
    private var deadlines = MinHeap<DeadlineKey>()
    private var nextSerial: UInt64 = 1

    var count: Int { byIndex.count }
    var isEmpty: Bool { byIndex.isEmpty }
    func inFlight(_ caller: UInt64) -> Int { perCaller[caller] ?? 0 }
    func contains(_ origin: RequestOrigin) -> Bool { byOrigin[origin] != nil }

    /// The earliest deadline that may still be live (a stale one only causes an early, empty expiry pass).
    var nextDeadline: UInt64? { deadlines.first?.deadline }

    /// Precondition: nothing is pending at `index` and `origin` is not in flight.
    mutating func add(index: LogIndex, term: Term, origin: RequestOrigin, deadline: UInt64) {
        precondition(byIndex[index] == nil && byOrigin[origin] == nil, "one pending request per index and per origin")
        let serial = nextSerial
        nextSerial += 1
        byIndex[index] = Request(origin: origin, term: term, deadline: deadline, serial: serial)
        byOrigin[origin] = index
        perCaller[origin.caller, default: 0] += 1
        if deadline != UInt64.max { deadlines.insert(DeadlineKey(deadline: deadline, serial: serial, index: index)) }
    }

    mutating func remove(at index: LogIndex) -> Request? {
        guard let r = byIndex.removeValue(forKey: index) else { return nil }
        byOrigin[r.origin] = nil
        let left = (perCaller[r.origin.caller] ?? 1) - 1
        perCaller[r.origin.caller] = left > 0 ? left : nil
        return r
    }

    /// Indexes of pending requests at or above `index`, ascending.
    func indexes(from index: LogIndex) -> [LogIndex] { byIndex.keys.filter { $0 >= index }.sorted() }

    /// Indexes of pending requests at or below `index`, ascending.
    func indexes(through index: LogIndex) -> [LogIndex] { byIndex.keys.filter { $0 <= index }.sorted() }

    /// Indexes of every pending request of `caller` (a closed connection).
    func indexes(of caller: UInt64) -> [LogIndex] {
        guard perCaller[caller] != nil else { return [] }
        return byIndex.filter { $0.value.origin.caller == caller }.keys.sorted()
    }

    /// Removes and returns the requests whose deadline is at or before `now`, earliest first.
    mutating func removeExpired(now: UInt64) -> [(index: LogIndex, request: Request)] {
        var out: [(LogIndex, Request)] = []
        while let k = deadlines.first, k.deadline <= now {
            deadlines.popFirst()
            if byIndex[k.index]?.serial == k.serial, let r = remove(at: k.index) { out.append((k.index, r)) }
        }
        return out
    }

    mutating func removeAll() -> [(index: LogIndex, request: Request)] {
        let all = byIndex.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        byIndex.removeAll()
        byOrigin.removeAll()
        perCaller.removeAll()
        deadlines = MinHeap()
        return all
    }
}
