import CLI
import Foundation
import KVClient

/// Flags every command accepts (etcdctl's global flags).
struct GlobalOptions {
    static let defaultEndpoints = "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"

    var endpoints: [String]
    var dialTimeout: Duration
    var commandTimeout: Duration
    var writeOut: String

    static func declare(in p: inout FlagParser) {
        let env = ProcessInfo.processInfo.environment["KVCTL_ENDPOINTS"].flatMap { $0.isEmpty ? nil : $0 }
        p.string("endpoints", default: env ?? defaultEndpoints,
                 help: "comma-separated client addresses host:port (env KVCTL_ENDPOINTS)")
        p.duration("dial-timeout", default: .seconds(2), help: "timeout for connecting to one endpoint")
        p.duration("command-timeout", default: .seconds(5), help: "timeout for one command, retries and redirects included")
        p.choice("write-out", short: "w", choices: ["simple", "json", "table"], default: "simple", help: "output format")
    }

    init(_ f: ParsedFlags) {
        endpoints = (f.string("endpoints") ?? Self.defaultEndpoints)
            .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        dialTimeout = f.duration("dial-timeout") ?? .seconds(2)
        commandTimeout = f.duration("command-timeout") ?? .seconds(5)
        writeOut = f.string("write-out") ?? "simple"
    }

    func client(endpoints: [String]? = nil) throws(KVClientError) -> KVClient {
        try KVClient(configuration: KVClientConfiguration(
            endpoints: endpoints ?? self.endpoints, dialTimeout: dialTimeout, commandTimeout: commandTimeout))
    }
}
