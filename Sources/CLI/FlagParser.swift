/// Declares the flags of one command and parses its arguments, etcd/pflag style:
/// `--name value`, `--name=value`, `--verbose`, `--verbose=false`, `-w json`, `-w=json`,
/// positional arguments anywhere, and `--` to end flag parsing. `-h`/`--help` are built in.
public struct FlagParser: Sendable {
    public let command: String
    public let summary: String
    /// Shown after the command name in the usage line, e.g. "[flags] <key> [value]".
    public let usage: String
    /// False: any positional argument is an error, reported before missing flags.
    public var acceptsPositional = true
    public private(set) var specs: [FlagSpec] = []

    public init(command: String, summary: String = "", usage: String = "[flags]") {
        self.command = command
        self.summary = summary
        self.usage = usage
    }

    // MARK: Declaring

    /// Declares a flag. Declaring the same name or alias twice is a programming error.
    public mutating func add(_ spec: FlagSpec) {
        precondition(!spec.name.isEmpty && !spec.name.hasPrefix("-"), "flag name \(spec.name) must be bare")
        precondition(spec.name != "help" && spec.short != "h", "--help and -h are built in")
        precondition(!specs.contains { $0.name == spec.name }, "flag --\(spec.name) declared twice")
        if let s = spec.short { precondition(!specs.contains { $0.short == s }, "alias -\(s) declared twice") }
        specs.append(spec)
    }

    public mutating func string(_ name: String, short: Character? = nil, default value: String? = nil,
                                required: Bool = false, help: String) {
        add(FlagSpec(name: name, short: short, kind: .string, defaultValue: value.map(FlagValue.string), required: required, help: help))
    }

    public mutating func int(_ name: String, short: Character? = nil, default value: Int? = nil,
                             range: ClosedRange<Int>? = nil, required: Bool = false, help: String) {
        if let value, let range { precondition(range.contains(value), "default of --\(name) outside its range") }
        add(FlagSpec(name: name, short: short, kind: .int(range: range), defaultValue: value.map(FlagValue.int), required: required, help: help))
    }

    public mutating func bool(_ name: String, short: Character? = nil, default value: Bool = false, help: String) {
        add(FlagSpec(name: name, short: short, kind: .bool, defaultValue: .bool(value), help: help))
    }

    public mutating func duration(_ name: String, short: Character? = nil, default value: Duration? = nil,
                                  required: Bool = false, help: String) {
        add(FlagSpec(name: name, short: short, kind: .duration, defaultValue: value.map(FlagValue.duration), required: required, help: help))
    }

    public mutating func choice(_ name: String, short: Character? = nil, choices: [String], default value: String? = nil,
                                required: Bool = false, help: String) {
        if let value { precondition(choices.contains(value), "default of --\(name) is not a choice") }
        add(FlagSpec(name: name, short: short, kind: .choice(choices), defaultValue: value.map(FlagValue.string), required: required, help: help))
    }

    // MARK: Parsing

    /// Parses arguments (without the program name). When `helpRequested` is set in the
    /// result, nothing else was checked: print `helpText` and exit 0.
    public func parse(_ arguments: [String]) throws(FlagError) -> ParsedFlags {
        var values: [String: FlagValue] = [:]
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if arg == "--" {
                positional += arguments[i...]
                break
            }
            if arg == "-h" || arg == "--help" || arg == "-help" {
                return ParsedFlags(specs: specs, values: [:], positional: [], helpRequested: true)
            }
            // "-" alone and anything not starting with "-" are positional; so are negative numbers.
            guard arg.hasPrefix("-"), arg.count > 1, !isNegativeNumber(arg) else {
                positional.append(arg)
                continue
            }
            let (spec, inline) = try lookup(arg)
            if values[spec.name] != nil { throw .duplicate(flag: spec.name) }
            let text: String
            if let inline {
                text = inline
            } else if spec.kind == .bool {
                text = "true"
            } else {
                // A following flag is not a value: "--name --verbose" is a missing value.
                guard i < arguments.count, !looksLikeFlag(arguments[i]) else { throw .missingValue(flag: spec.name) }
                text = arguments[i]
                i += 1
            }
            values[spec.name] = try spec.parse(text)
        }
        // A stray argument is the likelier mistake ("kvd n1"): report it before a missing flag.
        if !acceptsPositional, let stray = positional.first {
            let missing = specs.first { $0.required && values[$0.name] == nil }?.name
            throw .unexpectedArgument(stray, command: command, missingFlag: missing)
        }
        for spec in specs where spec.required && values[spec.name] == nil {
            throw .missingRequired(flag: spec.name)
        }
        return ParsedFlags(specs: specs, values: values, positional: positional, helpRequested: false)
    }

    /// Resolves "--name", "--name=value", "-w" or "-w=value" to a declared flag.
    private func lookup(_ arg: String) throws(FlagError) -> (FlagSpec, String?) {
        let isLong = arg.hasPrefix("--")
        let body = arg.dropFirst(isLong ? 2 : 1)
        let name: Substring
        var inline: String?
        if let eq = body.firstIndex(of: "=") {
            name = body[..<eq]
            inline = String(body[body.index(after: eq)...])
        } else {
            name = body
        }
        if isLong, let spec = specs.first(where: { $0.name == name }) { return (spec, inline) }
        if !isLong, name.count == 1, let spec = specs.first(where: { $0.short == name.first }) { return (spec, inline) }
        let shown = isLong ? "--" + name : "-" + name
        throw .unknownFlag(shown, suggestion: suggestion(for: String(name), long: isLong))
    }

    private func suggestion(for name: String, long: Bool) -> String? {
        // "-name" is a common slip for "--name".
        if !long, specs.contains(where: { $0.name == name }) { return "--" + name }
        return closestName(to: name, among: specs.map(\.name) + ["help"]).map { "--" + $0 }
    }

    private func looksLikeFlag(_ s: String) -> Bool {
        if s == "--" || s.hasPrefix("--") && s.count > 2 { return true }
        if s.hasPrefix("-"), s.count >= 2, !isNegativeNumber(s) {
            let c = s.dropFirst().first
            return c == "h" || specs.contains { $0.short == c }
        }
        return false
    }

    private func isNegativeNumber(_ s: String) -> Bool {
        s.count > 1 && s.hasPrefix("-") && s.dropFirst().allSatisfy { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "_") }
    }
}
