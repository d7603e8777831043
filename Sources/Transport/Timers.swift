import Synchronization

/// Returned by `EventLoop.schedule`; cancel from any thread. A timer cancelled before its
/// callback starts never runs (the flag is checked on the loop just before firing).
public final class TimerHandle: Sendable {
    private let cancelled = Atomic<Bool>(false)

    init() {}

    public func cancel() { cancelled.store(true, ordering: .releasing) }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

struct TimerEntry {
    var deadline: UInt64  // monotonic nanoseconds
    var sequence: UInt64  // FIFO among equal deadlines
    let intervalNanoseconds: UInt64?  // non-nil: repeating
    let handle: TimerHandle
    let work: @Sendable () -> Void

    func firesBefore(_ other: TimerEntry) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// Binary min-heap of timers by (deadline, sequence). Cancelled entries are removed lazily:
/// when they reach the top, or in a sweep once the heap doubles, so cancel stays O(1).
struct TimerHeap {
    private var items: [TimerEntry] = []
    private var nextSequence: UInt64 = 0
    private var sweepAt = 64

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func insert(deadline: UInt64, interval: UInt64?, handle: TimerHandle, work: @escaping @Sendable () -> Void) {
        if items.count >= sweepAt { sweepCancelled() }
        nextSequence += 1
        items.append(TimerEntry(deadline: deadline, sequence: nextSequence, intervalNanoseconds: interval, handle: handle, work: work))
        siftUp(items.count - 1)
    }

    /// Earliest live deadline, dropping cancelled entries on the way.
    mutating func nextDeadline() -> UInt64? {
        while let top = items.first, top.handle.isCancelled { _ = popFirst() }
        return items.first?.deadline
    }

    /// Removes and returns every entry due at `now`, in firing order.
    mutating func popDue(now: UInt64) -> [TimerEntry] {
        var due: [TimerEntry] = []
        while let top = items.first, top.deadline <= now {
            let entry = popFirst()
            if !entry.handle.isCancelled { due.append(entry) }
        }
        return due
    }

    mutating func removeAll() { items.removeAll() }

    private mutating func sweepCancelled() {
        items.removeAll { $0.handle.isCancelled }
        for i in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        sweepAt = max(64, items.count * 2)
    }

    private mutating func popFirst() -> TimerEntry {
        let first = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            siftDown(0)
        }
        return first
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].firesBefore(items[parent]) else { return }
            items.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < items.count && items[l].firesBefore(items[smallest]) { smallest = l }
            if r < items.count && items[r].firesBefore(items[smallest]) { smallest = r }
            if smallest == i { return }
            items.swapAt(i, smallest)
            i = smallest
        }
    }
}
