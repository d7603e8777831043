import Codec
import Dispatch
import Foundation
import KV
import Server
import Transport
import Wire
import Glibc
import XCTest

/// No client can lock the others out: idle and half-sent connections are reclaimed, one
/// source address gets only its share of the slots, and the global cap still holds.
final class ConnectionLimitTests: XCTestCase {
    private func busyAndClosed(_ s: FloodSocket) -> Bool {
        let (bytes, closed) = s.waitForClose()
        var d = FrameDecoder(channel: .any)
        guard closed, let f = try? d.decode(bytes).first, f.requestID == 0,
              case .error(.busy)? = try? ClientReply.decode(f) else { return false }
        return true
    }

    func testIdleAndHalfOpenFloodCannotLockOutAWorkingClient() throws {
        let cluster = TestCluster(size: 1, label: "connlimit")
        cluster.configure = {
            $0.maxClientConnections = 60
            $0.maxClientConnectionsPerAddress = 20
            $0.clientIdleTimeoutMilliseconds = 1_500
            $0.frameTimeoutMilliseconds = 800
        }
        try cluster.startAll()
        XCTAssertNotNil(cluster.waitForLeader())
        let port = Int(cluster.clientAddress(0).port)

        // The flood: 10 idle and 10 half-sent connections from 127.0.0.2 fill its share...
        var idle: [FloodSocket] = [], halfSent: [FloodSocket] = []
        for _ in 0..<10 { idle.append(try XCTUnwrap(FloodSocket(port: port, from: "127.0.0.2"))) }
        for i in 0..<10 {
            let s = try XCTUnwrap(FloodSocket(port: port, from: "127.0.0.2"))
            s.send(Array(ClientCall.status.encodedFrame(requestID: UInt64(100 + i)).prefix(12)))
            halfSent.append(s)
        }
        // ...so the next one from that address is refused with a connection-level busy.
        let over = try XCTUnwrap(FloodSocket(port: port, from: "127.0.0.2"))
        XCTAssertTrue(busyAndClosed(over), "the 21st connection from one address must be refused")
        over.close()

        // A real client on another address is served at once, while the flood holds its slots.
        let good = try RawClient(cluster.clientAddress(0))
        defer { good.close() }
        var session = try Session(registeringWith: good)
        guard case .kv(.stored) = try good.call(session.next(.put(key: bytes("k"), value: bytes("v"))), id: 1) else {
            return XCTFail("a client on another address must not be locked out")
        }

        // Half-sent frames are cut at the frame deadline (with an error naming the request),
        // idle connections at the idle timeout; the working client, which keeps calling, stays.
        for s in halfSent {
            let (bytes, closed) = s.waitForClose()
            XCTAssertTrue(closed, "a half-sent frame must not hold a slot past the frame deadline")
            var d = FrameDecoder(channel: .any)
            if let f = try? d.decode(bytes).first, case let .error(e)? = try? ClientReply.decode(f) {
                guard case .badRequest = e else { return XCTFail("expected badRequest, got \(e)") }
            } else {
                XCTFail("no error frame before the close: \(bytes)")
            }
            s.close()
        }
        let started = Date()
        var calls = 2
        while Date().timeIntervalSince(started) < 2.5 {
            XCTAssertEqual(try good.call(session.next(.get(key: bytes("k"))), id: UInt64(calls)), .kv(.value(bytes("v"))))
            calls += 1
            Thread.sleep(forTimeInterval: 0.2)
        }
        for s in idle {
            XCTAssertTrue(s.waitForClose().closed, "an idle connection must be closed after the idle timeout")
            s.close()
        }
        // The slots came back: that address may connect again.
        let again = try XCTUnwrap(FloodSocket(port: port, from: "127.0.0.2"))
        again.send(ClientCall.status.encodedFrame(requestID: 9))
        let (reply, _) = again.waitForClose()
        XCTAssertFalse(reply.isEmpty, "a fresh connection from the flooding address is served again")
        again.close()
    }

    func testGlobalCapStillHoldsAcrossAddresses() throws {
        let cluster = TestCluster(size: 1, label: "conncap")
        cluster.configure = {
            $0.maxClientConnections = 30
            $0.maxClientConnectionsPerAddress = 10
        }
        try cluster.startAll()
        XCTAssertNotNil(cluster.waitForLeader())
        let port = Int(cluster.clientAddress(0).port)
        var held: [FloodSocket] = []
        defer { for s in held { s.close() } }
        for host in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
            for _ in 0..<10 { held.append(try XCTUnwrap(FloodSocket(port: port, from: host))) }
        }
        // Accepts are asynchronous: give the loop a moment to count all 30.
        Thread.sleep(forTimeInterval: 0.3)
        let over = try XCTUnwrap(FloodSocket(port: port, from: "127.0.0.5"))
        XCTAssertTrue(busyAndClosed(over), "past the global cap every address is refused")
        over.close()
        held.removeLast().close()
        Thread.sleep(forTimeInterval: 0.3)
        let fits = try XCTUnwrap(FloodSocket(port: port, from: "127.0.0.5"))
        fits.send(ClientCall.status.encodedFrame(requestID: 1))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fits.fd, $0.baseAddress, $0.count, 0) }
        var d = FrameDecoder(channel: .any)
        let f = n > 0 ? try d.decode(Array(buffer.prefix(n))).first : nil
        XCTAssertEqual(f?.requestID, 1, "a freed slot is usable")
        fits.close()
    }
}

