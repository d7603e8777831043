/// Why bytes could not be decoded. Carries the offset so callers can name where.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Needed `needed` more bytes at `offset`, but the input ended.
    case truncated(offset: Int, needed: Int)
    /// A varint ran past 10 bytes or overflowed 64 bits.
    case malformedVarint(offset: Int)
    /// A length field exceeded `limit`.
    case lengthTooLarge(offset: Int, length: UInt64, limit: Int)
    /// A tag or enum value that this version does not know.
    case unknownTag(offset: Int, tag: UInt64, what: String)
    /// A structurally valid value that breaks a rule (e.g. zero node id).
    case invalid(offset: Int, reason: String)
    /// Bytes left over after a complete value.
    case trailingBytes(offset: Int, count: Int)

    public var description: String {
        switch self {
        case let .truncated(o, n): return "truncated input at offset \(o): \(n) more byte(s) needed"
        case let .malformedVarint(o): return "malformed varint at offset \(o)"
        case let .lengthTooLarge(o, l, lim): return "length \(l) at offset \(o) exceeds limit \(lim)"
        case let .unknownTag(o, t, w): return "unknown \(w) tag \(t) at offset \(o)"
        case let .invalid(o, r): return "invalid value at offset \(o): \(r)"
        case let .trailingBytes(o, c): return "\(c) trailing byte(s) at offset \(o)"
        }
    }
}

/// Reads what `ByteWriter` writes. Never traps on bad input: every read is bounds-checked.
public struct ByteReader {
    public let bytes: ArraySlice<UInt8>
    /// Absolute index into `bytes` of the next byte to read.
    public private(set) var position: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
        self.position = self.bytes.startIndex
    }

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    /// Bytes consumed so far, relative to the start of the input.
    public var offset: Int { position - bytes.startIndex }
    public var remaining: Int { bytes.endIndex - position }
    public var isAtEnd: Bool { position >= bytes.endIndex }

    private func need(_ n: Int) throws(DecodeError) {
        if n < 0 || remaining < n { throw .truncated(offset: offset, needed: n - remaining) }
    }

    public mutating func readUInt8() throws(DecodeError) -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func readUInt16() throws(DecodeError) -> UInt16 {
        try need(2)
        defer { position += 2 }
        return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
    }

    public mutating func readUInt32() throws(DecodeError) -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << UInt32(8 * i) }
        position += 4
        return v
    }

    public mutating func readUInt64() throws(DecodeError) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << UInt64(8 * i) }
        position += 8
        return v
    }

    public mutating func readVarint() throws(DecodeError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard !isAtEnd else { throw .truncated(offset: offset, needed: 1) }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw .malformedVarint(offset: start) }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformedVarint(offset: start) }
        }
    }

    /// A varint that must fit in `Int` and be at most `limit`.
    public mutating func readLength(limit: Int) throws(DecodeError) -> Int {
        let at = offset
        let v = try readVarint()
        guard v <= UInt64(limit) else { throw .lengthTooLarge(offset: at, length: v, limit: limit) }
        return Int(v)
    }

    public mutating func readBool() throws(DecodeError) -> Bool {
        let at = offset
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let v: throw .unknownTag(offset: at, tag: UInt64(v), what: "bool")
        }
    }

    public mutating func readBytes(_ n: Int) throws(DecodeError) -> [UInt8] {
        try need(n)
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    /// Reads a varint length (at most `limit`) and that many bytes.
    public mutating func readLengthPrefixed(limit: Int) throws(DecodeError) -> [UInt8] {
        let n = try readLength(limit: limit)
        return try readBytes(n)
    }

    public func expectEnd() throws(DecodeError) {
        if !isAtEnd { throw .trailingBytes(offset: offset, count: remaining) }
    }
}
