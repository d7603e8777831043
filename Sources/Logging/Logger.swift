/// A leveled, structured logger. A value type: copies share the sink, so deriving a
/// component logger is cheap and any copy may be used from any thread.
///
/// Line format (one line per call, fields in the order given):
///   2024-05-01T12:00:00.123Z info  node1/raft: became leader term=5 votes=3
public struct Logger: Sendable {
    public let component: String
    public let level: LogLevel
    public let sink: LogSink

    public init(component: String, level: LogLevel = .info, sink: LogSink = .standardError()) {
        self.component = component
        self.level = level
        self.sink = sink
    }

    /// A logger for a sub-component, e.g. `node1` → `node1/raft`.
    public func child(_ name: String) -> Logger {
        Logger(component: component.isEmpty ? name : component + "/" + name, level: level, sink: sink)
    }

    public func withLevel(_ level: LogLevel) -> Logger {
        Logger(component: component, level: level, sink: sink)
    }

    public func isEnabled(_ l: LogLevel) -> Bool { l >= level }

    /// `message` is an autoclosure so disabled levels cost nothing to format.
    public func log(_ l: LogLevel, _ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) {
        guard isEnabled(l) else { return }
        let (secs, ms) = sink.clock()
        sink.write(Logger.format(time: iso8601UTC(secondsSinceEpoch: secs, milliseconds: ms), level: l,
                                 component: component, message: message(),
                                 fields: fields.map { ($0.key, String(describing: $0.value)) }))
    }

    public func debug(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.debug, message(), fields) }
    public func info(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.info, message(), fields) }
    public func warn(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.warn, message(), fields) }
    public func error(_ message: @autoclosure () -> String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.error, message(), fields) }

    /// Builds one line. Control characters are escaped so a value can never start a new,
    /// forged log line; values with spaces, quotes or '=' are quoted.
    static func format(time: String, level: LogLevel, component: String, message: String,
                       fields: [(String, String)]) -> String {
        var line = time + " " + level.description
        line += String(repeating: " ", count: 5 - level.description.count)
        line += " " + escapeControls(component) + ": " + escapeControls(message)
        for (k, v) in fields {
            line += " " + escapeControls(k) + "=" + fieldValue(v)
        }
        return line
    }

    private static func fieldValue(_ v: String) -> String {
        let needsQuotes = v.isEmpty || v.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || isControl($0) }
        return needsQuotes ? quoted(v) : v
    }

    /// Escapes control characters only; free text keeps its quotes.
    private static func escapeControls(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if isControl(ch) { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }
}

private func isControl(_ c: Unicode.Scalar) -> Bool { c.value < 0x20 || c.value == 0x7F }

/// A double-quoted value with quotes, backslashes and control characters escaped (log
/// values and the flag parser's error messages share it).
public func quoted(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if isControl(ch) { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
        }
    }
    return out + "\""
}
