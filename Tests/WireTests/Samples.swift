import Raft
import KV
@testable import Wire

/// One or more example values of every message the wire carries, shared by the
/// round-trip and fuzz tests.
enum Samples {
    static let metadata = SnapshotMetadata(index: 900, term: 7, config: ClusterConfig(voters: [1, 2, 3]))

    static let kinds: [MessageKind] = [
        .requestVote(lastLogIndex: 0, lastLogTerm: 0),
        .requestVote(lastLogIndex: .max, lastLogTerm: .max),
        .requestVoteResponse(granted: true),
        .requestVoteResponse(granted: false),
        .appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0),
        .appendEntries(prevLogIndex: 10, prevLogTerm: 3, entries: [
            Entry(term: 3, index: 11, kind: .normal, data: [1, 2, 3]),
            Entry(term: 4, index: 12, kind: .noop, data: []),
            Entry(term: 5, index: 13, kind: .normal, data: Array(repeating: 0xAB, count: 300)),
        ], leaderCommit: 11),
        .appendEntriesResponse(success: true, index: 13, hintTerm: 0, hintIndex: 0),
        .appendEntriesResponse(success: false, index: 10, hintTerm: 2, hintIndex: 8),
        .heartbeat(commit: 42),
        .heartbeatResponse,
        .installSnapshot(metadata: metadata, offset: 0, totalSize: 10, chunk: [1, 2, 3, 4], done: false),
        .installSnapshot(metadata: metadata, offset: 4, totalSize: 10, chunk: [5, 6, 7, 8, 9, 10], done: true),
        .installSnapshot(metadata: metadata, offset: 0, totalSize: 0, chunk: [], done: true),
        .installSnapshotResponse(index: 900, nextOffset: 4, done: false),
        .installSnapshotResponse(index: 900, nextOffset: 10, done: true),
    ]

    static let messages: [Message] = kinds.enumerated().map { i, k in
        Message(from: UInt64(i % 3 + 1), to: UInt64((i + 1) % 3 + 1), term: 5, kind: k)
    }

    static let handshake = PeerHandshake(clusterToken: "cluster-αβ", nodeName: "node-1", nodeID: 1)

    static let peerFrames: [PeerFrame] = [
        .handshake(handshake),
        .handshakeReply(.accepted(nodeID: 2, nodeName: "node-2")),
        .handshakeReply(.refused(reason: "wrong cluster token")),
        .raft([messages[0]]),
        .raft(messages),
    ]

    static let calls: [ClientCall] = [
        .kv(ClientRequest(clientID: 9, sequence: 1, firstUnacknowledged: 1, command: .put(key: Array("k".utf8), value: Array("v".utf8)))),
        .kv(ClientRequest(clientID: .max, sequence: 77, firstUnacknowledged: 70, command: .get(key: [0, 255]))),
        .kv(ClientRequest(clientID: 3, sequence: 2, firstUnacknowledged: 2, command: .delete(key: []))),
        .status,
        .memberList,
        .register,
        .hello(ClientHello()),
        .hello(ClientHello(minVersion: 1, maxVersion: 7, features: ProtocolFeatures(rawValue: 0xFF), clientName: "py-conformance")),
    ]

    static let status = StatusInfo(name: "node-1", id: 1, role: .leader, term: 9, leaderID: 1, leaderName: "node-1",
                                   commitIndex: 100, appliedIndex: 99, logSize: 50, firstIndex: 51, lastIndex: 100,
                                   sessions: 12, sessionLimit: 10_000, undecodableEntries: 1)

    static let errors: [ClientError] = [
        .notLeader(leaderID: 2, leaderClientAddress: "10.0.0.2:2379"),
        .notLeader(leaderID: 0, leaderClientAddress: nil),
        .unavailable("no quorum"),
        .timeout,
        .badRequest("unknown command"),
        .tooLarge(limit: "frame", bytes: 4 << 20),
        .tooLarge(limit: "key", bytes: 65_536),
        .busy,
        .shuttingDown,
        .failed(code: 42, message: "an error from a newer version"),
    ]

    static let hello = HelloReply(version: 1, features: .deadlines, nodeID: 2, nodeName: "node-2", maxKeyBytes: 65_536,
                                  maxValueBytes: 1 << 20, maxCallBytes: 1_572_864, maxFrameBytes: 4 << 20,
                                  maxInflight: 1024, requestTimeoutMilliseconds: 5000)

    static let replies: [ClientReply] = [
        .kv(.stored(revision: 12)),
        .kv(.value(nil)),
        .kv(.value([1, 2, 3])),
        .kv(.deleted(count: 1)),
        .kv(.sessionExpired),
        .kv(.registered(clientID: 41)),
        .status(status),
        .status(StatusInfo(name: "", id: 3, role: .follower, term: 0, leaderID: 0, leaderName: "",
                           commitIndex: 0, appliedIndex: 0, logSize: 0, firstIndex: 1, lastIndex: 0)),
        .status(StatusInfo(name: "n", id: 3, role: .candidate, term: 4, leaderID: 0, leaderName: "", commitIndex: 5,
                           appliedIndex: 5, logSize: 5, firstIndex: 1, lastIndex: 5, sessions: 7, sessionLimit: 10_000, undecodableEntries: 1)),
        .hello(hello),
        .members([]),
        .members([MemberInfo(id: 1, name: "a", peerURL: "127.0.0.1:2380", clientURL: "127.0.0.1:2379"),
                  MemberInfo(id: 2, name: "b", peerURL: "[::1]:2380", clientURL: "[::1]:2379")]),
    ] + errors.map { .error($0) }
}
