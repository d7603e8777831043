import XCTest
import Codec
import Raft
@testable import Wire

/// Random and mutated input into every decoder: each must return a value or a typed
/// error, never trap or spin. Seeded, so a failure replays exactly.
final class FuzzTests: XCTestCase {
    private static let iterations = 6000

    private func randomBytes(_ rng: inout SeededRandom, maxCount: Int) -> [UInt8] {
        let n = Int(rng.below(UInt64(maxCount + 1)))
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Flips, inserts, deletes, overwrites with boundary bytes, or truncates.
    private func mutate(_ input: [UInt8], _ rng: inout SeededRandom) -> [UInt8] {
        var b = input
        let rounds = 1 + Int(rng.below(4))
        for _ in 0..<rounds {
            switch rng.below(6) {
            case 0 where !b.isEmpty:
                let i = Int(rng.below(UInt64(b.count)))
                b[i] ^= UInt8(1) << UInt8(rng.below(8))
            case 1:
                let i = Int(rng.below(UInt64(b.count + 1)))
                b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
            case 2 where !b.isEmpty:
                b.remove(at: Int(rng.below(UInt64(b.count))))
            case 3 where !b.isEmpty:
                let i = Int(rng.below(UInt64(b.count)))
                b[i] = [0x00, 0x01, 0x7F, 0x80, 0xFF][Int(rng.below(5))]
            case 4 where !b.isEmpty:
                b.removeLast(Int(rng.below(UInt64(b.count))) + 1)
            default:
                // A run of 0xFF makes huge varints and lengths.
                let i = Int(rng.below(UInt64(b.count + 1)))
                b.insert(contentsOf: [UInt8](repeating: 0xFF, count: Int(rng.below(12))), at: i)
            }
        }
        return b
    }

    /// Runs every body decoder on `bytes`; only typed errors may escape.
    private func decodeAllBodies(_ bytes: [UInt8]) {
        _ = try? Message.decode(bytes)
        _ = try? RaftBatch.decode(bytes)
        _ = try? PeerHandshake.decode(bytes)
        _ = try? PeerHandshakeReply.decode(bytes)
        _ = try? ClientCall.decode(bytes)
        _ = try? ClientReply.decode(bytes)
        var r = ByteReader(bytes)
        _ = try? SnapshotMetadata.decode(from: &r)
    }

    private var bodySeeds: [[UInt8]] {
        Samples.messages.map { $0.encoded() }
            + [RaftBatch.encode(Samples.messages), Samples.handshake.encoded(),
               PeerHandshakeReply.accepted(nodeID: 1, nodeName: "x").encoded(),
               PeerHandshakeReply.refused(reason: "no").encoded()]
            + Samples.calls.map { $0.encoded() }
            + Samples.replies.map { $0.encoded() }
    }

    func testRandomBodies() {
        var rng = SeededRandom(seed: 0xB0D1E5)
        for _ in 0..<Self.iterations { decodeAllBodies(randomBytes(&rng, maxCount: 64)) }
    }

    func testMutatedBodies() {
        var rng = SeededRandom(seed: 0x5EED)
        let seeds = bodySeeds
        var rejected = 0
        for i in 0..<Self.iterations * 4 {
            let m = mutate(seeds[i % seeds.count], &rng)
            decodeAllBodies(m)
            if (try? Message.decode(m)) == nil { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 0)
    }

    /// Whatever decodes must re-encode to something that decodes to the same value.
    func testMutatedMessagesThatDecodeAreStable() throws {
        var rng = SeededRandom(seed: 42)
        let seeds = Samples.messages.map { $0.encoded() }
        for i in 0..<Self.iterations {
            let m = mutate(seeds[i % seeds.count], &rng)
            if let msg = try? Message.decode(m) {
                XCTAssertEqual(try Message.decode(msg.encoded()), msg)
            }
        }
    }

    private var streamSeed: [UInt8] {
        var s: [UInt8] = []
        for (i, p) in Samples.peerFrames.enumerated() { s += p.encodedFrame(requestID: UInt64(i)) }
        for (i, c) in Samples.calls.enumerated() { s += c.encodedFrame(requestID: UInt64(i)) }
        for (i, r) in Samples.replies.enumerated() { s += r.encodedFrame(requestID: UInt64(i)) }
        return s
    }

    /// Feeds a stream in random chunks; every outcome is frames or one typed error, and
    /// the decoder never holds more than its bound.
    private func runDecoder(_ stream: [UInt8], _ rng: inout SeededRandom) {
        var d = FrameDecoder(maxFrameBytes: 4096, maxBufferedBytes: 8192)
        var i = 0
        while i < stream.count {
            let end = min(stream.count, i + 1 + Int(rng.below(300)))
            do {
                for f in try d.decode(stream[i..<end]) {
                    switch f.type.channel {
                    case .peer: _ = try? PeerFrame.decode(f)
                    default: _ = try? ClientCall.decode(f); _ = try? ClientReply.decode(f)
                    }
                }
            } catch {
                XCTAssertEqual(d.failure, error)
                return
            }
            XCTAssertLessThanOrEqual(d.bufferedBytes, 8192)
            i = end
        }
    }

    func testRandomStreams() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<Self.iterations / 3 {
            var s = randomBytes(&rng, maxCount: 200)
            // Half the time start with a plausible header so deeper paths are reached.
            if rng.chance(0.5) { s = [0x52, 0x4B, 0x01] + s }
            runDecoder(s, &rng)
        }
    }

    func testMutatedStreams() {
        var rng = SeededRandom(seed: 99)
        let seed = streamSeed
        for _ in 0..<Self.iterations / 3 { runDecoder(mutate(seed, &rng), &rng) }
    }

    func testUnmutatedStreamDecodesFully() throws {
        var d = FrameDecoder()
        let frames = try d.decode(streamSeed)
        XCTAssertEqual(frames.count, Samples.peerFrames.count + Samples.calls.count + Samples.replies.count)
    }
}
