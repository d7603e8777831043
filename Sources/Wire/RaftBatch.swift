import Codec
import Raft

/// Several Raft messages in one frame, so a sender can coalesce whatever accumulated
/// during one event-loop turn into a single write.
/// Layout: count varint (1...maxMessagesPerBatch) | message × count.
public enum RaftBatch {
    public static func encode(_ messages: [Message], into w: inout ByteWriter) {
        w.writeVarint(UInt64(messages.count))
        for m in messages { m.encode(into: &w) }
    }

    public static func encode(_ messages: [Message]) -> [UInt8] {
        var w = ByteWriter(capacity: messages.reduce(8) { $0 + 32 + $1.approximateDataSize })
        encode(messages, into: &w)
        return w.bytes
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
