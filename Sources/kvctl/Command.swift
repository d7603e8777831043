import CLI
import KVClient

/// One kvctl subcommand: its words ("endpoint status"), help, extra flags and body.
struct Command: Sendable {
    let words: [String]
    let summary: String
    let usage: String
    let details: String
    let declare: @Sendable (inout FlagParser) -> Void
    /// Returns the exit status. `args` are the positionals after the command words.
    let run: @Sendable (GlobalOptions, ParsedFlags, [String]) async throws -> Int32

    var name: String { words.joined(separator: " ") }

    func parser() -> FlagParser {
        var p = FlagParser(command: "kvctl " + name, summary: summary + (details.isEmpty ? "" : "\n\n" + details), usage: usage)
        declare(&p)
        GlobalOptions.declare(in: &p)
        return p
    }
}

/// A mistake on the command line: printed with a pointer to --help, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    let command: String
    var description: String { message }
}

func expectArgs(_ args: [String], _ range: ClosedRange<Int>, _ command: Command, _ what: String) throws {
    guard range.contains(args.count) else {
        throw UsageError(message: "\(command.name) expects \(what), got \(args.count) argument\(args.count == 1 ? "" : "s")",
                         command: command.name)
    }
}
