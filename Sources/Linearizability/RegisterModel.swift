/// The sequential specification of one key: a register that starts absent.
///
/// Values are interned to small integers per key so that the search hashes and compares
/// an `Int32` instead of byte arrays. State 0 means absent; state i > 0 is the i-th
/// distinct value.
struct RegisterModel {
    typealias State = Int32
    static let absent: State = 0

    /// One operation reduced to what the model needs to decide it.
    enum Step {
        /// Sets the register (acknowledged or not: a put's effect does not depend on whether
        /// the client heard back).
        case put(State)
        /// Must observe exactly this state.
        case get(State)
        /// Clears the register; when the count is known it must match presence.
        case delete(count: Int?)
    }

    /// Whether the step leaves the register as it was whenever it is consistent with it:
    /// a get, or a delete that found nothing.
    static func onlyObserves(_ step: Step) -> Bool {
        switch step {
        case .get, .delete(count: 0): return true
        case .put, .delete: return false
        }
    }

    private var ids: [[UInt8]: State] = [:]
    private(set) var values: [[UInt8]] = []

    /// Nil for operations that constrain nothing (a get whose result never arrived).
    mutating func compile(_ op: HistoryOperation) -> Step? {
        switch (op.kind, op.outcome) {
        case let (.put(_, value), _): return .put(intern(value))
        case (.get, .unknown): return nil
        case let (.get, .value(value)): return .get(value.map { intern($0) } ?? Self.absent)
        case (.delete, .unknown): return .delete(count: nil)
        case let (.delete, .deleted(count)): return .delete(count: count)
        default: preconditionFailure("operation \(op.id): outcome \(op.outcome) does not fit \(op.kind)")
        }
    }

    /// The state after applying `step` to `state`, or nil when the response contradicts it.
    static func apply(_ step: Step, to state: State) -> State? {
        switch step {
        case let .put(value): return value
        case let .get(expected): return expected == state ? state : nil
        case let .delete(count):
            if let count, count != (state == absent ? 0 : 1) { return nil }
            return absent
        }
    }

    func value(of state: State) -> [UInt8]? {
        state == Self.absent ? nil : values[Int(state) - 1]
    }

    private mutating func intern(_ value: [UInt8]) -> State {
        if let id = ids[value] { return id }
        values.append(value)
        let id = State(values.count)
        ids[value] = id
        return id
    }
}
