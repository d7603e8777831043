extension FlagParser {
    /// Generated --help: usage line, summary, then one aligned line per flag.
    public var helpText: String {
        var rows: [(String, String)] = [("-h, --help", "show this help")]
        for s in specs {
            let alias = s.short.map { "-\($0), " } ?? "    "
            let placeholder = s.kind.placeholder
            let left = alias + "--" + s.name + (placeholder.isEmpty ? "" : " " + placeholder)
            var right = s.help
            if s.required {
                right += " (required)"
            } else if let d = s.defaultValue, d != .bool(false) {
                right += " (default \(d.helpText))"
            }
            rows.append((left, right))
        }
        let width = min(40, rows.map(\.0.count).max() ?? 0)
        var out = "Usage: \(command) \(usage)\n"
        if !summary.isEmpty { out += "\n\(summary)\n" }
        out += "\nFlags:\n"
        for (left, right) in rows {
            if left.count > width {
                out += "  \(left)\n  \(String(repeating: " ", count: width))  \(right)\n"
            } else {
                out += "  \(left)\(String(repeating: " ", count: width - left.count))  \(right)\n"
            }
        }
        return out
    }
}
