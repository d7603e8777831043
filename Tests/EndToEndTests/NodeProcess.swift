import Foundation
import Glibc

/// One kvd child process with its own log file. Loop-free: all calls come from the test.
final class NodeProcess: @unchecked Sendable {
    // @unchecked Sendable: mutated only by the owning test's thread (start/kill/restart),
    // which serialises every call; the nemesis runs its actions one at a time too.
    let name: String
    let index: Int
    let clientAddress: String
    let peerAddress: String
    let dataDir: URL
    let logFile: URL
    private let arguments: [String]
    private let executable: URL
    private(set) var process: Process?
    /// Flags added to the next starts (e.g. `--initial-cluster-state existing`).
    var extraArguments: [String] = []

    init(name: String, index: Int, clientPort: Int, peerPort: Int, dataDir: URL, logFile: URL,
         initialCluster: String, executable: URL, tickMs: Int, electionTicks: Int, extraArguments: [String] = []) {
        self.name = name
        self.index = index
        clientAddress = "127.0.0.1:\(clientPort)"
        peerAddress = "127.0.0.1:\(peerPort)"
        self.dataDir = dataDir
        self.logFile = logFile
        self.executable = executable
        arguments = [
            "--name", name, "--data-dir", dataDir.path,
            "--listen-client", clientAddress, "--listen-peer", peerAddress,
            "--initial-cluster", initialCluster, "--initial-cluster-token", "e2e",
            "--tick-ms", String(tickMs), "--election-ticks", String(electionTicks), "--heartbeat-ticks", "1",
            "--request-timeout", "2s", "--log-level", "info",
        ] + extraArguments
    }

    var isRunning: Bool { process?.isRunning ?? false }
    var pid: Int32 { process?.processIdentifier ?? 0 }

    func start() throws {
        precondition(!isRunning, "\(name) already running")
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        log.seekToEndOfFile()
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments + extraArguments
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
    }

    /// SIGKILL and reap.
    func kill() {
        guard let p = process, p.isRunning else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        Glibc.kill(p.processIdentifier, SIGCONT)
        p.waitUntilExit()
    }

    /// SIGTERM, wait up to `seconds`, then SIGKILL.
    func stop(seconds: Double = 5) {
        guard let p = process, p.isRunning else { return }
        Glibc.kill(p.processIdentifier, SIGTERM)
        Glibc.kill(p.processIdentifier, SIGCONT)
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        kill()
    }

    func pause() { if isRunning { Glibc.kill(pid, SIGSTOP) } }
    func resume() { if isRunning { Glibc.kill(pid, SIGCONT) } }

    func restart() throws {
        kill()
        try start()
    }

    /// The last lines of the node's log, for failure messages.
    func logTail(_ lines: Int = 30) -> String {
        guard let text = try? String(contentsOf: logFile, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