/// A client that pipelines and never reads is held back by TCP, not cut off for a frame
/// that is incomplete only because the server stopped reading.
final class SlowReaderTests: XCTestCase {
    func testAPausedReaderIsNotCutByTheFrameDeadline() throws {
        let cluster = TestCluster(size: 1, label: "slowreader")
        cluster.configure = {
            $0.frameTimeoutMilliseconds = 300
            $0.maxOutboundBytesPerConnection = 4 << 20  // pause reading at 1 MiB queued; 1024 replies fit
        }
        try cluster.startAll()
        XCTAssertNotNil(cluster.waitForLeader())
        let setup = try RawClient(cluster.clientAddress(0))
        defer { setup.close() }
        var writer = try Session(registeringWith: setup)
        guard case .kv(.stored) = try setup.call(writer.next(.put(key: bytes("v"), value: [UInt8](repeating: 1, count: 1024))), id: 1) else {
            return XCTFail("setup put")
        }
        let port = Int(cluster.clientAddress(0).port)
        let slow = try XCTUnwrap(FloodSocket(port: port, receiveTimeoutMs: 3000))
        defer { slow.close() }
        slow.send(ClientCall.register.encodedFrame(requestID: 1))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(slow.fd, $0.baseAddress, $0.count, 0) }
        var d = FrameDecoder(channel: .any)
        guard n > 0, let f = try d.decode(Array(buffer.prefix(n))).first, case let .kv(.registered(id)) = try ClientReply.decode(f) else {
            return XCTFail("register")
        }
        // Pipeline gets until TCP refuses more (the server stopped reading), never reading replies.
        let flags = fcntl(slow.fd, F_GETFL)
        _ = fcntl(slow.fd, F_SETFL, flags | O_NONBLOCK)
        var seq: UInt64 = 0
        var blockedAt: Date?
        let deadline = Date().addingTimeInterval(20)
        var pending: [UInt8] = []
        while Date() < deadline {
            if pending.isEmpty {
                for _ in 0..<7 {  // 7 frames per send: batch boundaries fall mid-frame now and then
                    seq += 1
                    pending += ClientCall.kv(ClientRequest(clientID: id, sequence: seq, firstUnacknowledged: seq,
                                                           command: .get(key: bytes("v")))).encodedFrame(requestID: seq + 1)
                }
            }
            let sent = pending.withUnsafeBytes { Glibc.send(slow.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                pending.removeFirst(sent)
                blockedAt = nil
            } else if errno == EAGAIN {
                if let b = blockedAt, Date().timeIntervalSince(b) > 1.5 { break }  // blocked for good
                if blockedAt == nil { blockedAt = Date() }
                usleep(20_000)
            } else {
                return XCTFail("the server closed the slow reader (errno \(errno)): it should only stop reading")
            }
        }
        XCTAssertNotNil(blockedAt, "TCP must push back on a client that does not read")
        // Well past the frame deadline while blocked: the connection must still be there.
        Thread.sleep(forTimeInterval: 1.0)
        var drained = 0, sawEOF = false, values = 0, busy = 0
        var replies = FrameDecoder(channel: .any)
        let drainUntil = Date().addingTimeInterval(3)
        var big = [UInt8](repeating: 0, count: 1 << 20)
        while Date() < drainUntil {
            let got = big.withUnsafeMutableBytes { recv(slow.fd, $0.baseAddress, $0.count, 0) }
            if got > 0 {
                drained += got
                for f in try replies.decode(big.prefix(got)) {
                    switch try ClientReply.decode(f) {
                    case .kv(.value): values += 1
                    case .error(.busy): busy += 1
                    default: break
                    }
                }
                continue
            }
            if got == 0 { sawEOF = true; break }
            usleep(10_000)
        }
        XCTAssertFalse(sawEOF, "a paused reader must not be cut by the frame deadline")
        XCTAssertGreaterThan(values, 0)
        // Requests past the connection's in-flight share wait (in TCP or the decoder) instead of
        // being answered `busy` one by one.
        XCTAssertEqual(busy, 0, "held back, not refused")
    }
}
