import Raft
import Wire

extension ClientRequestService {
    /// The one mapping from an outcome to what the client reads, used by every host so the
    /// simulator checks the replies kvd sends.
    ///
    /// "Not the leader" carries an address only for a leader this member can reach; when no
    /// leader is known, or it is unreachable from here, the answer is `unavailable` (retry,
    /// possibly elsewhere), never a `notLeader` without an address.
    public func reply(for outcome: ClientOutcome) -> ClientReply {
        switch outcome {
        case let .result(.refused(why)): return .error(.badRequest(why.description))
        case let .result(r): return .kv(r)
        case let .notLeader(leader): return .error(redirect(to: leader))
        case .busy: return .error(.busy)
        case let .tooLarge(limit, bytes): return .error(.tooLarge(limit: limit, bytes: UInt64(bytes)))
        case let .badRequest(why): return .error(.badRequest(why))
        case .timedOut: return .error(.timeout)
        case .dropped:
            // Overwritten by another leader: it was not applied, so a retry is safe.
            let leader = replica.node.leader
            if leader != noNode, leader != replica.id, case let .notLeader(id, addr) = redirect(to: leader) {
                return .error(.notLeader(leaderID: id, leaderClientAddress: addr))
            }
            return .error(.unavailable("leadership changed before the request committed; not applied, retry"))
        }
    }

    private func redirect(to leader: NodeID) -> ClientError {
        guard leader != noNode else { return .unavailable("no leader known; election in progress") }
        guard let address = view.redirectAddress(of: leader) else {
            return .unavailable("leader node \(leader) is not reachable from this member")
        }
        return .notLeader(leaderID: leader, leaderClientAddress: address)
    }
}
