import KV
import Raft

/// What a client hears back about one request, before it is put on the wire
/// (`ClientRequestService.reply(for:)` maps it to the `ClientReply` both hosts send).
public enum ClientOutcome: Sendable, Equatable {
    /// Committed and applied.
    case result(KVResult)
    /// Refused before proposing: ask `leader` (noNode when unknown). Nothing happened.
    case notLeader(leader: NodeID)
    /// Refused before proposing: too many requests in flight. Nothing happened.
    case busy
    /// Refused before proposing: `limit` (named, e.g. "key", "proposal") is `bytes`. Nothing happened.
    case tooLarge(limit: String, bytes: Int)
    /// Refused before proposing: the request breaks a protocol rule. Nothing happened.
    case badRequest(String)
    /// The proposal was overwritten by another leader's entry: it was not applied.
    case dropped
    /// The deadline passed, or a snapshot replaced the state before the outcome was seen:
    /// the request may or may not have been applied (retry with the same sequence).
    case timedOut
}
