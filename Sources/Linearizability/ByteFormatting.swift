/// Renders keys and values for humans: quoted text when printable, hex otherwise, and
/// truncated so that one large value does not drown an explanation.
enum ByteFormatting {
    static let maxShown = 32

    static func describe(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(maxShown)
        let suffix = bytes.count > maxShown ? "…(\(bytes.count) bytes)" : ""
        if shown.allSatisfy({ (0x20...0x7E).contains($0) && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + String(decoding: shown, as: UTF8.self) + "\"" + suffix
        }
        let digits = "0123456789abcdef".map { $0 }
        return "0x" + String(shown.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }) + suffix
    }

    static func describe(_ value: [UInt8]?) -> String {
        value.map { describe($0) } ?? "absent"
    }

    /// e.g. `#12 client 3 put "a" -> ok [105, 130]`.
    static func describe(_ op: HistoryOperation) -> String {
        let action: String
        switch op.kind {
        case let .put(_, value): action = "put \(describe(value))"
        case .get: action = "get"
        case .delete: action = "delete"
        }
        let result: String
        switch op.outcome {
        case .ok: result = "ok"
        case let .value(value): result = describe(value)
        case let .deleted(count): result = "deleted \(count)"
        case .unknown: result = "unknown"
        }
        let span = op.returned.map { "[\(op.call), \($0)]" } ?? "[\(op.call), ∞)"
        return "#\(op.id) client \(op.client) \(action) -> \(result) \(span)"
    }
}
