import Codec
import Raft

/// Several Raft messages in one frame, so a sender can coalesce whatever accumulated
/// during one event-loop turn into a single write.
/// Layout: count varint (1...maxMessagesPerBatch) | message × count.
public enum RaftBatch {
    /// The batch body for `messages`.
    public static func encode(_ messages: [Message]) -> [UInt8] {
        body(encodedMessages: messages.map { $0.encoded() })
    }

    /// The batch body from messages already encoded one by one (`Message.encoded()`).
    public static func body(encodedMessages: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter(capacity: encodedMessages.reduce(2) { $0 + $1.count })
        w.writeVarint(UInt64(encodedMessages.count))
        for m in encodedMessages { w.writeRaw(m) }
        return w.bytes
    }

    /// The one Raft frame encoder: a `raftMessage` frame for one message, a `raftBatch`
    /// frame for several. Precondition: at least one message.
    public static func frame(encodedMessages: [[UInt8]], requestID: UInt64 = 0) -> [UInt8] {
        precondition(!encodedMessages.isEmpty, "a Raft frame carries at least one message")
        if encodedMessages.count == 1 {
            return encodeFrame(type: .raftMessage, requestID: requestID, body: encodedMessages[0])
        }
        return encodeFrame(type: .raftBatch, requestID: requestID, body: body(encodedMessages: encodedMessages))
    }

    public static func decode(from r: inout ByteReader, limits: WireLimits = .default) throws(DecodeError) -> [Message] {
        let at = r.offset
        // Smallest message: from, to, term, tag = 4 bytes.
        let count = try r.readCount(limit: limits.maxMessagesPerBatch, minElementBytes: 4, what: "batch message")
        guard count >= 1 else { throw .invalid(offset: at, reason: "empty batch") }
        var messages: [Message] = []
        messages.reserveCapacity(count)
        for _ in 0..<count { messages.append(try Message.decode(from: &r, limits: limits)) }
        return messages
    }

    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(DecodeError) -> [Message] {
        try decodeWhole(bytes) { (r: inout ByteReader) throws(DecodeError) in try decode(from: &r, limits: limits) }
    }
}
