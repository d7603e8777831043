import CLI
import Foundation
import KVClient
import Wire

/// Endpoints to inspect: the configured ones, or with --cluster every member's client URL.
private func targets(_ g: GlobalOptions, _ f: ParsedFlags, _ client: KVClient) async throws -> [String] {
    guard f.bool("cluster") else { return g.endpoints }
    return try await client.members().map(\.clientURL)
}

private func roleName(_ s: StatusInfo) -> String { "\(s.role)" }

let endpointStatusCommand = Command(
    words: ["endpoint", "status"], summary: "Shows each endpoint's Raft status.", usage: "[flags]",
    details: "Columns: endpoint, name, id, role, term, leader, commit index, applied index, log size.",
    declare: { p in p.bool("cluster", help: "use every member's client URL from the member list") },
    run: { g, f, _ in
        let client = try g.client()
        defer { client.close() }
        let eps = try await targets(g, f, client)
        var failed = 0
        var results: [(String, StatusInfo)] = []
        for ep in eps {
            do {
                results.append((ep, try await client.status(ep)))
            } catch {
                failed += 1
                Out.error("Failed to get the status of endpoint \(ep) (\(error))")
            }
        }
        switch g.writeOut {
        case "json":
            Out.json(results.map { ep, s -> [String: Any] in
                ["endpoint": ep, "name": s.name, "id": s.id, "role": roleName(s), "term": s.term,
                 "leaderID": s.leaderID, "leaderName": s.leaderName, "commitIndex": s.commitIndex,
                 "appliedIndex": s.appliedIndex, "logSize": s.logSize, "firstIndex": s.firstIndex, "lastIndex": s.lastIndex,
                 "sessions": s.sessions, "sessionLimit": s.sessionLimit, "undecodableEntries": s.undecodableEntries]
            })
        case "table":
            var t = Table(["ENDPOINT", "NAME", "ID", "ROLE", "TERM", "LEADER", "COMMIT INDEX", "APPLIED INDEX", "LOG SIZE"])
            for (ep, s) in results {
                t.add([ep, s.name, String(s.id), roleName(s), String(s.term), s.leaderName.isEmpty ? "-" : s.leaderName,
                       String(s.commitIndex), String(s.appliedIndex), String(s.logSize)])
            }
            Out.line(t.render())
        default:
            for (ep, s) in results {
                Out.line([ep, s.name, String(s.id), roleName(s), String(s.term), s.leaderName.isEmpty ? "-" : s.leaderName,
                          String(s.commitIndex), String(s.appliedIndex), String(s.logSize)].joined(separator: ", "))
            }
        }
        return failed == 0 ? 0 : 1
    })

let endpointHealthCommand = Command(
    words: ["endpoint", "health"], summary: "Checks that each endpoint knows a leader and can commit a read.",
    usage: "[flags]", details: "An endpoint is healthy when it answers status with a known leader and a linearizable read sent to it commits.",
    declare: { p in p.bool("cluster", help: "use every member's client URL from the member list") },
    run: { g, f, _ in
        let client = try g.client()
        defer { client.close() }
        let eps = try await targets(g, f, client)
        var rows: [(String, Bool, String, Duration)] = []
        for ep in eps {
            let start = ContinuousClock.now
            do {
                let s = try await client.status(ep)
                guard s.leaderID != 0 else { throw KVClientError.unavailable("no leader known") }
                // A read from a client pinned to this endpoint goes through the log.
                let pinned = try g.client(endpoints: [ep])
                defer { pinned.close() }
                _ = try await pinned.get(Array("__kvctl_health".utf8))
                rows.append((ep, true, "successfully committed proposal", ContinuousClock.now - start))
            } catch {
                rows.append((ep, false, "\(error)", ContinuousClock.now - start))
            }
        }
        switch g.writeOut {
        case "json":
            Out.json(rows.map { ["endpoint": $0.0, "health": $0.1, "took": "\($0.3)", "error": $0.1 ? "" : $0.2] as [String: Any] })
        case "table":
            var t = Table(["ENDPOINT", "HEALTH", "TOOK", "ERROR"])
            for r in rows { t.add([r.0, String(r.1), tookText(r.3), r.1 ? "" : r.2]) }
            Out.line(t.render())
        default:
            for r in rows {
                if r.1 { Out.line("\(r.0) is healthy: \(r.2): took = \(tookText(r.3))") }
                else { Out.error("\(r.0) is unhealthy: \(r.2)") }
            }
        }
        return rows.allSatisfy(\.1) ? 0 : 1
    })

private func tookText(_ d: Duration) -> String {
    let us = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
    return us >= 1000 ? String(format: "%.3fms", Double(us) / 1000) : "\(us)µs"
}

let memberListCommand = Command(
    words: ["member", "list"], summary: "Lists the cluster's members.", usage: "[flags]",
    details: "Columns: id, name, peer address, client address.",
    declare: { _ in },
    run: { g, _, _ in
        let client = try g.client()
        defer { client.close() }
        let members = try await client.members()
        switch g.writeOut {
        case "json":
            Out.json(["members": members.map { ["id": $0.id, "name": $0.name, "peerURL": $0.peerURL, "clientURL": $0.clientURL] as [String: Any] }])
        case "table":
            var t = Table(["ID", "NAME", "PEER ADDRS", "CLIENT ADDRS"])
            for m in members { t.add([String(m.id), m.name, m.peerURL, m.clientURL]) }
            Out.line(t.render())
        default:
            for m in members { Out.line("\(m.id), \(m.name), \(m.peerURL), \(m.clientURL)") }
        }
        return 0
    })
