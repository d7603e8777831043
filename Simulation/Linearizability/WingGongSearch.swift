/// The Wing & Gong search for a linearization of one register's history, with the
/// memoization of Lowe / Porcupine: a (linearized set, state) pair reached once is never
/// explored again, since what remains to do depends on nothing else.
///
/// Call and return events sit in a doubly linked list in time order. Walking it, a call
/// event is an operation that may be linearized now (its call precedes every pending
/// return); linearizing it unlinks both its events and restarts from the head. Reaching a
/// return event means that operation can no longer be placed in time: undo the most recent
/// choice and try the next candidate after it.
struct WingGongSearch {
    struct Operation {
        var step: RegisterModel.Step
        var call: UInt64
        /// Nil when the outcome is unknown: it never forces anything, so it gets no return
        /// event (the same as a return at +infinity). Placing it after everything else is
        /// indistinguishable from it never happening, which covers "never took effect".
        var returned: UInt64?
    }

    enum Outcome {
        case linearizable(steps: Int)
        /// `prefix` is the longest linearization found, in order (indices into the input);
        /// `state` is the register after it.
        case violation(prefix: [Int], state: RegisterModel.State)
        case budgetExhausted(steps: Int)
    }

    let operations: [Operation]
    let maxSteps: Int

    func run() -> Outcome {
        let n = operations.count
        var list = EventList(operations)
        var remainingKnown = operations.lazy.filter { $0.returned != nil }.count

        var linearized = Bitset(count: n)
        var state = RegisterModel.absent
        var seen = Set<Memo>()
        // Each choice made, with the state to restore when it is undone.
        var stack: [(op: Int, before: RegisterModel.State)] = []
        var best: (prefix: [Int], state: RegisterModel.State) = ([], state)

        var steps = 0
        var event = list.first
        while remainingKnown > 0 {
            steps += 1
            if steps > maxSteps { return .budgetExhausted(steps: maxSteps) }
            // A known operation always leaves its return event in the list, so the walk
            // meets one before running off the end.
            precondition(event != list.end, "walked past the last return event")
            let op = list.operation[event]

            if list.isCall[event] {
                if let after = RegisterModel.apply(operations[op].step, to: state) {
                    linearized.insert(op)
                    if seen.insert(Memo(linearized: linearized, state: after)).inserted {
                        stack.append((op, state))
                        state = after
                        list.lift(op)
                        if operations[op].returned != nil { remainingKnown -= 1 }
                        event = list.first
                        continue
                    }
                    linearized.remove(op)
                }
                event = list.next[event]
            } else {
                // `op` is pending and its return has come: some earlier choice was wrong.
                // Saving the deepest point only here (not on every push) keeps the copying
                // to the dead ends actually hit.
                if stack.count > best.prefix.count { best = (stack.map(\.op), state) }
                guard let (undo, before) = stack.popLast() else {
                    return .violation(prefix: best.prefix, state: best.state)
                }
                linearized.remove(undo)
                state = before
                list.unlift(undo)
                if operations[undo].returned != nil { remainingKnown += 1 }
                event = list.next[list.callEvent[undo]]
            }
        }
        return .linearizable(steps: steps)
    }

    private struct Memo: Hashable {
        var linearized: Bitset
        var state: RegisterModel.State
    }
}

/// Call and return events in time order, as index-linked arrays so that removing and
/// restoring an operation (dancing links) is O(1) and allocation free.
private struct EventList {
    /// Sentinel index: both the head and the end of the list.
    let end: Int
    var next: [Int]
    var prev: [Int]
    var operation: [Int]
    var isCall: [Bool]
    var callEvent: [Int]
    var returnEvent: [Int?]

    var first: Int { next[end] }

    init(_ ops: [WingGongSearch.Operation]) {
        struct Event { var time: UInt64; var isCall: Bool; var op: Int }
        var events: [Event] = []
        events.reserveCapacity(ops.count * 2)
        for (i, op) in ops.enumerated() {
            events.append(Event(time: op.call, isCall: true, op: i))
            if let r = op.returned { events.append(Event(time: r, isCall: false, op: i)) }
        }
        // At equal times calls come first: operations that merely touch are treated as
        // concurrent, the permissive reading when a clock cannot order them.
        events.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isCall != b.isCall { return a.isCall }
            return a.op < b.op
        }

        let count = events.count
        end = count
        // Event i links to i ± 1; the sentinel `count` closes the ring.
        next = (0...count).map { $0 == count ? 0 : $0 + 1 }
        prev = (0...count).map { $0 == 0 ? count : $0 - 1 }
        operation = events.map(\.op)
        isCall = events.map(\.isCall)
        callEvent = Array(repeating: -1, count: ops.count)
        returnEvent = Array(repeating: nil, count: ops.count)
        for (e, event) in events.enumerated() {
            if event.isCall { callEvent[event.op] = e } else { returnEvent[event.op] = e }
        }
    }

    mutating func lift(_ op: Int) {
        unlink(callEvent[op])
        if let r = returnEvent[op] { unlink(r) }
    }

    /// Must undo the most recent `lift` still in effect (the search's stack guarantees it).
    mutating func unlift(_ op: Int) {
        if let r = returnEvent[op] { relink(r) }
        relink(callEvent[op])
    }

    private mutating func unlink(_ e: Int) {
        next[prev[e]] = next[e]
        prev[next[e]] = prev[e]
    }

    private mutating func relink(_ e: Int) {
        next[prev[e]] = e
        prev[next[e]] = e
    }
}
