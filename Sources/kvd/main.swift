import CLI
import Glibc
import Server
import Transport

// Block the shutdown signals before any thread exists, so every thread inherits the mask
// and the loop's signalfd sees them (instead of the default action killing the process).
do {
    try SignalWatcher.block([SIGTERM, SIGINT])
} catch {
    fail("\(error)")
}

/// Exit status: 2 for a usage error (bad flags or configuration: fix the command line),
/// 1 for a failure at run time (as kvctl does).
func fail(_ message: String, status: Int32 = 1) -> Never {
    var line = Array("Error: \(message)\n".utf8)
    line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    exit(status)
}

func fail(_ error: ServerError) -> Never {
    if case .config = error { fail("\(error) (see kvd --help)", status: 2) }
    fail(error.description)
}

let parser = KVDFlags.parser()
let flags: ParsedFlags
do {
    flags = try parser.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error) (see kvd --help)", status: 2)
}
if flags.helpRequested {
    print(parser.helpText, terminator: "")
    exit(0)
}

let server: KVServer
do {
    let config = try KVDFlags.config(from: flags, seed: KVDFlags.seed(name: flags.string("name") ?? ""))
    server = try KVServer(config: config)
    try server.start()
    try server.handleSignals()
} catch {
    fail(error)
}

if let failure = server.wait() {
    fail(failure)
}
exit(0)
