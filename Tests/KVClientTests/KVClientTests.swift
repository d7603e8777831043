import KV
import KVClient
import Wire
import XCTest

final class KVClientTests: XCTestCase {
    func testPutGetDeleteRoundTrip() async throws {
        let server = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(endpoints: [server.address], commandTimeout: .seconds(5))
        defer { client.close() }
        try await client.put("greeting", "hello")
        let v = try await client.get("greeting")
        XCTAssertEqual(v, "hello")
        // Binary-safe: every byte value survives.
        let binary = (0...255).map { UInt8($0) }
        try await client.put([0, 1, 2], binary)
        let got = try await client.get([0, 1, 2])
        XCTAssertEqual(got, binary)
        let n1 = try await client.delete("greeting")
        let n0 = try await client.delete("greeting")
        XCTAssertEqual([n1, n0], [1, 0])
        let gone = try await client.get("greeting")
        XCTAssertNil(gone)
    }

    func testNotLeaderRedirectWithAddressIsFollowed() async throws {
        let leader = try FakeServer(self, behaviour: storeBehaviour())
        let leaderAddress = leader.address
        let follower = try FakeServer(self) { _, _, respond in
            respond.reply(.error(.notLeader(leaderID: 2, leaderClientAddress: leaderAddress)))
        }
        let client = try KVClient(endpoints: [follower.address])
        defer { client.close() }
        try await client.put("k", "v")
        XCTAssertEqual(follower.requests.count, 1)
        XCTAssertEqual(leader.requests.count, 1)
        XCTAssertEqual(client.leaderHint, leader.address)
        // Later calls go straight to the leader.
        _ = try await client.get("k")
        XCTAssertEqual(follower.requests.count, 1)
    }

    func testNotLeaderWithIDOnlyIsResolvedThroughMemberList() async throws {
        let leader = try FakeServer(self, behaviour: storeBehaviour())
        let leaderAddress = leader.address
        let follower = try FakeServer(self) { call, _, respond in
            switch call {
            case .memberList:
                respond.reply(.members([
                    MemberInfo(id: 1, name: "n1", peerURL: "127.0.0.1:1", clientURL: "127.0.0.1:9"),
                    MemberInfo(id: 2, name: "n2", peerURL: "127.0.0.1:2", clientURL: leaderAddress),
                ]))
            default:
                respond.reply(.error(.notLeader(leaderID: 2, leaderClientAddress: nil)))
            }
        }
        let client = try KVClient(endpoints: [follower.address])
        defer { client.close() }
        try await client.put("k", "v")
        XCTAssertEqual(leader.requests.count, 1)
        XCTAssertEqual(client.leaderHint, leader.address)
    }

