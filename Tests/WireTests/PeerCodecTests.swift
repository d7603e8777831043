import XCTest
import Codec
import Raft
@testable import Wire

final class PeerCodecTests: XCTestCase {
    func testEveryMessageKindRoundTrips() throws {
        for m in Samples.messages {
            XCTAssertEqual(try Message.decode(m.encoded()), m, m.kind.name)
        }
    }

    func testSamplesCoverEveryMessageTag() {
        XCTAssertEqual(Set(Samples.kinds.map(\.tag)), Set(MessageTag.allCases))
    }

    func testPreVoteRoundTripsWithItsProposedTerm() throws {
        // A pre-vote carries the term its sender would campaign in, not the sender's own.
        let m = Message(from: 3, to: 1, term: 8, kind: .preVote(lastLogIndex: 41, lastLogTerm: 6))
        let back = try Message.decode(m.encoded())
        XCTAssertEqual(back, m)
        XCTAssertEqual(back.kind.tag, .preVote)
        let grant = Message(from: 1, to: 3, term: 8, kind: .preVoteResponse(granted: true))
        XCTAssertEqual(try Message.decode(grant.encoded()), grant)
        let refusal = Message(from: 1, to: 3, term: 7, kind: .preVoteResponse(granted: false))
        XCTAssertEqual(try Message.decode(refusal.encoded()), refusal)
        XCTAssertNotEqual(grant.encoded(), refusal.encoded())
    }

    func testBatchRoundTrips() throws {
        XCTAssertEqual(try RaftBatch.decode(RaftBatch.encode(Samples.messages)), Samples.messages)
        XCTAssertThrowsError(try RaftBatch.decode(RaftBatch.encode([])))
    }

    func testPeerFramesRoundTripThroughDecoder() throws {
        var stream: [UInt8] = []
        for (i, p) in Samples.peerFrames.enumerated() { stream += p.encodedFrame(requestID: UInt64(i)) }
        var d = FrameDecoder(channel: .peer)
        let frames = try d.decode(stream)
        XCTAssertEqual(try frames.map { f throws(WireError) in try PeerFrame.decode(f) }, Samples.peerFrames)
        XCTAssertEqual(frames.map(\.type), [.peerHandshake, .peerHandshakeReply, .peerHandshakeReply, .raftMessage, .raftBatch])
    }

    func testHandshakeRoundTrip() throws {
        XCTAssertEqual(try PeerHandshake.decode(Samples.handshake.encoded()), Samples.handshake)
        let long = PeerHandshakeReply.refused(reason: String(repeating: "é", count: 2000))
        guard case let .refused(reason) = try PeerHandshakeReply.decode(long.encoded()) else { return XCTFail() }
        XCTAssertEqual(reason.utf8.count, 1024, "long reasons are clipped on a character boundary")
    }

    func testHandshakeRejectsZeroIDAndBadUTF8AndLongNames() {
        let zero = PeerHandshake(clusterToken: "t", nodeName: "n", nodeID: 0)
        XCTAssertThrowsError(try PeerHandshake.decode(zero.encoded())) { err in
            guard case .invalid = err as? DecodeError else { return XCTFail("\(err)") }
        }
        var w = ByteWriter()
        w.writeUInt8(1); w.writeVarint(1); w.writeLengthPrefixed([0xC3, 0x28]); w.writeLengthPrefixed([])
        XCTAssertThrowsError(try PeerHandshake.decode(w.bytes)) { err in
            XCTAssertEqual(err as? DecodeError, .invalid(offset: 2, reason: "node name is not valid UTF-8"))
        }
        let long = PeerHandshake(clusterToken: "t", nodeName: String(repeating: "x", count: 256), nodeID: 1)
        XCTAssertThrowsError(try PeerHandshake.decode(long.encoded())) { err in
            XCTAssertTrue("\(err)".contains("node name length 256 exceeds limit 255"), "\(err)")
        }
    }

