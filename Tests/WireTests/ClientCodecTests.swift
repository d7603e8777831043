import XCTest
import Codec
import KV
import Raft
@testable import Wire

final class ClientCodecTests: XCTestCase {
    func testCallsRoundTrip() throws {
        for c in Samples.calls { XCTAssertEqual(try ClientCall.decode(c.encoded()), c) }
    }

    func testRepliesRoundTrip() throws {
        for r in Samples.replies { XCTAssertEqual(try ClientReply.decode(r.encoded()), r) }
    }

    func testCallLayout() {
        XCTAssertEqual(ClientCall.status.encoded(), [2])
        XCTAssertEqual(ClientCall.memberList.encoded(), [3])
        let req = ClientRequest(clientID: 1, sequence: 2, firstUnacknowledged: 1, command: .get(key: [0x6B]))
        // tag 1, then KV's own ClientRequest encoding, unchanged.
        XCTAssertEqual(ClientCall.kv(req).encoded(), [1] + req.encoded())
    }

    /// Many calls in flight on one connection; replies come back out of order and are
    /// matched by the request id in the frame header.
    func testOutOfOrderRepliesMatchByRequestID() throws {
        var toServer = FrameDecoder(channel: .client)
        var wire: [UInt8] = []
        for (i, c) in Samples.calls.enumerated() { wire += c.encodedFrame(requestID: UInt64(100 + i)) }
        let calls = try toServer.decode(wire)
        XCTAssertEqual(calls.count, Samples.calls.count)

        // Server answers in reverse order.
        var replies: [UInt8] = []
        for f in calls.reversed() {
            let call = try ClientCall.decode(f)
            let reply: ClientReply = switch call {
            case .status: .status(Samples.status)
            case .memberList: .members([])
            case .hello: .hello(Samples.hello)
            case let .kv(req): .kv(.stored(revision: req.sequence))
            case .register: .kv(.registered(clientID: 5))
            }
            replies += reply.encodedFrame(requestID: f.requestID)
        }
        var toClient = FrameDecoder(channel: .client)
        var byID: [UInt64: ClientReply] = [:]
        for f in try toClient.decode(replies) { byID[f.requestID] = try ClientReply.decode(f) }
        XCTAssertEqual(byID[100], .kv(.stored(revision: 1)))
        XCTAssertEqual(byID[101], .kv(.stored(revision: 77)))
        XCTAssertEqual(byID[103], .status(Samples.status))
        XCTAssertEqual(byID[104], .members([]))
    }

    func testBadCallBodyKeepsStreamUsable() throws {
        var d = FrameDecoder(channel: .client)
        let bad = encodeFrame(type: .clientCall, requestID: 7, body: [9])
        let good = ClientCall.status.encodedFrame(requestID: 8)
        let frames = try d.decode(bad + good)
        XCTAssertEqual(frames.count, 2)
        XCTAssertThrowsError(try ClientCall.decode(frames[0])) { err in
            let e = err as! WireError
            XCTAssertEqual(e, .malformedBody(.clientCall, requestID: 7, .unknownTag(offset: 0, tag: 9, what: "client call")))
            XCTAssertEqual(e.requestID, 7)
            guard case let .badRequest(why) = e.clientError else { return XCTFail() }
            XCTAssertTrue(why.contains("unknown client call tag 9"), why)
        }
        XCTAssertEqual(try ClientCall.decode(frames[1]), .status)
    }