    func testSilentServerGivesTimeoutWithUnknownOutcome() async throws {
        let server = try FakeServer(self) { _, _, _ in }  // never answers
        let client = try KVClient(configuration: .init(endpoints: [server.address], commandTimeout: .milliseconds(400)))
        defer { client.close() }
        let start = ContinuousClock.now
        do {
            try await client.put("k", "v")
            XCTFail("expected a timeout")
        } catch {
            guard case .timeout = error else { return XCTFail("expected timeout, got \(error)") }
            XCTAssertTrue(error.outcomeUnknown)
            XCTAssertTrue(error.description.contains("outcome unknown"), error.description)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
    }

    func testRetryAfterServerTimeoutReusesSequence() async throws {
        let attempts = Locked(0)
        let store = storeBehaviour()
        let server = try FakeServer(self) { call, id, respond in
            if case .kv = call, attempts.with({ $0 += 1; return $0 }) == 1 {
                respond.reply(.error(.timeout))  // proposed, not seen to commit: client must retry
            } else {
                store(call, id, respond)
            }
        }
        let client = try KVClient(endpoints: [server.address])
        defer { client.close() }
        try await client.put("k", "v1")
        try await client.put("k", "v2")
        let reqs = server.requests
        XCTAssertEqual(reqs.count, 3)
        XCTAssertEqual(reqs[0].sequence, reqs[1].sequence, "a retry must reuse the sequence")
        XCTAssertEqual(reqs[0].clientID, reqs[1].clientID)
        XCTAssertEqual(reqs[0].clientID, client.sessionID)
        XCTAssertEqual(reqs[2].sequence, reqs[0].sequence + 1)
        // The first put was acknowledged before the second began.
        XCTAssertEqual(reqs[0].firstUnacknowledged, reqs[0].sequence)
        XCTAssertEqual(reqs[2].firstUnacknowledged, reqs[2].sequence)
    }

    func testRepliesOutOfOrderAreMatchedByRequestID() async throws {
        // Holds the first five gets, then answers them newest first.
        let held = Locked<[(ClientRequest, Responder)]>([])
        let server = try FakeServer(self) { call, _, respond in
            guard case let .kv(req) = call else { return }
            let batch = held.with { h -> [(ClientRequest, Responder)] in
                h.append((req, respond))
                return h.count == 5 ? h : []
            }
            for (r, resp) in batch.reversed() { resp.reply(.kv(.value(r.command.key + [0x21]))) }
        }
        let client = try KVClient(endpoints: [server.address])
        defer { client.close() }
        let results = try await withThrowingTaskGroup(of: (String, String?).self) { group in
            for i in 0..<5 { group.addTask { ("k\(i)", try await client.get("k\(i)")) } }
            var out: [(String, String?)] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(results.count, 5)
        for (key, value) in results { XCTAssertEqual(value, key + "!") }
        // All five were in flight at once, with distinct sequences and a shared floor.
        let reqs = server.requests
        XCTAssertEqual(Set(reqs.map(\.sequence)).count, 5)
    }

    func testSessionWindowHoldsNewRequestsUntilOldOnesAreAnswered() async throws {
        // The server answers nothing until it holds three requests.
        let held = Locked<[(ClientRequest, Responder)]>([])
        let server = try FakeServer(self) { call, _, respond in
            guard case let .kv(req) = call else { return }
            let batch = held.with { h -> [(ClientRequest, Responder)] in
                h.append((req, respond))
                if h.count >= 3 { defer { h.removeAll() }; return h }
                return []
            }
            for (r, resp) in batch { resp.reply(.kv(.value(r.command.key))) }
        }
        var config = KVClientConfiguration(endpoints: [server.address])
        config.sessionWindow = 3
        let client = try KVClient(configuration: config)
        defer { client.close() }
        let results = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<6 { group.addTask { try await client.get("k\(i)") } }
            var out: [String?] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(results.compactMap { $0 }.count, 6)
        let reqs = server.requests
        XCTAssertEqual(reqs.count, 6)
        // Never more than three sequences outstanding: the server's result cache covers them all.
        for r in reqs { XCTAssertLessThan(r.sequence - r.firstUnacknowledged, 3, "seq \(r.sequence) fua \(r.firstUnacknowledged)") }
        XCTAssertEqual(Set(reqs.prefix(3).map(\.sequence)), [1, 2, 3], "the first three go out together; the rest wait")
    }

    func testUnreachableEndpointsReportNoEndpointReachable() async throws {
        let p1 = try closedPort(), p2 = try closedPort()
        let client = try KVClient(configuration: .init(endpoints: ["127.0.0.1:\(p1)", "127.0.0.1:\(p2)"],
                                                       dialTimeout: .milliseconds(200), commandTimeout: .milliseconds(500)))
        defer { client.close() }
        do {
            try await client.put("k", "v")
            XCTFail("expected failure")
        } catch {
            guard case let .noEndpointReachable(tried, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(Set(tried), ["127.0.0.1:\(p1)", "127.0.0.1:\(p2)"])
            XCTAssertFalse(error.outcomeUnknown)
        }
    }

    func testFailsOverPastADeadEndpoint() async throws {
        let dead = try closedPort()
        let server = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(endpoints: ["127.0.0.1:\(dead)", server.address])
        defer { client.close() }
        for i in 0..<5 { try await client.put("k\(i)", "v") }
        XCTAssertEqual(server.requests.count, 5)
    }

    func testUnresponsiveLeaderIsAbandonedAndRetryKeepsSequence() async throws {
        // A paused leader: accepts connections, never answers.
        let paused = try FakeServer(self) { _, _, _ in }
        let healthy = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(configuration: .init(endpoints: [paused.address, healthy.address],
                                                       commandTimeout: .seconds(5), attemptTimeout: .milliseconds(200)))
        defer { client.close() }
        try await client.put("k", "v")
        XCTAssertEqual(paused.requests.count, 1)
        XCTAssertEqual(healthy.requests.count, 1)
        XCTAssertEqual(paused.requests[0].sequence, healthy.requests[0].sequence)
    }

    func testConnectionDroppedMidCallIsRetriedWithSameSequence() async throws {
        let attempts = Locked(0)
        let store = storeBehaviour()
        let server = try FakeServer(self) { call, id, respond in
            if attempts.with({ $0 += 1; return $0 }) == 1 { respond.closeConnection() } else { store(call, id, respond) }
        }
        let client = try KVClient(endpoints: [server.address])
        defer { client.close() }
        try await client.put("k", "v")
        let reqs = server.requests
        XCTAssertEqual(reqs.count, 2)
        XCTAssertEqual(reqs[0].sequence, reqs[1].sequence)
    }

    func testBadRequestIsNotRetried() async throws {
        let server = try FakeServer(self) { _, _, respond in respond.reply(.error(.badRequest("nope"))) }
        let client = try KVClient(endpoints: [server.address])
        defer { client.close() }
        do {
            try await client.put("k", "v")
            XCTFail("expected badRequest")
        } catch {
            guard case .badRequest = error else { return XCTFail("got \(error)") }
        }
        XCTAssertEqual(server.requests.count, 1)
    }

    func testUnavailableClusterReportsUnavailableNotTimeout() async throws {
        let server = try FakeServer(self) { _, _, respond in respond.reply(.error(.unavailable("no quorum"))) }
        let client = try KVClient(configuration: .init(endpoints: [server.address], commandTimeout: .milliseconds(300)))
        defer { client.close() }
        do {
            try await client.put("k", "v")
            XCTFail("expected unavailable")
        } catch {
            guard case let .unavailable(why) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(why.contains("no quorum"), why)
        }
        XCTAssertGreaterThan(server.requests.count, 1, "unavailable is retried until the deadline")
    }

    func testOversizedValueIsRejectedLocally() async throws {
        let server = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(endpoints: [server.address])
        defer { client.close() }
        do {
            try await client.put(Array("k".utf8), [UInt8](repeating: 1, count: KVCommandLimits.maxValueBytes + 1))
            XCTFail("expected tooLarge")
        } catch {
            guard case .tooLarge = error else { return XCTFail("got \(error)") }
        }
        XCTAssertEqual(server.calls.value.count, 0)
    }

    func testStatusAndMembers() async throws {
        let server = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(endpoints: [server.address])
        defer { client.close() }
        let s = try await client.status(server.address)
        XCTAssertEqual(s.name, "fake")
        let m = try await client.members()
        XCTAssertEqual(m, [])
    }

    func testInvalidEndpointIsRejected() {
        XCTAssertThrowsError(try KVClient(endpoints: ["nohost"])) { error in
            guard case .invalidEndpoint = error as? KVClientError else { return XCTFail("got \(error)") }
        }
    }

    func testClosedClientRefusesCalls() async throws {
        let server = try FakeServer(self, behaviour: storeBehaviour())
        let client = try KVClient(endpoints: [server.address])
        client.close()
        do {
            try await client.put("k", "v")
            XCTFail("expected closed")
        } catch {
            XCTAssertEqual(error, .closed)
        }
    }
}
