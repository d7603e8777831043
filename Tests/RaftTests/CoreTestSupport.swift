import Raft
import XCTest

/// Drives one core directly: messages in, Ready out, persistence simulated by `advance`.
struct CoreHarness {
    var node: RaftNode
    /// What the caller persisted so far (follows the Ready contract).
    var persisted = PersistentState()

    init(id: NodeID = 1, voters: [NodeID] = [1, 2, 3], state: PersistentState = PersistentState(), seed: UInt64 = 1,
         configure: (inout RaftConfig) -> Void = { _ in }) {
        var c = RaftConfig(id: id, voters: voters)
        // The plain election rules (§5.2) are tested with RequestVote alone; PreVoteRuleTests
        // turn PreVote (on by default) back on.
        c.preVote = false
        configure(&c)
        node = RaftNode(config: c, state: state, seed: seed)
        persisted = state
    }

    /// Runs one Ready cycle and returns every message it produced (eager ones first).
    @discardableResult
    mutating func flush() -> [Message] {
        var out: [Message] = []
        while let rd = node.ready() {
            out += rd.eagerMessages
            if let s = rd.snapshot {
                persisted.snapshot = s
                persisted.entries.removeAll { $0.index <= s.metadata.index }
            }
            if let first = rd.entries.first {
                persisted.entries.removeAll { $0.index >= first.index }
                persisted.entries += rd.entries
            }
            if let hs = rd.hardState { persisted.hardState = hs }
            out += rd.messages
            node.advance(rd)
        }
        return out
    }

    mutating func step(_ m: Message) -> [Message] {
        node.step(m)
        return flush()
    }

    mutating func tick(_ n: Int) -> [Message] {
        var out: [Message] = []
        for _ in 0..<n {
            node.tick()
            out += flush()
        }
        return out
    }

    /// Ticks until the node campaigns; returns its RequestVotes.
    mutating func campaign() -> [Message] {
        for _ in 0..<1000 {
            node.tick()
            let out = flush()
            if node.role == .candidate || node.role == .leader { return out }
        }
        XCTFail("node never campaigned")
        return []
    }

    /// Makes this node leader of a 3-node cluster by granting it votes.
    mutating func becomeLeader() -> [Message] {
        _ = campaign()
        var out: [Message] = []
        for peer in node.cluster.voters where peer != node.id && node.role == .candidate {
            out += step(Message(from: peer, to: node.id, term: node.term, kind: .requestVoteResponse(granted: true)))
        }
        XCTAssertEqual(node.role, .leader)
        return out
    }
}

func entries(_ terms: [Term], from start: LogIndex = 1) -> [Entry] {
    terms.enumerated().map { Entry(term: $0.element, index: start + LogIndex($0.offset), data: [UInt8($0.offset & 0xff)]) }
}

func appendMsg(from: NodeID = 2, to: NodeID = 1, term: Term, prev: LogIndex, prevTerm: Term, _ es: [Entry], commit: LogIndex = 0) -> Message {
    Message(from: from, to: to, term: term, kind: .appendEntries(prevLogIndex: prev, prevLogTerm: prevTerm, entries: es, leaderCommit: commit))
}

extension Message {
    var isVoteGranted: Bool? {
        if case let .requestVoteResponse(g) = kind { return g }
        return nil
    }
    var appendResponse: (success: Bool, index: LogIndex, hintTerm: Term, hintIndex: LogIndex)? {
        if case let .appendEntriesResponse(s, i, ht, hi) = kind { return (s, i, ht, hi) }
        return nil
    }
}
