/// The Wing & Gong search for a linearization of one register's history, with the
/// memoization of Lowe / Porcupine: a (linearized set, state) pair reached once is never
/// explored again, since what remains to do depends on nothing else.
///
/// Call and return events sit in a doubly linked list in time order. Walking it, a call
/// event is an operation that may be linearized now (its call precedes every pending
/// return); linearizing it unlinks both its events and restarts from the head. Reaching a
/// return event means that operation can no longer be placed in time: undo the most recent
/// choice and try the next candidate after it.
///
/// Two prunings, both exact, keep hot keys tractable: a read that agrees with the register
/// is taken with no alternatives (`observingCandidate`), and a branch that overwrites a
/// value some pending read still needs is dropped at once (`PendingDemand`).
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

    private let operations: [Operation]
    private let maxSteps: Int

    private var list: EventList
    private var linearized: Bitset
    private var state = RegisterModel.absent
    /// Known operations not yet linearized; the search succeeds when none are left, since
    /// the unknown ones can all go at the end (or nowhere).
    private var remainingKnown: Int
    private var seen = Set<Memo>()
    /// Nil when dead-end pruning is off.
    private var demand: PendingDemand?
    private var stack: [Choice] = []
    /// The event the walk is at, within the current node's list.
    private var event: Int
    private var steps = 0
    private var best: (prefix: [Int], state: RegisterModel.State) = ([], RegisterModel.absent)

    private struct Choice {
        var op: Int
        /// The state to restore when the choice is undone.
        var before: RegisterModel.State
        /// Taken without alternatives (see `observingCandidate`): undoing it means the node
        /// it was taken at has failed too.
        var forced: Bool
    }

    /// `pruneDeadEnds` makes the search much faster on hot keys, but cuts its failed
    /// attempts shorter, which makes the longest prefix in an explanation less telling.
    init(operations: [Operation], maxSteps: Int, pruneDeadEnds: Bool = true) {
        self.operations = operations
        self.maxSteps = maxSteps
        demand = pruneDeadEnds ? PendingDemand(operations.map(\.step)) : nil
        list = EventList(operations)
        linearized = Bitset(count: operations.count)
        remainingKnown = operations.lazy.filter { $0.returned != nil }.count
        event = list.first
    }

    mutating func run() -> Outcome {
        var arrived = true
        while remainingKnown > 0 {
            if arrived {
                // A new node: first see whether it has a move that needs no alternatives.
                arrived = false
                event = list.first
                guard let op = observingCandidate() else { continue }
                if steps > maxSteps { return .budgetExhausted(steps: maxSteps) }
                if linearize(op, forced: true) {
                    arrived = true
                } else if !backtrack() {
                    // Seen before, so it failed; by the argument below so does this node.
                    return .violation(prefix: best.prefix, state: best.state)
                }
                continue
            }

            steps += 1
            if steps > maxSteps { return .budgetExhausted(steps: maxSteps) }
            // A known operation always leaves its return event in the list, so the walk
            // meets one before running off the end.
            precondition(event != list.end, "walked past the last return event")
            let op = list.operation[event]

            if list.isCall[event] {
                if linearize(op, forced: false) {
                    arrived = true
                } else {
                    event = list.next[event]
                }
            } else {
                // `op` is pending and its return has come: some earlier choice was wrong.
                // Saving the deepest point only here (not on every push) keeps the copying
                // to the dead ends actually hit.
                if stack.count > best.prefix.count { best = (stack.map(\.op), state) }
                if !backtrack() { return .violation(prefix: best.prefix, state: best.state) }
            }
        }
        return .linearizable(steps: steps)
    }

    /// A candidate that only observes the register and agrees with it. If the remaining
    /// operations have any linearization, they have one starting with this operation:
    /// moving it to the front changes no state (it writes nothing), and breaks no real-time
    /// order (it is a candidate, so nothing left returned before it was called). So it is
    /// the only move worth trying here, which prunes the orders of concurrent reads that
    /// otherwise make the search exponential in the number of clients.
    private mutating func observingCandidate() -> Int? {
        var e = list.first
        while e != list.end && list.isCall[e] {
            steps += 1
            let op = list.operation[e]
            let step = operations[op].step
            if RegisterModel.onlyObserves(step) && RegisterModel.apply(step, to: state) != nil { return op }
            e = list.next[e]
        }
        return nil
    }

    /// Applies `op` as the next operation, unless the model rejects it, it leads to a dead
    /// end, or the resulting (linearized set, state) was explored before.
    private mutating func linearize(_ op: Int, forced: Bool) -> Bool {
        let step = operations[op].step
        guard let after = RegisterModel.apply(step, to: state) else { return false }
        if demand?.remove(step, from: state, to: after) == false {
            demand?.restore(step)
            return false
        }
        linearized.insert(op)
        guard seen.insert(Memo(linearized: linearized, state: after)).inserted else {
            linearized.remove(op)
            demand?.restore(step)
            return false
        }
        stack.append(Choice(op: op, before: state, forced: forced))
        state = after
        list.lift(op)
        if operations[op].returned != nil { remainingKnown -= 1 }
        return true
    }

    /// Undoes choices up to the most recent one that has untried alternatives, and moves
    /// the walk to the next of those. False when there is none: no linearization exists.
    private mutating func backtrack() -> Bool {
        while let choice = stack.popLast() {
            linearized.remove(choice.op)
            state = choice.before
            list.unlift(choice.op)
            demand?.restore(operations[choice.op].step)
            if operations[choice.op].returned != nil { remainingKnown += 1 }
            if !choice.forced {
                event = list.next[list.callEvent[choice.op]]
                return true
            }
        }
        return false
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
