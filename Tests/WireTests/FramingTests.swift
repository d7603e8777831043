import Codec
import Raft
import Wire
import XCTest

final class FramingTests: XCTestCase {
    private func append(_ n: Int, payload: Int) -> Message {
        Message(from: 1, to: 2, term: 3, kind: .appendEntries(prevLogIndex: 0, prevLogTerm: 0,
                                                               entries: [Entry(term: 3, index: 1, data: [UInt8](repeating: 1, count: payload))],
                                                               leaderCommit: UInt64(n)))
    }

    func testBatchesAreSplitToFitFrameAndCountLimits() throws {
        var framer = RaftFramer()
        framer.maxFrameBytes = 10_000
        framer.maxMessagesPerBatch = 4
        let messages = (0..<20).map { append($0, payload: 3_000) } + (0..<10).map {
            Message(from: 1, to: 2, term: 3, kind: .heartbeat(commit: UInt64($0)))
        }
        var oversized = 0
        let frames = framer.frames(messages + [append(99, payload: 20_000)]) { _, _ in oversized += 1 }
        XCTAssertEqual(oversized, 1)
        var decoder = FrameDecoder(maxFrameBytes: 10_000, channel: .peer)
        var decoded: [Message] = []
        for f in frames {
            XCTAssertLessThanOrEqual(f.count, 10_000)
            for frame in try decoder.decode(f) {
                guard case let .raft(ms) = try PeerFrame.decode(frame) else { return XCTFail() }
                XCTAssertLessThanOrEqual(ms.count, 4)
                decoded += ms
            }
        }
        XCTAssertEqual(decoded, messages, "order and content preserved")
        XCTAssertEqual(framer.frames([messages[0]]).count, 1)
        XCTAssertEqual(try decoder.decode(framer.frames([messages[0]])[0]).first?.type, .raftMessage)
    }

    func testHandshakeClientURLIsOptionalAndBackwardCompatible() throws {
        let plain = PeerHandshake(clusterToken: "t", nodeName: "n1", nodeID: 1)
        let withURL = PeerHandshake(clusterToken: "t", nodeName: "n1", nodeID: 1, clientURL: "127.0.0.1:2379")
        XCTAssertEqual(try PeerHandshake.decode(withURL.encoded()), withURL)
        XCTAssertEqual(try PeerHandshake.decode(plain.encoded()), plain)
        XCTAssertEqual(withURL.encoded().prefix(plain.encoded().count), plain.encoded()[...], "a trailing field only")
    }

    func testPeerFrameAndFramerShareOneEncoding() throws {
        let messages = Array((0..<3).map { append($0, payload: 10) })
        XCTAssertEqual(RaftFramer().frames(messages), [PeerFrame.raft(messages).encodedFrame()])
        XCTAssertEqual(RaftFramer().frames([messages[0]]), [PeerFrame.raft([messages[0]]).encodedFrame()])
    }
}
