import Logging
import Raft
import Transport

/// The server's logger: every line names the node (as the component) and carries the
/// current term, so lines from a cluster's members can be merged and read in order.
/// Loop thread only (`term` reads the replica).
struct ServerLog {
    let logger: Logger
    var term: () -> Term = { 0 }
    /// Shared by every copy: repeats of one cause are counted, not printed (§ operations.md).
    let repeats: RepeatLimiter

    init(logger: Logger, repeatWindowMilliseconds: Int = 5_000) {
        self.logger = logger
        self.repeats = RepeatLimiter(windowMilliseconds: repeatWindowMilliseconds)
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

    /// Like `log`, but at most one line per `cause` per window; the next line that goes out
    /// says how many were suppressed in between (`suppressed=N`).
    func limited(_ level: LogLevel, cause: String, _ message: @autoclosure () -> String,
                 _ fields: KeyValuePairs<String, Any> = [:]) {
        guard logger.isEnabled(level), let suppressed = repeats.admit(cause: cause, now: MonotonicClock.nanoseconds()) else { return }
        guard suppressed > 0 else { return log(level, message(), fields) }
        var text = message()
        for (k, v) in fields { text += " " + k + "=" + render(String(describing: v)) }
        text += " suppressed=\(suppressed)"
        logger.log(level, text, ["term": term()])
    }

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
