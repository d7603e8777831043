import Codec
import KV
import Server
import Transport
import Wire
import XCTest

/// Hostile or broken bytes on either port close that one connection (with an error frame on
/// the client port) and the node keeps serving everyone else.
final class MalformedInputTests: XCTestCase {
    private func header(type: UInt8, id: UInt64, length: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.writeUInt8(0x52); w.writeUInt8(0x4B); w.writeUInt8(1); w.writeUInt8(type); w.writeUInt8(0); w.writeUInt8(0)
        w.writeUInt64(id); w.writeUInt32(length)
        return w.bytes
    }

    private func expectErrorAndClose(_ client: RawClient, id: UInt64, file: StaticString = #filePath, line: UInt = #line,
                                     _ check: (ClientError) -> Bool) {
        XCTAssertTrue(client.waitForClose(), "connection not closed", file: file, line: line)
        guard let f = client.frames.first(where: { $0.type == .clientReply }),
              case let .error(e)? = try? ClientReply.decode(f) else {
            return XCTFail("no error frame: \(client.frames)", file: file, line: line)
        }
        XCTAssertEqual(f.requestID, id, file: file, line: line)
        XCTAssertTrue(check(e), "unexpected error \(e)", file: file, line: line)
    }

    func testMalformedInputClosesOnlyThatConnection() throws {
        let cluster = TestCluster(label: "malformed")
        try cluster.startAll()
        let leader = try XCTUnwrap(cluster.waitForLeader())
        let address = cluster.clientAddress(leader)

        // Garbage: bad magic, no request id to answer.
        let garbage = try RawClient(address)
        garbage.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        expectErrorAndClose(garbage, id: 0) { if case .badRequest = $0 { return true }; return false }

        // A header announcing a body over the frame limit: refused before the body is read.
        let oversized = try RawClient(address)
        oversized.send(header(type: 0x40, id: 77, length: UInt32.max - 100))
        expectErrorAndClose(oversized, id: 77) { if case .tooLarge = $0 { return true }; return false }

        // Unknown frame type, then a peer frame on the client port: each is skipped (its
        // length is trustworthy) and answered badRequest; the connection stays usable.
        let unknown = try RawClient(address)
        defer { unknown.close() }
        unknown.send(header(type: 0x7E, id: 78, length: 3) + [1, 2, 3])
        guard case .error(.badRequest) = try unknown.reply(id: 78) else { return XCTFail("expected badRequest for 78") }
        unknown.send(header(type: 0x03, id: 79, length: 0))
        guard case .error(.badRequest) = try unknown.reply(id: 79) else { return XCTFail("expected badRequest for 79") }
        guard case .status = try unknown.call(.status, id: 90) else { return XCTFail("connection unusable after a skipped frame") }

        // A frame over the frame limit but within the skip allowance: its body is drained,
        // the client reads tooLarge("frame") and the connection stays usable.
        unknown.send(header(type: 0x40, id: 91, length: 5 << 20) + [UInt8](repeating: 0, count: 5 << 20))
        guard case .error(.tooLarge("frame", _)) = try unknown.reply(id: 91) else { return XCTFail("expected tooLarge(frame)") }
        guard case .status = try unknown.call(.status, id: 92) else { return XCTFail("connection unusable after a drained frame") }

        // A truncated frame, then the client hangs up mid-frame.
        let truncated = try RawClient(address)
        truncated.send(Array(ClientCall.status.encodedFrame(requestID: 80).prefix(10)))
        truncated.close()

        // A well-framed call whose body does not decode: badRequest, connection stays usable.
        let badBody = try RawClient(address)
        defer { badBody.close() }
        badBody.send(encodeFrame(type: .clientCall, requestID: 81, body: [0x09, 0x01]))
        guard case .error(.badRequest) = try badBody.reply(id: 81) else { return XCTFail("expected badRequest") }
        guard case .status = try badBody.call(.status, id: 82) else { return XCTFail("connection unusable after bad body") }

        // A body over --max-request-bytes (but under the frame limit): tooLarge, connection stays.
        var session = Session()
        let big = session.next(.put(key: bytes("big"), value: [UInt8](repeating: 7, count: 1_700_000)))
        XCTAssertEqual(try badBody.call(big, id: 83), .error(.tooLarge(limit: "call", bytes: 1_572_864)))

        // Peer port: garbage and a raft frame before the handshake are both hung up on.
        let peerAddress = try SocketAddress(host: "127.0.0.1", port: cluster.peerPorts[leader])
        let peerGarbage = try RawClient(peerAddress)
        peerGarbage.send([UInt8](repeating: 0xFF, count: 64))
        XCTAssertTrue(peerGarbage.waitForClose())
        let noHandshake = try RawClient(peerAddress)
        noHandshake.send(PeerFrame.raft([]).encodedFrame())
        XCTAssertTrue(noHandshake.waitForClose())
        let clientFrameOnPeerPort = try RawClient(peerAddress)
        clientFrameOnPeerPort.send(ClientCall.status.encodedFrame(requestID: 1))
        XCTAssertTrue(clientFrameOnPeerPort.waitForClose())
        let oversizedPeer = try RawClient(peerAddress)
        oversizedPeer.send(header(type: 0x04, id: 0, length: UInt32.max - 100))
        XCTAssertTrue(oversizedPeer.waitForClose())

        // Everyone else is still served, and the cluster still replicates.
        let good = try RawClient(address)
        defer { good.close() }
        session = try Session(registeringWith: good)
        guard case .kv(.stored) = try good.call(session.next(.put(key: bytes("a"), value: bytes("b"))), id: 1) else { return XCTFail("put after garbage failed") }
        XCTAssertEqual(try good.call(session.next(.get(key: bytes("a"))), id: 2), .kv(.value(bytes("b"))))
        XCTAssertEqual(cluster.waitForLeader(timeout: 5), leader, "leadership should be undisturbed")
    }
}
