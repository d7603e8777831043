import Foundation
import KVClient
import Wire
import XCTest

/// A real cluster of kvd processes on free 127.0.0.1 ports with data in a temp dir.
/// Every process is killed when the test ends, whatever happened.
final class ProcessCluster: @unchecked Sendable {
    // @unchecked Sendable: `nodes` is a fixed array of NodeProcess (see its note); the
    // rest is immutable.
    let nodes: [NodeProcess]
    let root: URL
    let tickMs: Int
    let electionTicks: Int
    /// For status polls: short timeouts so a paused node costs little.
    private let prober: KVClient

    /// `kvdArguments` are added to every member's command line.
    init(_ test: XCTestCase, size: Int, tickMs: Int = 20, electionTicks: Int = 10, kvdArguments: [String] = []) throws {
        let kvd = try Binaries.kvd()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("raftkv-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        root = dir
        self.tickMs = tickMs
        self.electionTicks = electionTicks
        let ports = freePorts(2 * size)
        let initial = (0..<size).map { "n\($0 + 1)=127.0.0.1:\(ports[size + $0])" }.joined(separator: ",")
        nodes = (0..<size).map { i in
            NodeProcess(name: "n\(i + 1)", index: i, clientPort: ports[i], peerPort: ports[size + i],
                        dataDir: dir.appendingPathComponent("n\(i + 1)"), logFile: dir.appendingPathComponent("n\(i + 1).log"),
                        initialCluster: initial, executable: kvd, tickMs: tickMs, electionTicks: electionTicks,
                        extraArguments: kvdArguments)
        }
        prober = try KVClient(configuration: KVClientConfiguration(
            endpoints: nodes.map(\.clientAddress), dialTimeout: .milliseconds(300), commandTimeout: .milliseconds(500)))
        let nodes = self.nodes, prober = self.prober
        test.addTeardownBlock {
            for n in nodes { n.kill() }
            prober.close()
            // Keep the logs of a failed run for inspection; successful runs clean up.
            if (test.testRun?.totalFailureCount ?? 0) == 0 {
                try? FileManager.default.removeItem(at: dir)
            } else {
                print("kvd logs kept in \(dir.path)")
            }
        }
        for n in nodes { try n.start() }
    }

    var endpoints: [String] { nodes.map(\.clientAddress) }

    /// One election timeout upper bound (2E ticks).
    var electionTimeout: Duration { .milliseconds(2 * electionTicks * tickMs) }

    func client(commandTimeout: Duration = .seconds(10), attemptTimeout: Duration = .seconds(1)) throws -> KVClient {
        try KVClient(configuration: KVClientConfiguration(
            endpoints: endpoints, dialTimeout: .milliseconds(500), commandTimeout: commandTimeout,
            attemptTimeout: attemptTimeout))
    }

    /// Status of every node that answers, by index.
    func statuses() async -> [Int: StatusInfo] {
        await withTaskGroup(of: (Int, StatusInfo?).self) { group in
            for n in nodes where n.isRunning {
                group.addTask { [prober] in (n.index, try? await prober.status(n.clientAddress)) }
            }
            var out: [Int: StatusInfo] = [:]
            for await (i, s) in group { if let s { out[i] = s } }
            return out
        }
    }

    /// Waits until a node outside `excluding` is leader at the highest term any node reports.
    func waitForLeader(excluding: Set<Int> = [], timeout: Duration = .seconds(15),
                       file: StaticString = #filePath, line: UInt = #line) async throws -> (index: Int, status: StatusInfo) {
        let deadline = ContinuousClock.now + timeout
        var last: [Int: StatusInfo] = [:]
        while ContinuousClock.now < deadline {
            last = await statuses()
            let maxTerm = last.values.map(\.term).max() ?? 0
            if let (i, s) = last.first(where: { i, s in !excluding.contains(i) && s.term == maxTerm && "\(s.role)" == "leader" }) {
                return (i, s)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("no leader within \(timeout); statuses: \(describe(last))\n\(logs())", file: file, line: line)
        throw CancellationError()
    }

    /// Polls `condition` every 50ms until it holds or `timeout` passes.
    func eventually(_ what: String, timeout: Duration = .seconds(15), file: StaticString = #filePath, line: UInt = #line,
                    _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("timed out waiting for \(what); statuses: \(describe(await statuses()))\n\(logs())", file: file, line: line)
        throw CancellationError()
    }

    func describe(_ s: [Int: StatusInfo]) -> String {
        s.keys.sorted().map { i in
            let x = s[i]!
            return "\(x.name): \(x.role) term \(x.term) leader \(x.leaderID) commit \(x.commitIndex) applied \(x.appliedIndex)"
        }.joined(separator: "; ")
    }

    func logs(_ lines: Int = 15) -> String {
        nodes.map { "---- \($0.name) ----\n\($0.logTail(lines))" }.joined(separator: "\n")
    }

    /// Runs kvctl against this cluster; returns (exit status, stdout, stderr).
    func kvctl(_ args: [String], stdin: String? = nil) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = try Binaries.kvctl()
        p.arguments = ["--endpoints", endpoints.joined(separator: ","), "--command-timeout", "10s"] + args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
