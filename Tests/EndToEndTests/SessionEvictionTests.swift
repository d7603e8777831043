import Foundation
import KV
import KVClient
import Wire
import XCTest

/// Issue #15's reproduction against real kvd processes: an evicted session's retry must be
/// answered `sessionExpired` and never applied (before the fix it was applied again as a
/// new write, and another client's acknowledged write was lost).
final class SessionEvictionTests: XCTestCase {
    /// Raw client-port calls over one connection, so the test controls ids and sequences.
    private struct Caller {
        let socket: RawSocket
        var decoder = FrameDecoder(channel: .client)
        var nextID: UInt64 = 1
        var buffered: [UInt64: ClientReply] = [:]

        init(port: Int) throws { socket = try RawSocket(port: port, receiveTimeoutMs: 5000) }

        mutating func call(_ c: ClientCall) throws -> ClientReply {
            let id = nextID
            nextID += 1
            socket.send(c.encodedFrame(requestID: id))
            while buffered[id] == nil {
                let (bytes, closed) = socket.receiveSome()
                for f in try decoder.decode(bytes) { buffered[f.requestID] = try ClientReply.decode(f) }
                if closed && buffered[id] == nil { throw RawSocketError.failed("closed before reply \(id)") }
                if bytes.isEmpty && buffered[id] == nil { throw RawSocketError.failed("no reply to \(id)") }
            }
            return buffered.removeValue(forKey: id)!
        }

        mutating func register() throws -> UInt64 {
            let reply = try call(.register)
            guard case let .kv(.registered(id)) = reply else { throw RawSocketError.failed("register answered \(reply)") }
            return id
        }

        mutating func put(_ session: UInt64, _ seq: UInt64, _ k: String, _ v: String) throws -> ClientReply {
            try call(.kv(ClientRequest(clientID: session, sequence: seq, firstUnacknowledged: seq,
                                       command: .put(key: Array(k.utf8), value: Array(v.utf8)))))
        }
    }

    func testEvictedSessionsRetryIsExpiredAndNothingIsApplied() async throws {
        let limit = 16
        let cluster = try ProcessCluster(self, size: 3, kvdArguments: ["--max-sessions", String(limit)])
        let (leader, _) = try await cluster.waitForLeader()
        let port = Int(cluster.nodes[leader].clientAddress.split(separator: ":").last!)!
        var c = try Caller(port: port)
        defer { c.socket.close() }

        let x = try c.register(), y = try c.register()
        guard case let .kv(.stored(first)) = try c.put(x, 1, "dup", "1") else { return XCTFail("X's put failed") }
        guard case .kv(.stored) = try c.put(y, 1, "dup", "2") else { return XCTFail("Y's put failed") }
        for _ in 0..<(3 * limit) { _ = try c.register() }  // X is now least recently used: evicted

        let retry = try c.put(x, 1, "dup", "1")
        XCTAssertEqual(retry, .kv(.sessionExpired), "an evicted session's retry is refused (first revision was \(first))")
        let reader = try c.register()
        let read = try c.call(.kv(ClientRequest(clientID: reader, sequence: 1, firstUnacknowledged: 1, command: .get(key: Array("dup".utf8)))))
        XCTAssertEqual(read, .kv(.value(Array("2".utf8))), "Y's acknowledged write is not lost")

        // A reused sequence with another command is refused, and the table size is in status.
        let z = try c.register()
        _ = try c.put(z, 1, "z", "a")
        guard case let .error(.badRequest(why)) = try c.put(z, 1, "z", "b") else { return XCTFail("reuse not refused") }
        XCTAssertTrue(why.contains("sequence 1 reused for a different command"), why)
        let status = try c.call(.status)
        guard case let .status(info) = status else { return XCTFail("status answered \(status)") }
        XCTAssertEqual(info.sessionLimit, UInt64(limit))
        XCTAssertLessThanOrEqual(info.sessions, UInt64(limit))
        XCTAssertGreaterThan(info.sessions, 0)
        XCTAssertEqual(info.undecodableEntries, 0)
    }

    /// The client library: a put whose session expired reports the outcome as unknown, and the
    /// next call runs in a new session.
    func testClientStartsANewSessionAfterExpiry() async throws {
        let cluster = try ProcessCluster(self, size: 1, kvdArguments: ["--max-sessions", "2"])
        _ = try await cluster.waitForLeader()
        let victim = try cluster.client()
        defer { victim.close() }
        try await victim.put("a", "1")
        let first = try XCTUnwrap(victim.sessionID)
        for _ in 0..<4 {  // other clients' registrations evict the victim's session
            let other = try cluster.client()
            try await other.put("b", "x")
            other.close()
        }
        do {
            try await victim.put("a", "2")
            XCTFail("the put in an evicted session should not succeed")
        } catch let e as KVClientError {
            guard case .sessionExpired = e else { return XCTFail("got \(e)") }
            XCTAssertTrue(e.outcomeUnknown)
        }
        let value = try await victim.get("a")
        XCTAssertEqual(value, "1", "the expired put was not applied")
        XCTAssertNotEqual(victim.sessionID, first, "a new session was registered")
    }
}