    private func assertInvalid(_ m: Message, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Message.decode(m.encoded()), file: file, line: line) { err in
            XCTAssertTrue("\(err)".contains(text), "\(err)", file: file, line: line)
        }
    }

    func testRejectsZeroAndEqualIDs() {
        assertInvalid(Message(from: 0, to: 1, term: 1, kind: .heartbeatResponse), contains: "sender node id must be non-zero")
        assertInvalid(Message(from: 1, to: 0, term: 1, kind: .heartbeatResponse), contains: "recipient node id must be non-zero")
        assertInvalid(Message(from: 2, to: 2, term: 1, kind: .heartbeatResponse), contains: "both 2")
    }

    func testRejectsNonContiguousEntries() {
        let gap = MessageKind.appendEntries(prevLogIndex: 5, prevLogTerm: 1, entries: [
            Entry(term: 1, index: 6), Entry(term: 1, index: 8),
        ], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: gap), contains: "entry 1 has index 8")
        let wrongStart = MessageKind.appendEntries(prevLogIndex: 5, prevLogTerm: 1, entries: [Entry(term: 1, index: 5)], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: wrongStart), contains: "entry 0 has index 5")
        let overflow = MessageKind.appendEntries(prevLogIndex: .max, prevLogTerm: 1, entries: [Entry(term: 1, index: 0)], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: overflow), contains: "entry 0 has index")
    }

    func testRejectsBadEntryTerms() {
        let decreasing = MessageKind.appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [
            Entry(term: 3, index: 1), Entry(term: 2, index: 2),
        ], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 3, kind: decreasing), contains: "entry 1 term 2")
        let aboveLeader = MessageKind.appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [Entry(term: 4, index: 1)], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 3, kind: aboveLeader), contains: "leader term 3")
        let zero = MessageKind.appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [Entry(term: 0, index: 1)], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 3, kind: zero), contains: "entry 0 term 0")
        let belowPrev = MessageKind.appendEntries(prevLogIndex: 4, prevLogTerm: 3, entries: [Entry(term: 2, index: 5)], leaderCommit: 0)
        assertInvalid(Message(from: 1, to: 2, term: 3, kind: belowPrev), contains: "previous 3")
    }

    func testEntryLimits() {
        let limits = WireLimits(maxEntriesPerMessage: 2, maxEntryBytes: 8)
        let three = Message(from: 1, to: 2, term: 1, kind: .appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [
            Entry(term: 1, index: 1), Entry(term: 1, index: 2), Entry(term: 1, index: 3),
        ], leaderCommit: 0))
        XCTAssertThrowsError(try Message.decode(three.encoded(), limits: limits)) { err in
            XCTAssertTrue("\(err)".contains("entry count 3 exceeds limit 2"), "\(err)")
        }
        let big = Message(from: 1, to: 2, term: 1, kind: .appendEntries(prevLogIndex: 0, prevLogTerm: 0, entries: [
            Entry(term: 1, index: 1, data: Array(repeating: 0, count: 9)),
        ], leaderCommit: 0))
        XCTAssertThrowsError(try Message.decode(big.encoded(), limits: limits)) { err in
            guard case .lengthTooLarge(_, 9, 8) = err as? DecodeError else { return XCTFail("\(err)") }
        }
    }

    func testLyingCountDoesNotAllocate() {
        // Claims 16384 entries but carries none: must fail as truncated, quickly.
        var w = ByteWriter()
        w.writeVarint(1); w.writeVarint(2); w.writeVarint(1); w.writeUInt8(3)
        w.writeVarint(0); w.writeVarint(0); w.writeVarint(0); w.writeVarint(16_384)
        XCTAssertThrowsError(try Message.decode(w.bytes)) { err in
            guard case .truncated = err as? DecodeError else { return XCTFail("\(err)") }
        }
    }

    func testSnapshotValidation() {
        let md = Samples.metadata
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: .installSnapshot(metadata: md, offset: 8, totalSize: 10, chunk: [1, 2, 3], done: false)),
                      contains: "exceeds total size 10")
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: .installSnapshot(metadata: md, offset: 0, totalSize: 10, chunk: [1], done: true)),
                      contains: "last snapshot chunk ends at 1")
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: .installSnapshot(metadata: md, offset: .max, totalSize: .max, chunk: [1], done: false)),
                      contains: "exceeds total size")
        let noVoters = SnapshotMetadata(index: 1, term: 1, config: ClusterConfig(voters: []))
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: .installSnapshot(metadata: noVoters, offset: 0, totalSize: 0, chunk: [], done: true)),
                      contains: "no voters")
        let zeroVoter = SnapshotMetadata(index: 1, term: 1, config: ClusterConfig(voters: [0, 1]))
        assertInvalid(Message(from: 1, to: 2, term: 1, kind: .installSnapshot(metadata: zeroVoter, offset: 0, totalSize: 0, chunk: [], done: true)),
                      contains: "voter node id must be non-zero")
        // Hand-built metadata with unsorted voters.
        var w = ByteWriter()
        w.writeVarint(5); w.writeVarint(2); w.writeVarint(2); w.writeVarint(3); w.writeVarint(1)
        var r = ByteReader(w.bytes)
        XCTAssertThrowsError(try SnapshotMetadata.decode(from: &r)) { err in
            XCTAssertTrue("\(err)".contains("voter 1 not above previous voter 3"), "\(err)")
        }
    }

    func testTrailingBytesRejected() {
        XCTAssertThrowsError(try Message.decode(Samples.messages[0].encoded() + [0])) { err in
            guard case .trailingBytes = err as? DecodeError else { return XCTFail("\(err)") }
        }
    }

    func testMalformedBodyIsLabelled() {
        let f = Frame(type: .raftMessage, requestID: 4, body: [1, 2, 1, 99])
        XCTAssertThrowsError(try PeerFrame.decode(f)) { err in
            XCTAssertEqual(err as? WireError, .malformedBody(.raftMessage, requestID: 4,
                                                             .unknownTag(offset: 3, tag: 99, what: "raft message kind")))
        }
        XCTAssertThrowsError(try PeerFrame.decode(Frame(type: .clientCall, requestID: 1, body: []))) { err in
            XCTAssertEqual(err as? WireError, .unexpectedFrameType(.clientCall, requestID: 1))
        }
    }
}
