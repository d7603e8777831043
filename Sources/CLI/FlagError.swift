import Logging

/// Why a command line was rejected. Each description is one line naming the flag, suitable
/// for printing after "error: " followed by a pointer to --help.
public enum FlagError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownFlag(String, suggestion: String?)
    case missingValue(flag: String)
    case invalidInteger(flag: String, value: String)
    case outOfRange(flag: String, value: Int, range: ClosedRange<Int>)
    case invalidDuration(flag: String, value: String)
    case invalidChoice(flag: String, value: String, choices: [String])
    case invalidBool(flag: String, value: String)
    case duplicate(flag: String)
    case missingRequired(flag: String)
    /// A positional argument given to a command that takes only flags.
    /// `missingFlag`: a required flag that is absent, which the argument may be the value of.
    case unexpectedArgument(String, command: String, missingFlag: String?)

    public var description: String {
        switch self {
        case let .unknownFlag(f, s):
            return "unknown flag \(f)" + (s.map { " (did you mean \($0)?)" } ?? "")
        case let .missingValue(f):
            return "flag --\(f) needs a value"
        case let .invalidInteger(f, v):
            return "invalid value \(quoted(v)) for --\(f): not an integer"
        case let .outOfRange(f, v, r):
            return "invalid value \(v) for --\(f): must be between \(r.lowerBound) and \(r.upperBound)"
        case let .invalidDuration(f, v):
            return "invalid value \(quoted(v)) for --\(f): not a duration (e.g. 100ms, 2s, 1m30s)"
        case let .invalidChoice(f, v, c):
            return "invalid value \(quoted(v)) for --\(f): must be one of \(c.joined(separator: ", "))"
        case let .invalidBool(f, v):
            return "invalid value \(quoted(v)) for --\(f): must be true or false"
        case let .duplicate(f):
            return "flag --\(f) given more than once"
        case let .missingRequired(f):
            return "missing required flag --\(f)"
        case let .unexpectedArgument(a, command, missing):
            return "unexpected argument \(quoted(a)): \(command) takes only flags"
                + (missing.map { " (did you mean --\($0) \(a)?)" } ?? "")
        }
    }
}
