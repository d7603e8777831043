import Foundation

/// stdout/stderr writers. Unbuffered write(2) on fds 1 and 2 (no shared FILE state), and
/// values are written as raw bytes so binary data round-trips.
enum Out {
    static func bytes(_ b: [UInt8]) { writeAll(1, b) }

    static func line(_ s: String = "") { bytes(Array((s + "\n").utf8)) }

    static func error(_ s: String) {
        writeAll(2, Array((s.hasSuffix("\n") ? s : s + "\n").utf8))
    }

    /// Loops over short writes and EINTR; gives up quietly on a closed pipe.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }

    /// Pretty, key-sorted JSON for `-w json`.
    static func json(_ value: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])) ?? Data("null".utf8)
        bytes(Array(data))
        line()
    }
}

/// An ASCII table in the style of etcdctl's `-w table`.
struct Table {
    let header: [String]
    var rows: [[String]] = []

    init(_ header: [String]) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        let rule = "+" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "+"
        func format(_ cells: [String], center: Bool) -> String {
            "|" + cells.enumerated().map { i, c in
                let pad = widths[i] - c.count
                if center {
                    let left = pad / 2
                    return " " + String(repeating: " ", count: left) + c + String(repeating: " ", count: pad - left) + " "
                }
                return " " + c + String(repeating: " ", count: pad) + " "
            }.joined(separator: "|") + "|"
        }
        var out = [rule, format(header, center: true), rule]
        for r in rows { out.append(format(r, center: false)) }
        out.append(rule)
        return out.joined(separator: "\n")
    }
}

/// Text for JSON: UTF-8 values as strings, anything else base64 (with a marker field).
func jsonBytes(_ b: [UInt8]) -> String {
    if let s = String(validating: b, as: UTF8.self) { return s }
    return Data(b).base64EncodedString()
}
