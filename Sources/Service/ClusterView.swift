import Raft

/// What the service needs to know about the other members to turn "not the leader" into
/// advice a client can act on. kvd answers from its peer links, the simulator from its
/// network; the service never touches either.
public protocol ClusterView: AnyObject {
    /// The client address (host:port) a caller should be sent to for `leader`, or nil when
    /// this member cannot vouch for it: the address is not known yet, or this member has lost
    /// its connection to that member (so a dead leader is not advertised while the election
    /// timeout runs out).
    func redirectAddress(of leader: NodeID) -> String?
}
