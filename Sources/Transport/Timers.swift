import Heap
import Synchronization

/// Returned by `EventLoop.schedule`; cancel from any thread. A timer cancelled before its
/// callback starts never runs (the flag is checked on the loop just before firing).
public final class TimerHandle: Sendable {
    private let cancelled = Atomic<Bool>(false)

    init() {}

    public func cancel() { cancelled.store(true, ordering: .releasing) }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }
}

struct TimerEntry: Comparable {
    var deadline: UInt64  // monotonic nanoseconds
    var sequence: UInt64  // FIFO among equal deadlines
    let intervalNanoseconds: UInt64?  // non-nil: repeating
    let handle: TimerHandle
    let work: @Sendable () -> Void

    /// Fires before: earlier deadline, then earlier scheduling.
    static func < (a: TimerEntry, b: TimerEntry) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }
    static func == (a: TimerEntry, b: TimerEntry) -> Bool { a.sequence == b.sequence }
}

/// Timers by (deadline, sequence). Cancelled entries are removed lazily: when they reach the
/// top, or in a sweep once the heap doubles, so cancel stays O(1).
struct TimerHeap {
    private var items = MinHeap<TimerEntry>()
    private var nextSequence: UInt64 = 0
    private var sweepAt = 64

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func insert(deadline: UInt64, interval: UInt64?, handle: TimerHandle, work: @escaping @Sendable () -> Void) {
        if items.count >= sweepAt { sweepCancelled() }
        nextSequence += 1
        items.insert(TimerEntry(deadline: deadline, sequence: nextSequence, intervalNanoseconds: interval, handle: handle, work: work))
    }

    /// Earliest live deadline, dropping cancelled entries on the way.
    mutating func nextDeadline() -> UInt64? {
        while let top = items.first, top.handle.isCancelled { items.popFirst() }
        return items.first?.deadline
    }

    /// Removes and returns every entry due at `now`, in firing order.
    mutating func popDue(now: UInt64) -> [TimerEntry] {
        var due: [TimerEntry] = []
        while let top = items.first, top.deadline <= now {
            let entry = items.popFirst()
            if !entry.handle.isCancelled { due.append(entry) }
        }
        return due
    }

    mutating func removeAll() { items.removeAll() }

    private mutating func sweepCancelled() {
        items.removeAll { $0.handle.isCancelled }
        sweepAt = max(64, items.count * 2)
    }
}
