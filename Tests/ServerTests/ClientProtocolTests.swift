import Foundation
import KV
import Raft
import Server
import Transport
import Wire
import XCTest

/// Client-protocol rules that need a running cluster (docs/protocol.md): no redirect to a
/// leader whose connection is gone, and a caller's deadline answered before it expires.
final class ClientProtocolTests: XCTestCase {
    func testFollowersStopRedirectingToAStoppedLeader() throws {
        let cluster = TestCluster(label: "deadleader")
        try cluster.startAll()
        let leader = try XCTUnwrap(cluster.waitForLeader())
        let followers = (0..<3).filter { $0 != leader }
        // Until the followers have learned the leader's address, they may answer unavailable.
        let dead = cluster.clientAddress(leader).description
        XCTAssertTrue(eventually {
            let c = try? RawClient(cluster.clientAddress(followers[0]))
            defer { c?.close() }
            return (try? c?.call(.register, id: 1)) == .error(.notLeader(leaderID: UInt64(leader + 1), leaderClientAddress: dead))
        }, "the follower redirects to the live leader")
        cluster.stop(leader)
        usleep(200_000)  // the followers' links to it drop as its sockets close
        for f in followers {
            let c = try RawClient(cluster.clientAddress(f))
            defer { c.close() }
            for id in UInt64(2)...6 {
                let r = try c.call(.register, id: id)
                if case let .error(.notLeader(_, address)) = r { XCTAssertNotEqual(address, dead, "redirected to a stopped leader") }
                usleep(20_000)
            }
        }
    }

    func testCallerDeadlineIsAnsweredBeforeItExpires() throws {
        let cluster = TestCluster(label: "deadline")
        try cluster.startAll()
        let leader = try XCTUnwrap(cluster.waitForLeader())
        let client = try RawClient(cluster.clientAddress(leader))
        defer { client.close() }
        var session = try Session(registeringWith: client)
        for f in 0..<3 where f != leader { cluster.stop(f) }
        let put = session.next(.put(key: bytes("frozen"), value: bytes("v")))
        let started = Date()
        client.send(put.encodedFrame(requestID: 40, options: CallOptions(deadlineMilliseconds: 800)))
        let reply = try client.reply(id: 40)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(reply, .error(.timeout), "a leader without a quorum cannot commit")
        XCTAssertLessThan(elapsed, 0.8, "answered before the caller's deadline")
        XCTAssertGreaterThanOrEqual(elapsed, 0.7, "but not earlier than the deadline less a tenth")
    }
}
