import Logging
import Foundation
import Glibc
import KV
import Raft
import Server
import Transport
import Wire
import XCTest

/// Free loopback ports: bind port 0, read the choice, close. Another process could grab one
/// in between; the window is tiny and a clash fails loudly at start.
func freePorts(_ n: Int) -> [Int] {
    var fds: [Int32] = []
    var ports: [Int] = []
    for _ in 0..<n {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, len)
                _ = getsockname(fd, $0, &len)
            }
        }
        ports.append(Int(UInt16(bigEndian: addr.sin_port)))
        fds.append(fd)
    }
    for fd in fds { Glibc.close(fd) }
    return ports
}

func makeTempDir(_ label: String) -> String {
    var template = Array("/tmp/raftkv-\(label)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    return path
}

/// N in-process servers on loopback with fast ticks and temp data dirs.
final class TestCluster {
    let names: [String]
    let peerPorts: [Int]
    let root: String
    let token: String
    let sink = LogSink.memory()
    var servers: [KVServer?]
    var requestTimeoutMilliseconds = 5_000
    /// Applied last to every node's configuration (limits under test).
    var configure: (inout ServerConfig) -> Void = { _ in }

    init(size: Int = 3, token: String = "test-cluster", label: String = "cluster") {
        names = (1...size).map { "n\($0)" }
        peerPorts = freePorts(size)
        root = makeTempDir(label)
        self.token = token
        servers = Array(repeating: nil, count: size)
    }

    var initialCluster: String {
        zip(names, peerPorts).map { "\($0)=127.0.0.1:\($1)" }.joined(separator: ",")
    }

    func config(_ i: Int) throws -> ServerConfig {
        var c = ServerConfig(name: names[i], dataDir: root + "/" + names[i], listenClient: "127.0.0.1:0",
                             listenPeer: "127.0.0.1:\(peerPorts[i])", members: try InitialCluster.parse(initialCluster),
                             clusterToken: token, seed: UInt64(i + 1) * 7919,
                             logger: Logger(component: names[i], level: .debug, sink: sink))
        c.tickMilliseconds = 50  // elections in 0.5-1 s: robust on a loaded machine
        c.electionTicks = 10
        c.requestTimeoutMilliseconds = requestTimeoutMilliseconds
        c.peerMaxBackoffMilliseconds = 200
        configure(&c)
        return c
    }

    func start(_ i: Int) throws {
        let s = try KVServer(config: try config(i))
        try s.start()
        servers[i] = s
    }

    func startAll() throws {
        for i in names.indices { try start(i) }
    }

    func stop(_ i: Int) {
        servers[i]?.shutdown()
        servers[i] = nil
    }

    func stopAll() {
        for i in names.indices { stop(i) }
    }

    deinit {
        stopAll()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Index of the server every running member agrees leads, waiting up to `timeout`.
    func waitForLeader(timeout: TimeInterval = 15) -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let statuses = servers.map { $0?.currentStatus() }
            if let i = statuses.firstIndex(where: { $0?.role == .leader }) {
                let id = statuses[i]!.id
                let running = statuses.compactMap { $0 }
                if running.allSatisfy({ $0.leaderID == id }) { return i }
            }
            usleep(20_000)
        }
        return nil
    }

    func clientAddress(_ i: Int) -> SocketAddress { servers[i]!.clientAddress! }

    var logLines: [String] { sink.lines }
}

/// Client requests with a fixed session.
struct Session {
    /// Unregistered (random) unless made with `init(registeringWith:)`: enough for calls
    /// refused before the log, answered `sessionExpired` by the state machine otherwise.
    var clientID: UInt64 = UInt64.random(in: 1...UInt64.max)
    var sequence: UInt64 = 0

    init() {}

    /// Registers a session through `client` (which must reach the leader).
    init(registeringWith client: RawClient, requestID: UInt64 = 0xFFFF_FF00) throws {
        guard case let .kv(.registered(id)) = try client.call(.register, id: requestID) else {
            throw NoReply(description: "registration was not answered with a session id")
        }
        clientID = id
    }

    mutating func next(_ command: KVCommand) -> ClientCall {
        sequence += 1
        return .kv(ClientRequest(clientID: clientID, sequence: sequence, firstUnacknowledged: sequence, command: command))
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Polls `condition` until true or the timeout passes.
func eventually(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// A single call from a fresh session.
func oneShot(_ command: KVCommand) -> ClientCall {
    var s = Session()
    return s.next(command)
}
