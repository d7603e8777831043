import Foundation
import KV
import Raft
import Replica
@testable import Service
import Storage
import Wire
import XCTest

/// The client-request lifecycle on a real single-node replica (WAL in a temp directory):
/// admit, propose, resolve on apply, expire, forget, and the reply each outcome maps to.
final class ClientRequestServiceTests: XCTestCase {
    private final class View: ClusterView {
        var addresses: [NodeID: String] = [:]
        func redirectAddress(of leader: NodeID) -> String? { addresses[leader] }
    }

    private var directory = ""
    private let view = View()

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "service-tests-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func leaderService(_ limits: ClientRequestService.Limits = .init()) throws -> ClientRequestService {
        let wal = try WALStorage(directory: directory, identity: DataDirIdentity(clusterToken: "t", nodeID: 1))
        let replica = try Replica(config: RaftConfig(id: 1, voters: [1]), storage: wal, seed: 7)
        let service = ClientRequestService(replica: replica, limits: limits, view: view)
        for _ in 0..<100 where replica.node.role != .leader {
            replica.tick()
            try service.process(send: { _ in }, deliver: { _, _ in XCTFail("nothing was asked") })
        }
        XCTAssertEqual(replica.node.role, .leader)
        return service
    }

    private func put(_ seq: UInt64, key: String = "k", client: UInt64 = 5) -> ClientRequest {
        ClientRequest(clientID: client, sequence: seq, firstUnacknowledged: seq,
                      command: .put(key: Array(key.utf8), value: Array("v\(seq)".utf8)))
    }

    /// Registers a session through the log, as a client must before its requests apply.
    private func register(_ s: ClientRequestService) throws -> UInt64 {
        let origin = RequestOrigin(caller: 99, requestID: 1)
        XCTAssertNil(s.submit(.register, from: origin, now: 0))
        guard case .result(.registered(let id))? = try drive(s)[origin] else { XCTFail("not registered"); return 0 }
        XCTAssertEqual(s.reply(for: .result(.registered(clientID: id))), .kv(.registered(clientID: id)))
        return id
    }

    private func drive(_ s: ClientRequestService) throws -> [RequestOrigin: ClientOutcome] {
        var out: [RequestOrigin: ClientOutcome] = [:]
        try s.process(send: { _ in }, deliver: { o, r in
            XCTAssertNil(out[o], "one answer per request")
            out[o] = r
        })
        return out
    }

    func testAppliedRequestIsAnsweredWithItsResult() throws {
        let s = try leaderService()
        let id = try register(s)
        let origin = RequestOrigin(caller: 1, requestID: 10)
        XCTAssertNil(s.submit(put(1, client: id), from: origin, now: 0))
        XCTAssertEqual(s.pendingCount, 1)
        let answers = try drive(s)
        guard case .result(.stored(let rev))? = answers[origin] else { return XCTFail("\(answers)") }
        XCTAssertEqual(rev, s.replica.node.log.lastIndex, "revision is the entry's log index")
        XCTAssertEqual(s.pendingCount, 0)
        XCTAssertEqual(s.reply(for: answers[origin]!), .kv(.stored(revision: rev)))
    }

    func testRequestIDInFlightIsRefusedAndOthersGoOn() throws {
        let s = try leaderService()
        let a = RequestOrigin(caller: 1, requestID: 10)
        XCTAssertNil(s.submit(put(1), from: a, now: 0))
        guard case .badRequest(let why)? = s.submit(put(2), from: a, now: 0) else { return XCTFail() }
        XCTAssertTrue(why.contains("request id 10 is already in flight"), why)
        // Same id on another connection, or another id on this one, is fine.
        XCTAssertNil(s.submit(put(2), from: RequestOrigin(caller: 2, requestID: 10), now: 0))
        XCTAssertNil(s.submit(put(3), from: RequestOrigin(caller: 1, requestID: 11), now: 0))
        XCTAssertEqual(try drive(s).count, 3)
        // Once answered, the id may be used again.
        XCTAssertNil(s.submit(put(4), from: a, now: 0))
    }

    func testEmptyKeyIsRefusedBeforeProposing() throws {
        let s = try leaderService()
        let before = s.replica.node.log.lastIndex
        let req = ClientRequest(clientID: 5, sequence: 1, firstUnacknowledged: 1, command: .get(key: []))
        XCTAssertEqual(s.submit(req, from: RequestOrigin(caller: 1, requestID: 1), now: 0), .badRequest("key must not be empty"))
        XCTAssertEqual(s.replica.node.log.lastIndex, before, "nothing was proposed")
    }

    func testCapacityOverallAndPerCaller() throws {
        var limits = ClientRequestService.Limits()
        limits.maxPending = 3
        limits.maxInflightPerCaller = 2
        let s = try leaderService(limits)
        XCTAssertNil(s.submit(put(1), from: RequestOrigin(caller: 1, requestID: 1), now: 0))
        XCTAssertNil(s.submit(put(2), from: RequestOrigin(caller: 1, requestID: 2), now: 0))
        XCTAssertEqual(s.submit(put(3), from: RequestOrigin(caller: 1, requestID: 3), now: 0), .busy, "per caller")
        XCTAssertNil(s.submit(put(3), from: RequestOrigin(caller: 2, requestID: 1), now: 0))
        XCTAssertEqual(s.submit(put(4), from: RequestOrigin(caller: 3, requestID: 1), now: 0), .busy, "overall")
        XCTAssertEqual(s.inFlight(caller: 1), 2)
    }

    /// The caller's deadline wins over the server's when shorter; a passed deadline answers
    /// `timedOut` once and the late apply is not answered again.
    func testDeadlinesExpireEarliestFirstAndOnce() throws {
        var limits = ClientRequestService.Limits()
        limits.requestTimeout = 100
        let s = try leaderService(limits)
        let short = RequestOrigin(caller: 1, requestID: 1), long = RequestOrigin(caller: 1, requestID: 2)
        XCTAssertNil(s.submit(put(1), from: long, now: 0))
        XCTAssertNil(s.submit(put(2), from: short, now: 0, timeout: 30))
        XCTAssertNil(s.submit(put(3), from: RequestOrigin(caller: 1, requestID: 3), now: 0, timeout: 500))
        XCTAssertEqual(s.nextDeadline, 30)
        var expired: [RequestOrigin] = []
        s.expire(now: 29) { o, _ in expired.append(o) }
        XCTAssertEqual(expired, [])
        s.expire(now: 30) { o, r in expired.append(o); XCTAssertEqual(r, .timedOut) }
        XCTAssertEqual(expired, [short])
        s.expire(now: 100) { o, _ in expired.append(o) }
        XCTAssertEqual(expired.count, 3, "the server's 100 caps the caller's 500")
        XCTAssertEqual(try drive(s), [:], "entries applied after their deadline are not answered twice")
        XCTAssertEqual(s.reply(for: .timedOut), .error(.timeout))
    }

    /// A caller's deadline is answered a tenth early, at most the margin cap.
    func testCallerDeadlineIsAnsweredAMarginEarly() throws {
        var limits = ClientRequestService.Limits()
        limits.deadlineMarginCap = 5
        let s = try leaderService(limits)
        XCTAssertNil(s.submit(put(1), from: RequestOrigin(caller: 1, requestID: 1), now: 1000, timeout: 30))
        XCTAssertEqual(s.nextDeadline, 1027, "30 less a tenth")
        XCTAssertNil(s.submit(put(2), from: RequestOrigin(caller: 1, requestID: 2), now: 1000, timeout: 200))
        var expired: [UInt64] = []
        s.expire(now: 1194) { o, _ in expired.append(o.requestID) }
        XCTAssertEqual(expired, [1])
        s.expire(now: 1195) { o, _ in expired.append(o.requestID) }
        XCTAssertEqual(expired, [1, 2], "200 less the cap of 5")
    }

    func testZeroDeadlineDropsTheWorkWithoutProposing() throws {
        let s = try leaderService()
        let before = s.replica.node.log.lastIndex
        XCTAssertEqual(s.submit(put(1), from: RequestOrigin(caller: 1, requestID: 1), now: 50, timeout: 0), .timedOut)
        XCTAssertEqual(s.replica.node.log.lastIndex, before)
    }

    func testForgottenCallerIsNotAnswered() throws {
        let s = try leaderService()
        XCTAssertNil(s.submit(put(1), from: RequestOrigin(caller: 1, requestID: 1), now: 0))
        XCTAssertNil(s.submit(put(2), from: RequestOrigin(caller: 2, requestID: 1), now: 0))
        s.forget(caller: 1)
        XCTAssertEqual(Array(try drive(s).keys), [RequestOrigin(caller: 2, requestID: 1)])
    }

    func testShutdownAnswersEverythingTimedOut() throws {
        let s = try leaderService()
        for i in 1...3 { XCTAssertNil(s.submit(put(UInt64(i)), from: RequestOrigin(caller: 1, requestID: UInt64(i)), now: 0)) }
        var n = 0
        s.drainAll { _, r in XCTAssertEqual(r, .timedOut); n += 1 }
        XCTAssertEqual(n, 3)
        XCTAssertEqual(s.pendingCount, 0)
    }

    /// notLeader carries a usable address or becomes unavailable: never a redirect to nowhere.
    func testNotLeaderMapping() throws {
        let s = try leaderService()
        view.addresses[2] = "10.0.0.2:2379"
        XCTAssertEqual(s.reply(for: .notLeader(leader: 2)), .error(.notLeader(leaderID: 2, leaderClientAddress: "10.0.0.2:2379")))
        guard case .error(.unavailable(let why)) = s.reply(for: .notLeader(leader: 3)) else { return XCTFail() }
        XCTAssertTrue(why.contains("not reachable"), why)
        guard case .error(.unavailable) = s.reply(for: .notLeader(leader: noNode)) else { return XCTFail() }
        XCTAssertEqual(s.reply(for: .tooLarge(limit: "proposal", bytes: 9)), .error(.tooLarge(limit: "proposal", bytes: 9)))
    }

    func testProposalLimitFitsTheLargestValidRequest() throws {
        let s = try leaderService()
        let biggest = ClientRequest(clientID: try register(s), sequence: .max, firstUnacknowledged: .max,
                                    command: .put(key: [UInt8](repeating: 1, count: KVCommandLimits.maxKeyBytes),
                                                  value: [UInt8](repeating: 2, count: KVCommandLimits.maxValueBytes)))
        XCTAssertNil(s.submit(biggest, from: RequestOrigin(caller: 1, requestID: 1), now: 0),
                     "a 64 KiB key and a 1 MiB value are within the documented limits")
        guard case .result(.stored)? = try drive(s)[RequestOrigin(caller: 1, requestID: 1)] else { return XCTFail() }
    }

    func testPendingTableSkipsStaleDeadlines() {
        var t = PendingTable()
        t.add(index: 5, term: 1, origin: RequestOrigin(caller: 1, requestID: 1), deadline: 10)
        t.add(index: 6, term: 1, origin: RequestOrigin(caller: 1, requestID: 2), deadline: 20)
        XCTAssertNotNil(t.remove(at: 5))
        // Index 5 is reused by a later admission with a later deadline: the old key is stale.
        t.add(index: 5, term: 2, origin: RequestOrigin(caller: 2, requestID: 1), deadline: 30)
        XCTAssertEqual(t.removeExpired(now: 25).map(\.index), [6])
        XCTAssertEqual(t.removeExpired(now: 30).map(\.request.origin), [RequestOrigin(caller: 2, requestID: 1)])
        XCTAssertTrue(t.isEmpty)
        XCTAssertEqual(t.inFlight(1), 0)
    }
}
