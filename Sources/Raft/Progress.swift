/// The leader's view of one follower's log and the flow control of what is sent to it
/// (etcd-io/raft's tracker.Progress): which state it is in, what is in flight, and when an
/// unanswered message counts as lost.
///
/// Invariant: match < next. In `replicate`, next - 1 is what has been sent optimistically;
/// in `probe`, next - 1 is the index being probed.
public struct Progress: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Unknown match: send one AppendEntries at a time and wait for the answer.
        case probe
        /// Known match: stream AppendEntries, up to `maxInflightAppends` unacknowledged.
        case replicate
        /// The follower needs entries we compacted: send the snapshot in chunks.
        case snapshot(index: LogIndex, offset: UInt64)
    }

    public let id: NodeID
    public internal(set) var match: LogIndex = 0
    public internal(set) var next: LogIndex
    public internal(set) var state: State = .probe
    /// In probe and snapshot state: a message is out; wait for its answer, or for it to
    /// count as lost (`lossSuspected`).
    private(set) var paused = false
    /// Tick at which the message we are paused on was sent.
    private var pausedSince: UInt64 = 0
    /// Appends in flight (replicate state): last index and send tick of each, oldest first.
    /// Invariant: count <= maxInflightAppends, last indexes ascending.
    private(set) var inflight: Inflights
    /// Heard from since the last quorum check (checkQuorum).
    var recentActive = false
    /// Round-trip estimate to this follower and the retransmit timeout derived from it.
    private(set) var roundTrip = RoundTripEstimate()
    /// Set when the follower turned out to lack entries it had acknowledged (its disk lost
    /// them): the highest index it had acknowledged. Until `match` reaches it again the
    /// follower does not count toward commit. 0: nothing lost.
    public internal(set) var lostThrough: LogIndex = 0

    /// What this follower contributes to the commit count.
    var commitMatch: LogIndex { lostThrough > match ? 0 : match }

    init(id: NodeID, next: LogIndex, maxInflight: Int) {
        self.id = id
        self.next = next
        self.inflight = Inflights(capacity: maxInflight)
    }

    /// A round trip observed by other means (the vote round trip of the election just won).
    mutating func estimateRoundTrip(_ ticks: Int) { roundTrip.sample(ticks) }

    // MARK: - State changes

    mutating func becomeProbe() {
        if case let .snapshot(index, _) = state {
            next = max(match, index) + 1
        } else {
            next = match + 1
        }
        state = .probe
        paused = false
        inflight.removeAll()
    }

    /// The follower rejected an AppendEntries at or below `match`, which it had acknowledged:
    /// forget the match (it is re-learned from its next answers) and keep it out of the
    /// commit count until it holds everything it had acknowledged.
    mutating func lostEntries() {
        lostThrough = max(lostThrough, match)
        match = 0
        becomeProbe()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        paused = false
        inflight.removeAll()
    }

    mutating func becomeSnapshot(index: LogIndex) {
        state = .snapshot(index: index, offset: 0)
        paused = false
        inflight.removeAll()
    }

    /// The snapshot transfer moves on to `offset` (or restarts with another snapshot).
    mutating func snapshotContinues(index: LogIndex, offset: UInt64) {
        state = .snapshot(index: index, offset: offset)
        paused = false
    }

    // MARK: - Sending

    /// Whether an AppendEntries may go out now: one at a time in probe, within the window
    /// in replicate, none while a snapshot is being sent.
    var canSendAppend: Bool {
        switch state {
        case .probe: return !paused
        case .replicate: return !inflight.isFull
        case .snapshot: return false
        }
    }

    /// Records an AppendEntries (ending at `last`, nil when empty) sent at tick `now`.
    mutating func sentAppend(last: LogIndex?, now: UInt64) {
        switch state {
        case .replicate:
            if let last {
                next = last + 1
                inflight.add(last: last, at: now)
            }
        case .probe, .snapshot:
            pause(now)
        }
    }

    /// Records a snapshot chunk sent at tick `now`: wait for its answer.
    mutating func sentSnapshotChunk(now: UInt64) { pause(now) }

    private mutating func pause(_ now: UInt64) {
        paused = true
        pausedSince = now
    }

    // MARK: - Answers

    /// Records an acknowledgement of `index` at tick `now`; returns true if match advanced.
    mutating func acknowledge(_ index: LogIndex, now: UInt64) -> Bool {
        var advanced = false
        if index > match {
            match = index
            advanced = true
        }
        if lostThrough > 0 && match >= lostThrough { lostThrough = 0 }
        if next < match + 1 { next = match + 1 }
        // The ack of an append answers exactly its last index: a clean round-trip sample.
        if let freed = inflight.free(through: index), freed.last == index {
            roundTrip.sample(Int(now - freed.at))
        } else if state == .probe, paused, advanced {
            roundTrip.sample(Int(now - pausedSince))
        }
        if advanced { roundTrip.answered() }
        return advanced
    }

    /// What a rejection meant (`rejected(_:retryFrom:lastIndex:)`).
    enum Rejection: Equatable {
        /// Not the answer to what is in flight: nothing changed.
        case stale
        /// Back to probing from the hint.
        case retry
        /// In replicate, it rejects what it acknowledged: either a reordered old answer or
        /// its disk lost entries. Now probing at `match` to tell which (issue #9 §4).
        case checkMatch
        /// It rejected the probe at `match`, the very entry it acknowledged: its disk lost
        /// entries through `acknowledged`. Match forgotten, kept out of the commit count until
        /// it holds `acknowledged` again, probing from the hint.
        case lostEntries(acknowledged: LogIndex)
    }

    /// A rejection of `rejected` asks to retry from `hinted`. Stale, changing nothing, if it
    /// is not the answer to the probe in flight (probe) or is a stale-term answer (index 0).
    /// A rejection at or below `match` in replicate starts a check of `match` instead of being
    /// dropped, so that a follower whose disk lost entries is not ignored for good. Otherwise
    /// goes back to probing from the hint, clamped to (match, min(rejected, lastIndex + 1)] so
    /// that a confused or lying peer cannot push `next` past our log or below what it
    /// acknowledged.
    mutating func rejected(_ rejected: LogIndex, retryFrom hinted: LogIndex, lastIndex: LogIndex) -> Rejection {
        switch state {
        case .replicate:
            if rejected <= match {
                // (Index 0 always matches, so its rejection is a stale-term answer.)
                guard rejected > 0 else { return .stale }
                becomeProbe()
                return .checkMatch
            }
        case .probe: if rejected != next - 1 { return .stale }
        case .snapshot: return .stale
        }
        var outcome = Rejection.retry
        if match > 0 && rejected == match {
            outcome = .lostEntries(acknowledged: match)
            lostEntries()
        }
        becomeProbe()
        next = max(match + 1, min(hinted, rejected, lastIndex + 1))
        return outcome
    }

    /// Loss detection, asked when the follower answers a heartbeat (so it is alive): the
    /// oldest message still unanswered (the oldest append in replicate, the probe or chunk
    /// otherwise) was sent longer than a retransmit timeout ago. Unlike "match did not move
    /// across a heartbeat", this never fires just because the round trip (plus the
    /// follower's fsync) is longer than a heartbeat interval (issue #16).
    func lossSuspected(now: UInt64, heartbeatTicks: Int, electionTicks: Int) -> Bool {
        let sentAt: UInt64
        switch state {
        case .replicate:
            guard let oldest = inflight.oldest else { return false }
            sentAt = oldest.at
        case .probe, .snapshot:
            guard paused else { return false }
            sentAt = pausedSince
        }
        let timeout = roundTrip.retransmitTimeout(heartbeatTicks: heartbeatTicks, electionTicks: electionTicks)
        return now - sentAt > UInt64(timeout)
    }

    /// The unanswered message is given up on: wait longer next time (until an answer).
    mutating func lossDetected() {
        roundTrip.backOff()
        paused = false
    }

    func checkInvariants(maxInflight: Int) {
        precondition(match < next, "progress: match < next")
        precondition(inflight.count <= maxInflight, "progress: inflight bounded")
    }
}

