/// Why one key's history has no linearization, in terms a person debugging a failed
/// simulation can follow: how far the best attempt got, and what it could not place next.
public struct LinearizabilityViolation: Sendable, Hashable, CustomStringConvertible {
    public struct Unplaced: Sendable, Hashable {
        public var operation: HistoryOperation
        /// Why it cannot be the next operation after `linearizedPrefix`.
        public var reason: String
    }

    public var key: [UInt8]
    /// Operations on this key the search considered (unknown gets and irrelevant unknown
    /// writes are left out).
    public var operationCount: Int
    /// The longest sequence of operations the search could linearize, in that order.
    public var linearizedPrefix: [HistoryOperation]
    /// The register after `linearizedPrefix`; nil when absent.
    public var valueAfterPrefix: [UInt8]?
    /// The operations that were candidates to go next (called before the earliest pending
    /// return) and why none of them works.
    public var unplaced: [Unplaced]

    /// How much of the prefix `description` prints; the end is what matters.
    static let prefixShown = 20

    init(
        key: [UInt8], operations: [(HistoryOperation, RegisterModel.Step)],
        prefix: [Int], state: RegisterModel.State, model: RegisterModel
    ) {
        self.key = key
        operationCount = operations.count
        linearizedPrefix = prefix.map { operations[$0].0 }
        valueAfterPrefix = model.value(of: state)

        let placed = Set(prefix)
        let remaining = operations.indices.filter { !placed.contains($0) }
        // The search failed, so some operation with a known return is still unplaced.
        let deadline = remaining.compactMap { operations[$0].0.returned }.min()!
        let candidates = remaining
            .filter { operations[$0].0.call <= deadline }
            .sorted { (operations[$0].0.call, operations[$0].0.id) < (operations[$1].0.call, operations[$1].0.id) }
        unplaced = candidates.map { i in
            let (op, step) = operations[i]
            var reason = Self.mismatch(step, op: op, state: state, model: model)
                ?? "fits here, but no order of the remaining operations works after it"
            if op.returned == deadline { reason = "must take effect by its return at \(deadline); " + reason }
            return Unplaced(operation: op, reason: reason)
        }
    }

    /// What the model objects to, or nil when the operation is consistent with `state`.
    private static func mismatch(
        _ step: RegisterModel.Step, op: HistoryOperation, state: RegisterModel.State, model: RegisterModel
    ) -> String? {
        guard RegisterModel.apply(step, to: state) == nil else { return nil }
        let held = ByteFormatting.describe(model.value(of: state))
        switch step {
        case let .get(expected):
            return "read \(ByteFormatting.describe(model.value(of: expected))) but the register held \(held)"
        case let .delete(count?):
            return "reported \(count) deleted but the register held \(held)"
        case .put, .delete(count: nil):
            preconditionFailure("writes without a known result always apply")
        }
    }

    public var description: String {
        var lines = ["not linearizable: key \(ByteFormatting.describe(key)), \(operationCount) operation(s) checked"]
        let shown = linearizedPrefix.suffix(Self.prefixShown)
        let elided = linearizedPrefix.count - shown.count
        lines.append("longest linearizable prefix: \(linearizedPrefix.count) operation(s)"
            + (elided > 0 ? ", last \(shown.count) shown" : ""))
        lines += shown.map { "  " + ByteFormatting.describe($0) }
        lines.append("register after that prefix: \(ByteFormatting.describe(valueAfterPrefix))")
        lines.append("operations that could not be placed next:")
        lines += unplaced.map { "  " + ByteFormatting.describe($0.operation) + ": " + $0.reason }
        return lines.joined(separator: "\n")
    }
}