    func testErrorFrameForOversized() throws {
        var d = FrameDecoder(maxFrameBytes: 1024, channel: .client)
        let big = ClientCall.kv(ClientRequest(clientID: 1, sequence: 1, firstUnacknowledged: 1,
                                              command: .put(key: [1], value: Array(repeating: 0, count: 2000))))
        var caught: WireError?
        do { _ = try d.decode(big.encodedFrame(requestID: 55).prefix(FrameHeader.size)) } catch { caught = error }
        let err = try XCTUnwrap(caught)
        XCTAssertEqual(err.clientError, .tooLarge(limit: "frame", bytes: 1024))
        // The server's reply: a clientReply frame addressed to the offending request.
        var c = FrameDecoder(channel: .client)
        let frames = try c.decode(err.clientErrorFrame())
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames[0].requestID, 55)
        XCTAssertEqual(try ClientReply.decode(frames[0]), .error(.tooLarge(limit: "frame", bytes: 1024)))
        XCTAssertNotNil(d.failure, "without a skip allowance an oversized frame ends the stream")
    }

    /// With a skip allowance the oversized body is read and dropped as it arrives, whatever
    /// the chunking, the error is reported once, and the next frame decodes.
    func testOversizedFrameIsSkippedAndStreamGoesOn() throws {
        let big = ClientCall.kv(ClientRequest(clientID: 1, sequence: 1, firstUnacknowledged: 1,
                                              command: .put(key: [1], value: Array(repeating: 7, count: 5000))))
        let wire = big.encodedFrame(requestID: 55) + ClientCall.status.encodedFrame(requestID: 56)
        var rng = SeededRandom(seed: 0x5EED)
        for round in 0..<50 {
            var d = FrameDecoder(maxFrameBytes: 1024, channel: .client, maxSkipBytes: 1 << 20)
            var errors: [WireError] = [], frames: [Frame] = []
            var at = 0
            while at < wire.count {
                let n = min(wire.count - at, 1 + Int(rng.below(700)))
                do { try d.feed(wire[at..<at + n]) } catch { errors.append(error) }
                at += n
                while true {
                    do { guard let f = try d.next() else { break }; frames.append(f) } catch { errors.append(error) }
                }
            }
            XCTAssertEqual(errors.map(\.requestID), [55], "round \(round)")
            XCTAssertEqual(frames.map(\.requestID), [56], "round \(round)")
            XCTAssertNil(d.failure)
            XCTAssertEqual(d.bufferedBytes, 0)
        }
    }

    func testUnknownFrameTypeIsSkippedWhenAllowed() throws {
        var odd = ClientCall.status.encodedFrame(requestID: 12)
        odd[3] = 0x7E
        var d = FrameDecoder(channel: .client, maxSkipBytes: 1024)
        XCTAssertThrowsError(try d.decode(odd + ClientCall.memberList.encodedFrame(requestID: 13))) { err in
            XCTAssertEqual(err as? WireError, .unknownFrameType(0x7E, requestID: 12, streamOffset: 0))
        }
        XCTAssertEqual(try d.next()?.requestID, 13)
        // Garbage is never skipped: its length cannot be trusted.
        var g = FrameDecoder(channel: .client, maxSkipBytes: 1024)
        XCTAssertThrowsError(try g.decode([0, 0] + odd.dropFirst(2)))
        XCTAssertNotNil(g.failure)
    }

    /// Optional fields: a known one (the deadline) round-trips, unknown ones are skipped by
    /// a receiver that does not know them, and leaving the block out means "no fields".
    func testCallOptionsAndUnknownFieldsAreSkippable() throws {
        let req = ClientRequest(clientID: 1, sequence: 2, firstUnacknowledged: 1, command: .get(key: [0x6B]))
        var options = CallOptions(deadlineMilliseconds: 1500)
        options.unknown[99] = [1, 2, 3]
        let body = ClientCall.kv(req).encoded(options: options)
        var r = ByteReader(body)
        let decoded = try ClientCall.decodeWithOptions(from: &r)
        XCTAssertEqual(decoded.call, .kv(req))
        XCTAssertEqual(decoded.options.deadlineMilliseconds, 1500)
        XCTAssertEqual(decoded.options.unknown[99], [1, 2, 3])
        XCTAssertEqual(try ClientCall.decode(body), .kv(req), "a decoder that ignores options still reads the call")
        XCTAssertEqual(ClientCall.kv(req).encoded(), [1] + req.encoded(), "no options: no block at all")
        // Layout of the block: count, then (tag, length, value) with tags ascending.
        XCTAssertEqual(Array(body.suffix(body.count - 1 - req.encoded().count)), [2, 1, 2, 0xDC, 0x0B, 99, 3, 1, 2, 3])
        // A reply with an unknown field decodes too.
        var w = ByteWriter()
        ClientReply.kv(.stored(revision: 5)).encode(into: &w)
        w.writeVarint(1); w.writeVarint(500); w.writeLengthPrefixed([9, 9])
        XCTAssertEqual(try ClientReply.decode(w.bytes), .kv(.stored(revision: 5)))
    }

    /// The worked example in docs/protocol.md ("ClientCall"), byte for byte.
    func testDocumentedPutCallExample() throws {
        let req = ClientRequest(clientID: 7, sequence: 1, firstUnacknowledged: 1, command: .put(key: [0x6B], value: [0x76]))
        let call = ClientCall.kv(req).encodedFrame(requestID: 2, options: CallOptions(deadlineMilliseconds: 1500))
        XCTAssertEqual(call, [0x52, 0x4B, 0x01, 0x40, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x0E, 0, 0, 0,
                              0x01, 0x07, 0x01, 0x01, 0x01, 0x01, 0x6B, 0x01, 0x76, 0x01, 0x01, 0x02, 0xDC, 0x0B])
        XCTAssertEqual(ClientReply.kv(.stored(revision: 42)).encodedFrame(requestID: 2),
                       [0x52, 0x4B, 0x01, 0x41, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x01, 0x01, 0x2A])
    }

    func testHelloNegotiation() {
        XCTAssertEqual(HelloReply.negotiate(ClientHello(minVersion: 1, maxVersion: 5)), 1)
        XCTAssertNil(HelloReply.negotiate(ClientHello(minVersion: 2, maxVersion: 5)))
        XCTAssertThrowsError(try ClientCall.decode([4, 3, 2, 0, 0]), "an empty version range is refused")
    }

    func testErrorFrameForUnknownType() throws {
        var bytes = ClientCall.status.encodedFrame(requestID: 12)
        bytes[3] = 0x7F
        var d = FrameDecoder(channel: .client)
        var caught: WireError?
        do { _ = try d.decode(bytes) } catch { caught = error }
        let err = try XCTUnwrap(caught)
        XCTAssertEqual(err, .unknownFrameType(0x7F, requestID: 12, streamOffset: 0))
        var c = FrameDecoder(channel: .client)
        let reply = try ClientReply.decode(try XCTUnwrap(try c.decode(err.clientErrorFrame()).first))
        guard case let .error(.badRequest(why)) = reply else { return XCTFail("\(reply)") }
        XCTAssertTrue(why.contains("unknown frame type 0x7F"), why)
        // Bad magic: no request id can be trusted, so the reply goes to id 0.
        XCTAssertNil(WireError.badMagic(0, 0, streamOffset: 0).requestID)
    }

    func testStatusValidation() {
        var bad = Samples.status
        bad.appliedIndex = bad.commitIndex + 1
        XCTAssertThrowsError(try ClientReply.decode(ClientReply.status(bad).encoded())) { err in
            XCTAssertTrue("\(err)".contains("applied index"), "\(err)")
        }
        var w = ByteWriter()
        w.writeUInt8(2); w.writeLengthPrefixed([]); w.writeVarint(1); w.writeUInt8(9)
        XCTAssertThrowsError(try ClientReply.decode(w.bytes)) { err in
            XCTAssertEqual(err as? DecodeError, .unknownTag(offset: 3, tag: 9, what: "role"))
        }
    }

    func testMemberCountLimit() {
        let many = ClientReply.members((1...5).map { MemberInfo(id: UInt64($0), name: "n", peerURL: "p", clientURL: "c") })
        XCTAssertThrowsError(try ClientReply.decode(many.encoded(), limits: WireLimits(maxMembers: 4))) { err in
            XCTAssertTrue("\(err)".contains("member count 5 exceeds limit 4"), "\(err)")
        }
    }

    func testClientErrorDescriptions() {
        XCTAssertEqual(ClientError.notLeader(leaderID: 2, leaderClientAddress: "h:1").description, "not the leader; leader is node 2 at h:1")
        XCTAssertEqual(ClientError.notLeader(leaderID: 0, leaderClientAddress: nil).description, "not the leader; no leader known")
        XCTAssertEqual(ClientError.tooLarge(limit: "key", bytes: 65_536).description, "key too large (limit 65536 bytes)")
        for e in Samples.errors { XCTAssertFalse(e.description.contains("\n")) }
    }
}
