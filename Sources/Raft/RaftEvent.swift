/// Things worth telling an operator about, handed out once in `Ready.events` for the host
/// to log. The core only reports them; it has already acted on them.
public enum RaftEvent: Sendable, Equatable {
    /// Leader: `peer` rejected an AppendEntries at `index`, an entry it had acknowledged
    /// (`acknowledged` was its match), so its disk lost entries. Its match is reset and it is
    /// re-replicated; it counts toward commit again only once it holds `acknowledged` again.
    case followerLostEntries(peer: NodeID, index: LogIndex, acknowledged: LogIndex)
    /// This node entered recovery at run time (`RaftNode.enterRecovery`).
    case recoveryStarted
    /// This node holds, durably, the log through `commit`, a commit index of an entry of the
    /// leader's own `term` that the leader reported: it votes and campaigns again from now on.
    case recoveryFinished(commit: LogIndex, term: Term)
}
