import Logging
import Raft

/// The server's logger: every line names the node (as the component) and carries the
/// current term, so lines from a cluster's members can be merged and read in order.
/// Loop thread only (`term` reads the replica).
struct ServerLog {
    let logger: Logger
    var term: () -> Term = { 0 }

    init(logger: Logger) {
        self.logger = logger
    }

    func isEnabled(_ level: LogLevel) -> Bool { logger.isEnabled(level) }

    /// Fields are rendered `key=value` after the message, then `term=`.
    func log(_ level: LogLevel, _ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        guard logger.isEnabled(level) else { return }
        var text = message()
        for (k, v) in fields { text += " " + k + "=" + render(String(describing: v)) }
        logger.log(level, text, ["term": term()])
    }

    func debug(_ m: @autoclosure () -> String, _ f: KeyValuePairs<String, Any> = [:]) { log(.debug, m(), f) }
    func info(_ m: @autoclosure () -> String, _ f: KeyValuePairs<String, Any> = [:]) { log(.info, m(), f) }
    func warn(_ m: @autoclosure () -> String, _ f: KeyValuePairs<String, Any> = [:]) { log(.warn, m(), f) }
    func error(_ m: @autoclosure () -> String, _ f: KeyValuePairs<String, Any> = [:]) { log(.error, m(), f) }

    private func render(_ v: String) -> String {
        let plain = !v.isEmpty && !v.contains { $0 == " " || $0 == "\"" || $0 == "=" }
        if plain { return v }
        return "\"" + v.replacingQuotes() + "\""
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        for c in self {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
