import Codec

// Strings travel as a varint byte length then UTF-8. Decoding rejects invalid UTF-8
// rather than repairing it, so names compare equal on both ends.

extension ByteWriter {
    mutating func writeString(_ s: String) {
        writeLengthPrefixed(Array(s.utf8))
    }

    /// Free text (reasons) is clipped to `limit` bytes on a character boundary rather than
    /// producing a message the receiver would reject.
    mutating func writeClippedString(_ s: String, limit: Int) {
        var bytes = Array(s.utf8)
        if bytes.count > limit {
            var n = limit
            // Back off over UTF-8 continuation bytes (10xxxxxx) to a character start.
            while n > 0 && bytes[n] & 0xC0 == 0x80 { n -= 1 }
            bytes.removeSubrange(n...)
        }
        writeLengthPrefixed(bytes)
    }
}

extension ByteReader {
    mutating func readString(limit: Int, what: String) throws(DecodeError) -> String {
        let at = offset
        let bytes: [UInt8]
        do {
            bytes = try readLengthPrefixed(limit: limit)
        } catch {
            // Name the field when its length is the problem.
            if case let .lengthTooLarge(o, l, lim) = error {
                throw .invalid(offset: o, reason: "\(what) length \(l) exceeds limit \(lim)")
            }
            throw error
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw .invalid(offset: at, reason: "\(what) is not valid UTF-8")
        }
        return s
    }

    /// A varint that must be a non-zero node id.
    mutating func readNodeID(what: String) throws(DecodeError) -> UInt64 {
        let at = offset
        let id = try readVarint()
        guard id != 0 else { throw .invalid(offset: at, reason: "\(what) node id must be non-zero") }
        return id
    }

    /// A count that must be within `limit` and plausible for the bytes left, given each
    /// element takes at least `minElementBytes`; guards `reserveCapacity` against lies.
    mutating func readCount(limit: Int, minElementBytes: Int, what: String) throws(DecodeError) -> Int {
        let at = offset
        let v = try readVarint()
        guard v <= UInt64(limit) else {
            throw .invalid(offset: at, reason: "\(what) count \(v) exceeds limit \(limit)")
        }
        let n = Int(v)
        guard n <= remaining / max(minElementBytes, 1) else {
            throw .truncated(offset: offset, needed: n * max(minElementBytes, 1) - remaining)
        }
        return n
    }
}

/// Runs a body decoder over a whole frame body: the value must use every byte.
func decodeWhole<T>(_ bytes: [UInt8], _ body: (inout ByteReader) throws(DecodeError) -> T) throws(DecodeError) -> T {
    var r = ByteReader(bytes)
    let v = try body(&r)
    try r.expectEnd()
    return v
}