extension Progress: CustomStringConvertible {
    public var description: String {
        let s: String
        switch state {
        case .probe: s = paused ? "probe(paused since t\(pausedSince))" : "probe"
        case .replicate: s = "replicate(inflight \(inflight.count)\(inflight.oldest.map { ", oldest \($0.last)@t\($0.at)" } ?? ""))"
        case let .snapshot(index, offset): s = "snapshot(index \(index), offset \(offset)\(paused ? ", paused" : ""))"
        }
        return "n\(id): match \(match) next \(next) \(s) \(roundTrip)\(recentActive ? " active" : "")"
    }
}

/// The appends in flight to one follower, oldest first, in a fixed-capacity ring
/// (etcd-io/raft's tracker.Inflights): freeing acknowledged appends is O(freed), with no
/// shifting of the rest.
struct Inflights: Sendable, Equatable {
    struct Sent: Sendable, Equatable {
        var last: LogIndex
        var at: UInt64
    }

    let capacity: Int
    /// Grows up to `capacity` on demand, then is reused.
    private var ring: [Sent] = []
    private var start = 0
    /// Invariant: 0 <= count <= capacity.
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "inflight capacity must be positive")
        self.capacity = capacity
    }

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == capacity }
    var oldest: Sent? { count == 0 ? nil : ring[start] }
    var newest: Sent? { count == 0 ? nil : ring[(start + count - 1) % ring.count] }

    mutating func add(last: LogIndex, at: UInt64) {
        precondition(!isFull, "inflight window is full")
        precondition(newest.map { $0.last < last } ?? true, "inflight appends ascend")
        let sent = Sent(last: last, at: at)
        if count == ring.count {
            // Every slot is taken but capacity allows more: grow (at most up to capacity).
            compact()
            ring.append(sent)
        } else {
            ring[(start + count) % ring.count] = sent
        }
        count += 1
    }

    /// Frees every append whose last index is <= `index`; returns the newest one freed.
    mutating func free(through index: LogIndex) -> Sent? {
        var freed: Sent?
        while count > 0, ring[start].last <= index {
            freed = ring[start]
            start = (start + 1) % ring.count
            count -= 1
        }
        if count == 0 { start = 0 }
        return freed
    }

    mutating func removeAll() {
        start = 0
        count = 0
    }

    /// Rotates the ring so it starts at 0 (before growing it).
    private mutating func compact() {
        guard start != 0 else { return }
        ring = (0..<count).map { ring[(start + $0) % ring.count] }
        start = 0
    }

    static func == (a: Inflights, b: Inflights) -> Bool {
        guard a.capacity == b.capacity, a.count == b.count else { return false }
        for k in 0..<a.count where a.ring[(a.start + k) % a.ring.count] != b.ring[(b.start + k) % b.ring.count] { return false }
        return true
    }
}

