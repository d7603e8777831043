/// Drops unknown-outcome writes that cannot matter, before the search.
///
/// Unknown operations are pending for the rest of the history, so each one doubles the
/// states the search may visit; timeouts during partitions produce many of them. Dropping
/// one is sound when no known response could ever depend on it having happened:
///
/// - A put of v: while v is in the register, a known get would have to read v and a known
///   delete would have to report 1. If no get read v and no delete reported 1, any
///   linearization that applies the put stays valid with the put removed.
/// - A delete: likewise, if no get read "absent" and no delete reported 0.
///
/// Removing an operation from a valid linearization keeps every other real-time order,
/// so the verdict is unchanged; only the work shrinks.
enum UnknownOutcomePruning {
    static func prune(_ ops: [(HistoryOperation, RegisterModel.Step)]) -> [(HistoryOperation, RegisterModel.Step)] {
        var observed = Set<RegisterModel.State>()
        var someDeleteFoundKey = false
        var someDeleteFoundNothing = false
        for (op, step) in ops where op.outcome != .unknown {
            switch step {
            case let .get(state): observed.insert(state)
            case .delete(count: 1): someDeleteFoundKey = true
            case .delete(count: _): someDeleteFoundNothing = true
            case .put: break
            }
        }
        return ops.filter { op, step in
            guard op.outcome == .unknown else { return true }
            switch step {
            case let .put(value): return someDeleteFoundKey || observed.contains(value)
            case .delete: return someDeleteFoundNothing || observed.contains(RegisterModel.absent)
            case .get: return false
            }
        }
    }
}
