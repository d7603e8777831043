/// How much work the checker may do before answering `.unknown`. Counted in search steps,
/// not wall-clock time, so a verdict is reproducible across machines and loads.
public struct LinearizabilityLimits: Sendable, Hashable {
    /// Search steps (events visited) allowed for any one key.
    public var maxStepsPerKey: Int

    public init(maxStepsPerKey: Int = 2_000_000) {
        precondition(maxStepsPerKey > 0, "the step budget must be positive")
        self.maxStepsPerKey = maxStepsPerKey
    }

    public static let `default` = LinearizabilityLimits()
}

public enum LinearizabilityResult: Sendable, Hashable {
    case linearizable
    /// No linearization exists for this key's operations.
    case notLinearizable(key: [UInt8], explanation: LinearizabilityViolation)
    /// The budget ran out before a verdict (and no other key was found not linearizable).
    case unknown(reason: String)
}

/// Checks a key-value history against the sequential map specification.
public enum LinearizabilityChecker {
    public static func check(
        _ ops: [HistoryOperation], limits: LinearizabilityLimits = .default
    ) -> LinearizabilityResult {
        var ids = Set<Int>()
        for op in ops {
            op.validate()
            precondition(ids.insert(op.id).inserted, "operation id \(op.id) appears twice")
        }

        // Keys are independent registers, and linearizability is compositional: the whole
        // history is linearizable iff each key's sub-history is, so each key is searched
        // alone, which keeps the state space per key small.
        let byKey = Dictionary(grouping: ops, by: \.kind.key)
        // Sorted so that the reported key does not depend on dictionary order.
        let keys = byKey.keys.sorted { $0.lexicographicallyPrecedes($1) }

        var exhausted: [[UInt8]] = []
        for key in keys {
            switch checkKey(key, byKey[key]!, limits: limits) {
            case .linearizable: continue
            case let .notLinearizable(key, explanation): return .notLinearizable(key: key, explanation: explanation)
            case .unknown: exhausted.append(key)
            }
        }
        if exhausted.isEmpty { return .linearizable }
        let names = exhausted.prefix(5).map { ByteFormatting.describe($0) }.joined(separator: ", ")
        let more = exhausted.count > 5 ? " and \(exhausted.count - 5) more" : ""
        return .unknown(reason:
            "search budget of \(limits.maxStepsPerKey) steps per key exhausted on \(exhausted.count) key(s): \(names)\(more)")
    }

    private static func checkKey(
        _ key: [UInt8], _ ops: [HistoryOperation], limits: LinearizabilityLimits
    ) -> LinearizabilityResult {
        var model = RegisterModel()
        let compiled = ops.compactMap { op in model.compile(op).map { (op, $0) } }
        let kept = UnknownOutcomePruning.prune(compiled)

        let operations = kept.map { WingGongSearch.Operation(step: $0.1, call: $0.0.call, returned: $0.0.returned) }
        var search = WingGongSearch(operations: operations, maxSteps: limits.maxStepsPerKey)
        switch search.run() {
        case .linearizable:
            return .linearizable
        case var .violation(prefix, state):
            // Pruning stops failed attempts early, so the prefix it reports can stop short
            // of the operation that exposes the problem. Failures are rare: pay for a
            // second, unpruned search to explain it better, when the budget allows.
            var unpruned = WingGongSearch(operations: operations, maxSteps: limits.maxStepsPerKey, pruneDeadEnds: false)
            if case let .violation(fullPrefix, fullState) = unpruned.run() { (prefix, state) = (fullPrefix, fullState) }
            return .notLinearizable(key: key, explanation: LinearizabilityViolation(
                key: key, operations: kept, prefix: prefix, state: state, model: model))
        case let .budgetExhausted(steps):
            return .unknown(reason: "budget of \(steps) steps exhausted on key \(ByteFormatting.describe(key))")
        }
    }
}
