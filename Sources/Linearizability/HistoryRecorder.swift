/// Records a history as clients go: `invoke` when a request is sent, then `complete` when its
/// response arrives or `giveUp` when the client stops waiting.
public struct HistoryRecorder: Sendable {
    /// Indexed by operation id.
    private var recorded: [HistoryOperation] = []
    private var finished: [Bool] = []

    public init() {}

    /// Starts an operation; returns its id for `complete` / `giveUp`.
    public mutating func invoke(client: UInt64, kind: KVOperationKind, at time: UInt64) -> Int {
        let id = recorded.count
        recorded.append(HistoryOperation(
            id: id, client: client, kind: kind, call: time, returned: nil, outcome: .unknown))
        finished.append(false)
        return id
    }

    /// Records the response to operation `id`.
    public mutating func complete(id: Int, outcome: KVOperationOutcome, at time: UInt64) {
        precondition(recorded.indices.contains(id), "no operation \(id)")
        precondition(!finished[id], "operation \(id) already finished")
        precondition(outcome != .unknown, "use giveUp(id:) for an unknown outcome")
        recorded[id].returned = time
        recorded[id].outcome = outcome
        recorded[id].validate()
        finished[id] = true
    }

    /// The client stopped waiting for operation `id`: its effect is unknown.
    public mutating func giveUp(id: Int) {
        precondition(recorded.indices.contains(id), "no operation \(id)")
        precondition(!finished[id], "operation \(id) already finished")
        finished[id] = true
    }

    /// Every operation so far. Ones still in flight count as unknown: from the checker's
    /// point of view an unanswered request is the same as an abandoned one.
    public var operations: [HistoryOperation] { recorded }

    /// How many operations are still waiting for `complete` or `giveUp`.
    public var pendingCount: Int { finished.lazy.filter { !$0 }.count }
}
