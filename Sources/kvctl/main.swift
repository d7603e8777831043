import CLI
import Foundation
import KVClient

// kvctl: the command-line client, modelled on etcdctl.

let commands: [Command] = [putCommand, getCommand, delCommand, endpointStatusCommand, endpointHealthCommand, memberListCommand]

func topLevelHelp() -> String {
    var globals = FlagParser(command: "kvctl")
    GlobalOptions.declare(in: &globals)
    let flagLines = globals.helpText.components(separatedBy: "\nFlags:\n").last ?? ""
    let width = commands.map(\.name.count).max() ?? 0
    let list = commands.map { "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.summary }
    return """
    kvctl: command-line client for a RaftKV cluster.

    Usage: kvctl [global flags] COMMAND [args]

    Commands:
    \(list.joined(separator: "\n"))

    Global flags:
    \(flagLines)
    Examples:
      kvctl put greeting hello
      kvctl get greeting
      echo -n 'from stdin' | kvctl put note
      kvctl --endpoints 127.0.0.1:7101 endpoint status -w table

    Run 'kvctl COMMAND --help' for a command's flags.
    """
}

/// Splits the command words from everything else, knowing which flags take a value.
func locateCommand(_ args: [String]) -> (Command, [String])? {
    var all = FlagParser(command: "kvctl")
    GlobalOptions.declare(in: &all)
    var valued = Set(all.specs.filter { $0.kind != .bool }.flatMap { s in ["--" + s.name] + (s.short.map { ["-\($0)"] } ?? []) })
    for c in commands { var p = FlagParser(command: ""); c.declare(&p); valued.formUnion(p.specs.filter { $0.kind != .bool }.map { "--" + $0.name }) }

    var positions: [Int] = []
    var i = 0
    while i < args.count {
        let a = args[i]
        if a == "--" { break }
        if a.hasPrefix("-") && a.count > 1 {
            i += (!a.contains("=") && valued.contains(a)) ? 2 : 1
        } else {
            positions.append(i)
            i += 1
        }
    }
    let words = positions.map { args[$0] }
    guard let cmd = commands.filter({ words.starts(with: $0.words) }).max(by: { $0.words.count < $1.words.count }) else {
        return nil
    }
    var rest = args
    for p in positions.prefix(cmd.words.count).reversed() { rest.remove(at: p) }
    return (cmd, rest)
}

func hint(for error: KVClientError, endpoints: [String]) -> String {
    switch error {
    case .noEndpointReachable:
        return "\n  is the cluster running? try ./cluster.sh start (or pass --endpoints / set KVCTL_ENDPOINTS)"
    case .unavailable:
        return "\n  the cluster may have lost its quorum: check ./cluster.sh status"
    default: return ""
    }
}

func main() async -> Int32 {
    var args = Array(CommandLine.arguments.dropFirst())
    if args.isEmpty || args == ["help"] || args == ["--help"] || args == ["-h"] {
        Out.line(topLevelHelp())
        return 0
    }
    if args.first == "help" { args = Array(args.dropFirst()) + ["--help"] }
    guard let (command, rest) = locateCommand(args) else {
        let words = args.filter { !$0.hasPrefix("-") }.prefix(2).joined(separator: " ")
        let isHelp = args.contains("--help") || args.contains("-h")
        if isHelp && words.isEmpty { Out.line(topLevelHelp()); return 0 }
        Out.error("Error: unknown command \"\(words)\"; commands: \(commands.map(\.name).joined(separator: ", ")). See kvctl --help")
        return 2
    }
    let parser = command.parser()
    let flags: ParsedFlags
    do {
        flags = try parser.parse(rest)
    } catch {
        Out.error("Error: \(error)\nSee 'kvctl \(command.name) --help'.")
        return 2
    }
    if flags.helpRequested {
        Out.line(parser.helpText)
        return 0
    }
    let globals = GlobalOptions(flags)
    do {
        return try await command.run(globals, flags, flags.positional)
    } catch let e as UsageError {
        Out.error("Error: \(e)\nSee 'kvctl \(e.command) --help'.")
        return 2
    } catch let e as KVClientError {
        Out.error("Error: \(e)" + hint(for: e, endpoints: globals.endpoints))
        return 1
    } catch {
        Out.error("Error: \(error)")
        return 1
    }
}

let status = await main()

exit(status)
