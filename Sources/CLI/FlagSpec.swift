import Logging
/// The type of a declared flag, which decides how its text is parsed.
public enum FlagKind: Sendable, Equatable {
    case string
    case int(range: ClosedRange<Int>?)
    case bool
    case duration
    case choice([String])

    /// Shown after the flag name in --help.
    var placeholder: String {
        switch self {
        case .string: return "string"
        case .int: return "int"
        case .bool: return ""
        case .duration: return "duration"
        case let .choice(c): return c.joined(separator: "|")
        }
    }
}

/// A parsed flag value, already checked against its kind.
public enum FlagValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case duration(Duration)

    var helpText: String {
        switch self {
        case let .string(s): return quoted(s)
        case let .int(i): return String(i)
        case let .bool(b): return String(b)
        case let .duration(d): return formatDuration(d)
        }
    }
}

/// One declared flag.
public struct FlagSpec: Sendable, Equatable {
    /// Long name without dashes, e.g. "election-timeout".
    public var name: String
    /// Optional one-letter alias used as "-w".
    public var short: Character?
    public var kind: FlagKind
    /// nil: the flag has no value unless given (or is required).
    public var defaultValue: FlagValue?
    public var required: Bool
    public var help: String

    public init(name: String, short: Character? = nil, kind: FlagKind, defaultValue: FlagValue? = nil,
                required: Bool = false, help: String) {
        self.name = name
        self.short = short
        self.kind = kind
        self.defaultValue = defaultValue
        self.required = required
        self.help = help
    }

    /// Parses `text` as this flag's kind.
    func parse(_ text: String) throws(FlagError) -> FlagValue {
        switch kind {
        case .string:
            return .string(text)
        case let .int(range):
            guard let v = parseInteger(text) else { throw .invalidInteger(flag: name, value: text) }
            if let range, !range.contains(v) { throw .outOfRange(flag: name, value: v, range: range) }
            return .int(v)
        case .bool:
            switch text.lowercased() {
            case "true", "1", "t", "yes": return .bool(true)
            case "false", "0", "f", "no": return .bool(false)
            default: throw .invalidBool(flag: name, value: text)
            }
        case .duration:
            guard let d = parseDuration(text) else { throw .invalidDuration(flag: name, value: text) }
            return .duration(d)
        case let .choice(choices):
            guard choices.contains(text) else { throw .invalidChoice(flag: name, value: text, choices: choices) }
            return .string(text)
        }
    }
}

/// Decimal with optional sign and "_" separators ("1_000"); rejects overflow.
func parseInteger(_ text: String) -> Int? {
    let cleaned = text.replacingUnderscores()
    guard !cleaned.isEmpty, cleaned.count <= 24 else { return nil }
    return Int(cleaned)
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        // Underscores only between digits, so "_" and "1__0" stay invalid.
        let chars = Array(self)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c == "_" {
                guard i > 0, i < chars.count - 1, chars[i - 1].isNumber, chars[i + 1].isNumber else { return "" }
                continue
            }
            out.append(c)
        }
        return out
    }
}