/// A round-trip estimate and retransmit timeout in ticks, after RFC 6298 (Jacobson/Karels:
/// smoothed RTT plus four mean deviations), with exponential backoff while messages go
/// unanswered. Samples come from acknowledged appends, so they include the follower's fsync.
struct RoundTripEstimate: Sendable, Equatable, CustomStringConvertible {
    /// 8 x the smoothed round trip; 0 until the first sample.
    private var srtt8 = 0
    /// 4 x the mean deviation.
    private var rttvar4 = 0
    /// Doubles on each timeout, back to 1 on an answer. Invariant: 1...maxBackoff.
    private var backoff = 1
    static let maxBackoff = 2

    mutating func sample(_ ticks: Int) {
        let r = max(ticks, 1)
        guard backoff == 1 else { return } // Karn: an answer after a timeout may be to either copy.
        if srtt8 == 0 {
            srtt8 = r * 8
            rttvar4 = r * 2
        } else {
            let delta = r - srtt8 / 8
            srtt8 += delta
            rttvar4 += abs(delta) - rttvar4 / 4
        }
    }

    mutating func answered() { backoff = 1 }
    mutating func backOff() { backoff = min(backoff * 2, Self.maxBackoff) }

    /// srtt + max(H, 4 x deviation) (heartbeat answers are when loss is checked, so H is
    /// the granularity), times the backoff; E / 2 before any sample; at most E.
    func retransmitTimeout(heartbeatTicks: Int, electionTicks: Int) -> Int {
        let base = srtt8 == 0 ? max(electionTicks / 2, heartbeatTicks) : srtt8 / 8 + max(heartbeatTicks, rttvar4)
        return min(base * backoff, electionTicks)
    }

    var description: String {
        srtt8 == 0 ? "rtt ?" : "rtt \(srtt8 / 8)±\(rttvar4 / 4)\(backoff > 1 ? " backoff x\(backoff)" : "")"
    }
}
