import Codec

/// A fingerprint of a command, stored with each remembered request so that a retry that
/// reuses a sequence for a different command is refused instead of answered from the cache.
/// Deterministic on every replica: CRC32C over the command's fields, plus the lengths (a
/// check against client mistakes, not against an adversary).
public struct CommandDigest: Sendable, Hashable {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(_ command: KVCommand) {
        var crc: UInt32
        var lengths: UInt32
        switch command {
        case let .put(k, v):
            crc = CRC32C.checksum(v, seed: CRC32C.checksum(k, seed: CRC32C.checksum([1])))
            lengths = UInt32(truncatingIfNeeded: k.count) &* 31 &+ UInt32(truncatingIfNeeded: v.count)
        case let .get(k):
            crc = CRC32C.checksum(k, seed: CRC32C.checksum([2]))
            lengths = UInt32(truncatingIfNeeded: k.count)
        case let .delete(k):
            crc = CRC32C.checksum(k, seed: CRC32C.checksum([3]))
            lengths = UInt32(truncatingIfNeeded: k.count)
        }
        rawValue = UInt64(crc) << 32 | UInt64(lengths)
    }
}
