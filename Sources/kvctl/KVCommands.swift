import CLI
import Foundation
import KVClient

let putCommand = Command(
    words: ["put"], summary: "Stores a value under a key.", usage: "[flags] KEY [VALUE]",
    details: "With no VALUE, the value is read from standard input (one trailing newline is dropped).\n"
        + "Use -- before a value that starts with '-': kvctl put k -- -1",
    declare: { _ in },
    run: { g, _, args in
        try expectArgs(args, 1...2, putCommand, "KEY [VALUE]")
        let key = Array(args[0].utf8)
        var value: [UInt8]
        if args.count == 2 {
            value = Array(args[1].utf8)
        } else {
            value = Array(FileHandle.standardInput.readDataToEndOfFile())
            if value.last == 0x0A { value.removeLast() }
        }
        let client = try g.client()
        defer { client.close() }
        let revision = try await client.put(key, value)
        if g.writeOut == "json" { Out.json(["ok": true, "revision": revision]) } else { Out.line("OK") }
        return 0
    })

let getCommand = Command(
    words: ["get"], summary: "Reads the value of a key (linearizable: served through the leader's log).",
    usage: "[flags] KEY", details: "Prints the key and then the value on two lines; prints nothing if the key is absent.",
    declare: { p in p.bool("print-value-only", help: "print only the value") },
    run: { g, f, args in
        try expectArgs(args, 1...1, getCommand, "one KEY")
        let key = Array(args[0].utf8)
        let client = try g.client()
        defer { client.close() }
        let value = try await client.get(key)
        if g.writeOut == "json" {
            var kvs: [[String: Any]] = []
            if let value { kvs.append(["key": args[0], "value": jsonBytes(value)]) }
            Out.json(["count": kvs.count, "kvs": kvs])
        } else if let value {
            if !f.bool("print-value-only") { Out.line(args[0]) }
            Out.bytes(value)
            Out.line()
        }
        return 0
    })

let delCommand = Command(
    words: ["del"], summary: "Deletes a key; prints how many keys were deleted (0 or 1).", usage: "[flags] KEY",
    details: "", declare: { _ in },
    run: { g, _, args in
        try expectArgs(args, 1...1, delCommand, "one KEY")
        let client = try g.client()
        defer { client.close() }
        let n = try await client.delete(Array(args[0].utf8))
        if g.writeOut == "json" { Out.json(["deleted": n]) } else { Out.line(String(n)) }
        return 0
    })
