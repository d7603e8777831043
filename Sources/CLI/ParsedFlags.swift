/// The result of `FlagParser.parse`: typed values (given or defaulted) and positionals.
/// Asking for an undeclared flag, or with the wrong type, is a programming error.
public struct ParsedFlags: Sendable {
    public let specs: [FlagSpec]
    /// Only the flags present on the command line.
    public let given: [String: FlagValue]
    public let positional: [String]
    public let helpRequested: Bool

    init(specs: [FlagSpec], values: [String: FlagValue], positional: [String], helpRequested: Bool) {
        self.specs = specs
        self.given = values
        self.positional = positional
        self.helpRequested = helpRequested
    }

    /// Whether the flag appeared on the command line (as opposed to defaulting).
    public func isSet(_ name: String) -> Bool {
        _ = spec(name)
        return given[name] != nil
    }

    public func value(_ name: String) -> FlagValue? {
        given[name] ?? spec(name).defaultValue
    }

    /// String and choice flags.
    public func string(_ name: String) -> String? {
        switch value(name) {
        case nil: return nil
        case let .string(s)?: return s
        case let v?: preconditionFailure("--\(name) is \(v), not a string")
        }
    }

    public func int(_ name: String) -> Int? {
        switch value(name) {
        case nil: return nil
        case let .int(i)?: return i
        case let v?: preconditionFailure("--\(name) is \(v), not an int")
        }
    }

    public func bool(_ name: String) -> Bool {
        switch value(name) {
        case nil: return false
        case let .bool(b)?: return b
        case let v?: preconditionFailure("--\(name) is \(v), not a bool")
        }
    }

    public func duration(_ name: String) -> Duration? {
        switch value(name) {
        case nil: return nil
        case let .duration(d)?: return d
        case let v?: preconditionFailure("--\(name) is \(v), not a duration")
        }
    }

    private func spec(_ name: String) -> FlagSpec {
        guard let s = specs.first(where: { $0.name == name }) else { preconditionFailure("flag --\(name) was never declared") }
        return s
    }
}
