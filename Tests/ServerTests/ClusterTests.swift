import KV
import Raft
import Server
import Transport
import Wire
import XCTest

final class ClusterTests: XCTestCase {
    func testPutGetThroughLeaderRedirectStatusAndMembers() throws {
        let cluster = TestCluster(label: "basic")
        try cluster.startAll()
        let leader = try XCTUnwrap(cluster.waitForLeader(), "no leader elected")
        let follower = (leader + 1) % 3

        let client = try RawClient(cluster.clientAddress(leader))
        defer { client.close() }
        var session = try Session(registeringWith: client)
        XCTAssertEqual(try client.call(session.next(.put(key: bytes("k"), value: bytes("v1"))), id: 1),
                       .kv(.stored(revision: try storedRevision(client, 1))))
        XCTAssertEqual(try client.call(session.next(.get(key: bytes("k"))), id: 2), .kv(.value(bytes("v1"))))
        XCTAssertEqual(try client.call(session.next(.delete(key: bytes("k"))), id: 3), .kv(.deleted(count: 1)))
        XCTAssertEqual(try client.call(session.next(.get(key: bytes("k"))), id: 4), .kv(.value(nil)))

        // A follower refuses with the leader's id and client address (learned from handshakes).
        let leaderID = UInt64(leader + 1)
        let other = try RawClient(cluster.clientAddress(follower))
        defer { other.close() }
        var redirected: ClientReply?
        XCTAssertTrue(eventually {
            redirected = try? other.call(oneShot(.put(key: bytes("x"), value: [])), id: 9)
            return redirected == .error(.notLeader(leaderID: leaderID,
                                                   leaderClientAddress: cluster.clientAddress(leader).description))
        }, "follower reply: \(String(describing: redirected))")

        guard case let .status(status) = try other.call(.status, id: 10) else { return XCTFail("no status") }
        XCTAssertEqual(status.name, cluster.names[follower])
        XCTAssertEqual(status.role, .follower)
        XCTAssertEqual(status.leaderID, leaderID)
        XCTAssertEqual(status.leaderName, cluster.names[leader])
        XCTAssertGreaterThanOrEqual(status.commitIndex, 4)

        var members: [MemberInfo] = []
        XCTAssertTrue(eventually {
            if case let .members(list)? = try? other.call(.memberList, id: 11) { members = list }
            return members.count == 3 && members.allSatisfy { !$0.clientURL.isEmpty }
        }, "members: \(members)")
        XCTAssertEqual(members.map(\.name), cluster.names)
        XCTAssertEqual(members.map(\.id), [1, 2, 3])
        XCTAssertEqual(members.map(\.peerURL), cluster.peerPorts.map { "127.0.0.1:\($0)" })
        XCTAssertEqual(members.map(\.clientURL), (0..<3).map { cluster.clientAddress($0).description })
    }

    /// Many calls in flight on one connection: each reply carries its request's id.
    func testPipelinedRequestsAreMatchedByID() throws {
        let cluster = TestCluster(label: "pipeline")
        try cluster.startAll()
        let leader = try XCTUnwrap(cluster.waitForLeader())
        let client = try RawClient(cluster.clientAddress(leader))
        defer { client.close() }
        var session = try Session(registeringWith: client)
        let n = 200
        var batch: [UInt8] = []
        for i in 0..<n {
            batch += session.next(.put(key: bytes("key\(i)"), value: bytes("value\(i)"))).encodedFrame(requestID: UInt64(1000 + i))
        }
        client.send(batch)  // one write: the server sees them in one or few wake-ups (group commit)
        for i in 0..<n {
            guard case .kv(.stored) = try client.reply(id: UInt64(1000 + i)) else { return XCTFail("put \(i)") }
        }
        for i in stride(from: 0, to: n, by: 37) {
            XCTAssertEqual(try client.call(session.next(.get(key: bytes("key\(i)"))), id: UInt64(5000 + i)),
                           .kv(.value(bytes("value\(i)"))))
        }
    }

    func testRestartKeepsData() throws {
        let cluster = TestCluster(label: "restart")
        try cluster.startAll()
        var leader = try XCTUnwrap(cluster.waitForLeader())
        var session: Session
        do {
            let client = try RawClient(cluster.clientAddress(leader))
            defer { client.close() }
            // The session is replicated state: it survives the restart of every member.
            session = try Session(registeringWith: client)
            for i in 0..<20 {
                guard case .kv(.stored) = try client.call(session.next(.put(key: bytes("k\(i)"), value: bytes("v\(i)"))),
                                                          id: UInt64(i + 1)) else { return XCTFail("put \(i)") }
            }
        }
        cluster.stopAll()
        try cluster.startAll()
        leader = try XCTUnwrap(cluster.waitForLeader())
        let client = try RawClient(cluster.clientAddress(leader))
        defer { client.close() }
        for i in 0..<20 {
            XCTAssertEqual(try client.call(session.next(.get(key: bytes("k\(i)"))), id: UInt64(100 + i)),
                           .kv(.value(bytes("v\(i)"))))
        }
    }

    /// A leader cut off from its quorum cannot commit: the request is answered `timeout`
    /// (outcome unknown) by the server-side deadline, or refused once the leader steps down.
    func testRequestsWithoutQuorumTimeOutOrAreRefused() throws {
        let cluster = TestCluster(label: "timeout")
        cluster.requestTimeoutMilliseconds = 300
        try cluster.startAll()
        let leader = try XCTUnwrap(cluster.waitForLeader())
        for i in 0..<3 where i != leader { cluster.stop(i) }
        let client = try RawClient(cluster.clientAddress(leader))
        defer { client.close() }
        let reply = try client.call(oneShot(.put(key: bytes("k"), value: bytes("v"))), id: 1, timeout: 20)
        switch reply {
        case .error(.timeout), .error(.notLeader), .error(.unavailable): break
        default: XCTFail("unexpected reply \(reply)")
        }
    }

    private func storedRevision(_ client: RawClient, _ id: UInt64) throws -> UInt64 {
        guard case let .kv(.stored(revision))? = try? ClientReply.decode(XCTUnwrap(client.frame(id: id))) else { return 0 }
        return revision
    }
}
