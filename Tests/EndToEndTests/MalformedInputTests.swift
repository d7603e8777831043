import Codec
import KV
import KVClient
import Wire
import XCTest

/// Garbage on either port closes that connection (with an error reply on the client port)
/// and the cluster keeps serving.
final class MalformedInputTests: XCTestCase {
    func testGarbageOnBothPortsIsRefusedAndClusterKeepsServing() async throws {
        let cluster = try ProcessCluster(self, size: 3)
        _ = try await cluster.waitForLeader()
        let node = cluster.nodes[0]
        let clientPort = Int(node.clientAddress.split(separator: ":").last!)!
        let peerPort = Int(node.peerAddress.split(separator: ":").last!)!

        // Not our protocol at all: an error reply, then the server closes.
        var s = try RawSocket(port: clientPort)
        s.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        var (bytes, closed) = s.receive()
        s.close()
        XCTAssertTrue(closed, "client port kept a garbage connection open")
        guard case let .error(e)? = firstReply(bytes) else { return XCTFail("no error reply to garbage: \(bytes)") }
        guard case .badRequest = e else { return XCTFail("expected badRequest, got \(e)") }

        // A header announcing a huge frame: tooLarge for that request id, then close.
        s = try RawSocket(port: clientPort)
        var w = ByteWriter()
        FrameHeader(type: .clientCall, requestID: 77, bodyLength: UInt32.max).encode(into: &w)
        s.send(w.bytes)
        (bytes, closed) = s.receive()
        s.close()
        XCTAssertTrue(closed)
        guard case (77, .error(.tooLarge))? = firstFrame(bytes) else { return XCTFail("expected tooLarge for 77: \(bytes)") }

        // A well-framed call with a bad body: badRequest for that id, and the connection stays usable.
        s = try RawSocket(port: clientPort)
        s.send(encodeFrame(type: .clientCall, requestID: 5, body: [0xEE, 0x01]))
        s.send(ClientCall.status.encodedFrame(requestID: 6))
        // Read until both replies are here: they may arrive in one segment or in two.
        var got: [UInt8] = []
        while decodeFrames(got).count < 2 {
            let more = s.receive(atLeast: 1)
            if more.isEmpty { break }  // timeout or close
            got += more
        }
        let two = decodeFrames(got)
        s.close()
        XCTAssertEqual(two.map(\.0), [5, 6])
        if two.count == 2 {
            guard case .error(.badRequest) = two[0].1 else { return XCTFail("expected badRequest, got \(two[0].1)") }
            guard case .status = two[1].1 else { return XCTFail("expected status, got \(two[1].1)") }
        }

        // Peer port: garbage, and a client frame on the wrong port, are both cut off.
        for payload in [Array(repeating: UInt8(0xAB), count: 64), ClientCall.status.encodedFrame(requestID: 1)] {
            s = try RawSocket(port: peerPort)
            s.send(payload)
            closed = s.receive().closed
            s.close()
            XCTAssertTrue(closed, "peer port kept a bad connection open")
        }

        // The cluster is unharmed.
        let client = try cluster.client()
        defer { client.close() }
        try await client.put("after-garbage", "fine")
        let v = try await client.get("after-garbage")
        XCTAssertEqual(v, "fine")
        XCTAssertTrue(cluster.nodes.allSatisfy(\.isRunning), cluster.logs())
    }

    private func decodeFrames(_ bytes: [UInt8]) -> [(UInt64, ClientReply)] {
        var d = FrameDecoder(channel: .any)
        guard let frames = try? d.decode(bytes) else { return [] }
        return frames.compactMap { f in (try? ClientReply.decode(f)).map { (f.requestID, $0) } }
    }

    private func firstFrame(_ bytes: [UInt8]) -> (UInt64, ClientReply)? { decodeFrames(bytes).first }
    private func firstReply(_ bytes: [UInt8]) -> ClientReply? { firstFrame(bytes)?.1 }
}
