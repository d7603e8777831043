import Codec
@testable import Wire
import XCTest

/// The handshake's optional commit index, which tells an empty member that the cluster has
/// a history (issue #9 §4). Old peers omit it; a zero is not written, so the bytes stay the
/// original layout.
final class HandshakeCommitTests: XCTestCase {
    func testTheCommitIndexRoundTripsWithAndWithoutAClientURL() throws {
        for url in ["", "127.0.0.1:2379"] {
            let hello = PeerHandshake(clusterToken: "t", nodeName: "n1", nodeID: 1, clientURL: url, committedIndex: 300)
            let back = try PeerHandshake.decode(hello.encoded())
            XCTAssertEqual(back, hello)
            XCTAssertEqual(back.committedIndex, 300)
        }
    }

    func testAZeroCommitIndexKeepsTheOriginalBytes() throws {
        let plain = PeerHandshake(clusterToken: "t", nodeName: "n1", nodeID: 1)
        var w = ByteWriter()
        w.writeUInt8(plain.protocolVersion); w.writeVarint(1); w.writeString("n1"); w.writeString("t")
        XCTAssertEqual(plain.encoded(), w.bytes)
        XCTAssertEqual(try PeerHandshake.decode(w.bytes).committedIndex, 0, "an old peer's handshake reads as no history")
    }
}
