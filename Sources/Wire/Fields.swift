import Codec

/// Optional fields at the end of a client call or reply body: the protocol's way to grow
/// without breaking old peers (docs/protocol.md, "Fields").
///
/// Layout: `varint count`, then count × (`varint tag`, `bytes value`). A receiver skips tags
/// it does not know, because every value carries its own length. The whole block may be
/// left out when nothing follows it: no bytes left means no fields.
public struct Fields: Sendable, Equatable {
    public static let maxCount = 64
    /// Values in tag order; a repeated tag keeps its last value.
    public private(set) var values: [UInt64: [UInt8]] = [:]

    public init() {}

    public var isEmpty: Bool { values.isEmpty }

    public subscript(tag: UInt64) -> [UInt8]? {
        get { values[tag] }
        set { values[tag] = newValue }
    }

    public mutating func setVarint(_ tag: UInt64, _ v: UInt64?) {
        guard let v else { values[tag] = nil; return }
        var w = ByteWriter()
        w.writeVarint(v)
        values[tag] = w.bytes
    }

    /// A field holding one varint; nil when absent. A malformed value is a decode error.
    public func varint(_ tag: UInt64, what: String) throws(DecodeError) -> UInt64? {
        guard let bytes = values[tag] else { return nil }
        var r = ByteReader(bytes)
        let v = try r.readVarint()
        guard r.remaining == 0 else { throw .invalid(offset: 0, reason: "\(what) field has \(r.remaining) extra bytes") }
        return v
    }

    /// Writes the block; an empty block is written as nothing (it is the last thing in a body).
    public func encode(into w: inout ByteWriter) {
        guard !values.isEmpty else { return }
        w.writeVarint(UInt64(values.count))
        for tag in values.keys.sorted() {
            w.writeVarint(tag)
            w.writeLengthPrefixed(values[tag]!)
        }
    }

    /// Reads the block that ends a body: absent when no bytes are left.
    public static func decodeTrailing(from r: inout ByteReader) throws(DecodeError) -> Fields {
        var f = Fields()
        guard r.remaining > 0 else { return f }
        // Smallest field: tag + empty value = 2 bytes.
        let n = try r.readCount(limit: maxCount, minElementBytes: 2, what: "field")
        for _ in 0..<n {
            let tag = try r.readVarint()
            f.values[tag] = try r.readLengthPrefixed(limit: r.remaining)
        }
        return f
    }
}
