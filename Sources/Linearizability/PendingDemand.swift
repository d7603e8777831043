/// Tracks, for the operations not yet linearized, which register states are still needed
/// (by known gets and deletes) and which can still be produced (by puts and deletes), so
/// the search can drop a branch as soon as it destroys a state that is needed and can
/// never come back, instead of finding out only when that reader's return is reached.
///
/// With many clients writing one key, that difference is exponential: a wrong choice of
/// which concurrent put goes first is otherwise explored under every ordering of the
/// operations that follow it.
struct PendingDemand {
    /// Indexed by state: pending known reads of it (gets; deletes that found nothing need
    /// `absent`).
    private var readers: [Int]
    /// Indexed by state: pending operations that can set it (puts; deletes that may
    /// remove the key set `absent`).
    private var writers: [Int]
    /// Pending deletes known to have removed the key: they need some value present.
    private var presenceReaders = 0
    private var pendingPuts = 0

    init(_ steps: [RegisterModel.Step]) {
        var stateCount = 1
        for step in steps {
            switch step {
            case let .put(s), let .get(s): stateCount = max(stateCount, Int(s) + 1)
            case .delete: break
            }
        }
        readers = Array(repeating: 0, count: stateCount)
        writers = Array(repeating: 0, count: stateCount)
        for step in steps { adjust(step, by: 1) }
    }

    /// Records that `step` moved the register from `old` to `new`; false when the result
    /// is a dead end (the change is recorded either way; `restore` undoes it).
    mutating func remove(_ step: RegisterModel.Step, from old: RegisterModel.State, to new: RegisterModel.State) -> Bool {
        adjust(step, by: -1)
        // Only an overwritten state can become unreachable: one that is not the current
        // state and has no pending writer stays that way, so checking the old state on
        // every change keeps the invariant for all of them.
        if new != old && readers[Int(old)] > 0 && writers[Int(old)] == 0 { return false }
        if new == RegisterModel.absent && presenceReaders > 0 && pendingPuts == 0 { return false }
        return true
    }

    mutating func restore(_ step: RegisterModel.Step) {
        adjust(step, by: 1)
    }

    private mutating func adjust(_ step: RegisterModel.Step, by delta: Int) {
        switch step {
        case let .put(s):
            writers[Int(s)] += delta
            pendingPuts += delta
        case let .get(s):
            readers[Int(s)] += delta
        case .delete(count: 0):
            readers[Int(RegisterModel.absent)] += delta
        case .delete(count: 1):
            presenceReaders += delta
            writers[Int(RegisterModel.absent)] += delta
        case .delete(count: nil):
            writers[Int(RegisterModel.absent)] += delta
        case .delete(count: _):
            // An impossible count: the model rejects it, so it never needs a state.
            break
        }
    }
}
