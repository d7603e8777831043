import Codec
import Raft

/// Packs the Raft messages one `process()` call produced for one peer into as few frames as
/// the limits allow: one `raftBatch` (or `raftMessage` when alone) per at most
/// `maxMessagesPerBatch` messages and `maxFrameBytes` bytes, so the receiver's decoder never
/// refuses a frame we built. Frames are built by `RaftBatch.frame`, the one encoder that
/// `PeerFrame.raft(...).encodedFrame()` also uses.
public struct RaftFramer: Sendable {
    public var maxFrameBytes: Int
    public var maxMessagesPerBatch: Int

    public init(limits: WireLimits = .default) {
        maxFrameBytes = limits.maxFrameBytes
        maxMessagesPerBatch = limits.maxMessagesPerBatch
    }

    /// The frames, in message order. A message too large for any frame is left out and
    /// passed to `oversized` (Raft tolerates a lost message; the core resends).
    public func frames(_ messages: [Message], oversized: (Message, Int) -> Void = { _, _ in }) -> [[UInt8]] {
        // Worst-case batch overhead: frame header plus a two-byte count varint (count <= 16383).
        let budget = maxFrameBytes - FrameHeader.size - 2
        var frames: [[UInt8]] = []
        var group: [[UInt8]] = []
        var groupBytes = 0

        func flush() {
            guard !group.isEmpty else { return }
            frames.append(RaftBatch.frame(encodedMessages: group))
            group.removeAll(keepingCapacity: true)
            groupBytes = 0
        }

        for m in messages {
            let bytes = m.encoded()
            guard bytes.count <= budget else {
                oversized(m, bytes.count)
                continue
            }
            if groupBytes + bytes.count > budget || group.count >= maxMessagesPerBatch { flush() }
            group.append(bytes)
            groupBytes += bytes.count
        }
        flush()
        return frames
    }
}
