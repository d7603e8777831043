import Heap
import Raft

/// Fault settings of the simulated network. Probabilities are per message.
public struct NetworkFaults: Sendable, Equatable {
    public var dropRate: Double = 0
    public var duplicateRate: Double = 0
    /// Delivery delay in ticks, uniform in [minDelay, maxDelay].
    public var minDelay: Int = 1
    public var maxDelay: Int = 1
    /// With this probability a message is held back up to `longDelay` ticks (reordering).
    public var longDelayRate: Double = 0
    public var longDelay: Int = 0
    /// Messages the network holds at once; beyond this it drops (a full queue), counted.
    public var capacity: Int = 200_000
    public init() {}
}

/// Endpoints on the simulated network: node ids are small; clients use ids >= clientBase.
public let clientBase: UInt64 = 1000

/// A deterministic network: every decision comes from one seeded generator, messages are
/// delivered in (due tick, send order), and partitions are checked at delivery time.
public struct SimNetwork<Payload> {
    /// Heap entries stay small; payloads live in a slab so sifting never copies them.
    struct InFlight: Comparable {
        var due: UInt64
        var seq: UInt64
        var slot: Int32
        static func < (a: InFlight, b: InFlight) -> Bool { a.due != b.due ? a.due < b.due : a.seq < b.seq }
        static func == (a: InFlight, b: InFlight) -> Bool { a.seq == b.seq }
    }
    struct Parcel {
        var from: UInt64
        var to: UInt64
        var payload: Payload
    }

    public var faults = NetworkFaults()
    /// Partition group of each node (absent = group 0). Nodes talk only within a group,
    /// except bridge nodes, which talk to everyone.
    public private(set) var group: [UInt64: Int] = [:]
    public private(set) var bridges: Set<UInt64> = []
    /// One-way cuts: (from, to) pairs that lose every message.
    public private(set) var cuts: Set<Pair> = []
    public struct Pair: Hashable, Sendable { public var from: UInt64; public var to: UInt64 }

    /// Ordered by (due, seq): equal due times deliver in send order.
    private var heap = MinHeap<InFlight>()
    private var slab: [Parcel?] = []
    private var freeSlots: [Int32] = []
    private var nextSeq: UInt64 = 0
    public private(set) var sent = 0
    public private(set) var delivered = 0
    public private(set) var dropped = 0
    /// Messages dropped because the network was full.
    public private(set) var overflowed = 0

    public init() {}

    public var inFlight: Int { heap.count }

    public mutating func partition(_ groups: [[UInt64]], bridges: [UInt64] = []) {
        group.removeAll()
        for (g, members) in groups.enumerated() { for m in members { group[m] = g + 1 } }
        self.bridges = Set(bridges)
    }

    public mutating func cut(from: UInt64, to: UInt64) { cuts.insert(Pair(from: from, to: to)) }

    public mutating func heal() {
        group.removeAll()
        bridges.removeAll()
        cuts.removeAll()
    }

    /// Whether a message from `a` to `b` would get through now (clients reach everyone).
    public func connected(_ a: UInt64, _ b: UInt64) -> Bool {
        if cuts.contains(Pair(from: a, to: b)) { return false }
        if a >= clientBase || b >= clientBase { return true }
        if bridges.contains(a) || bridges.contains(b) { return true }
        return (group[a] ?? 0) == (group[b] ?? 0)
    }

    public mutating func send(from: UInt64, to: UInt64, _ payload: Payload, now: UInt64, rng: inout SeededRandom) {
        sent += 1
        if heap.count >= faults.capacity { overflowed += 1; dropped += 1; return }
        if faults.dropRate > 0 && rng.chance(faults.dropRate) { dropped += 1; return }
        let copies = faults.duplicateRate > 0 && rng.chance(faults.duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            var delay = UInt64(faults.minDelay)
            if faults.maxDelay > faults.minDelay { delay += rng.below(UInt64(faults.maxDelay - faults.minDelay + 1)) }
            if faults.longDelayRate > 0 && faults.longDelay > 0 && rng.chance(faults.longDelayRate) {
                delay += rng.below(UInt64(faults.longDelay)) + 1
            }
            let slot: Int32
            if let free = freeSlots.popLast() {
                slot = free
                slab[Int(slot)] = Parcel(from: from, to: to, payload: payload)
            } else {
                slot = Int32(slab.count)
                slab.append(Parcel(from: from, to: to, payload: payload))
            }
            heap.insert(InFlight(due: now + max(1, delay), seq: nextSeq, slot: slot))
            nextSeq += 1
        }
    }

    /// Pops the next message due at or before `now`, dropping those a partition blocks.
    public mutating func nextDue(now: UInt64) -> (from: UInt64, to: UInt64, payload: Payload)? {
        while let top = heap.first, top.due <= now {
            let slot = heap.popFirst().slot
            let m = slab[Int(slot)].take()!
            freeSlots.append(slot)
            if connected(m.from, m.to) {
                delivered += 1
                return (m.from, m.to, m.payload)
            }
            dropped += 1
        }
        return nil
    }

    /// Forgets every message to or from `node` (its sockets died with it).
    public mutating func purge(node: UInt64) {
        heap.removeAll { e in
            guard slab[Int(e.slot)]!.to == node else { return false }
            slab[Int(e.slot)] = nil
            freeSlots.append(e.slot)
            return true
        }
    }
}
