import CLI
import Logging
import Raft
import Server
import Storage
import Transport
import Wire
import XCTest

final class StartupTests: XCTestCase {
    func testPeerWithWrongClusterTokenOrUnknownNameIsRefused() throws {
        let cluster = TestCluster(size: 1, label: "token")
        try cluster.startAll()
        let peerAddress = try SocketAddress(host: "127.0.0.1", port: cluster.peerPorts[0])

        let intruder = try RawClient(peerAddress)
        intruder.send(PeerFrame.handshake(PeerHandshake(clusterToken: "other-cluster", nodeName: "n1", nodeID: 1)).encodedFrame())
        XCTAssertTrue(intruder.waitForClose())
        guard let f = intruder.frames.first, case let .handshakeReply(.refused(reason)) = try PeerFrame.decode(f) else {
            return XCTFail("expected a refusal, got \(intruder.frames)")
        }
        XCTAssertTrue(reason.contains("cluster token mismatch"), reason)

        let stranger = try RawClient(peerAddress)
        stranger.send(PeerFrame.handshake(PeerHandshake(clusterToken: cluster.token, nodeName: "n9", nodeID: 9)).encodedFrame())
        XCTAssertTrue(stranger.waitForClose())
        guard let g = stranger.frames.first, case let .handshakeReply(.refused(why)) = try PeerFrame.decode(g) else {
            return XCTFail("expected a refusal, got \(stranger.frames)")
        }
        XCTAssertTrue(why.contains("unknown member n9"), why)
        XCTAssertTrue(cluster.logLines.contains { $0.contains("refused peer connection") && $0.contains("other-cluster") },
                      "refusal not logged")
    }

    func testDataDirOfAnotherClusterOrNodeIsRefused() throws {
        let cluster = TestCluster(size: 1, token: "alpha", label: "foreign")
        try cluster.startAll()
        let client = try RawClient(cluster.clientAddress(0))
        XCTAssertNotNil(cluster.waitForLeader())
        var session = try Session(registeringWith: client)
        guard case .kv(.stored) = try client.call(session.next(.put(key: bytes("k"), value: bytes("v"))), id: 1) else {
            return XCTFail("put failed")
        }
        client.close()
        cluster.stopAll()

        var other = try cluster.config(0)
        other.clusterToken = "beta"
        XCTAssertThrowsError(try KVServer(config: other).start()) { error in
            guard case let .storage(_, .mismatch(_, reason))? = error as? ServerError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("alpha"), reason)
        }
        // Same cluster, but the directory belongs to another node id.
        var moved = try cluster.config(0)
        moved.members = [Member(id: 1, name: "n0", peerURL: "127.0.0.1:1"), Member(id: 2, name: "n1", peerURL: moved.members[0].peerURL)]
        XCTAssertThrowsError(try KVServer(config: moved).start()) { error in
            guard case .storage(_, .mismatch)? = error as? ServerError else { return XCTFail("\(error)") }
        }
        // The right configuration still starts on it and has the data.
        try cluster.start(0)
        XCTAssertNotNil(cluster.waitForLeader())
        let again = try RawClient(cluster.clientAddress(0))
        defer { again.close() }
        var reader = try Session(registeringWith: again)
        XCTAssertEqual(try again.call(reader.next(.get(key: bytes("k"))), id: 2), .kv(.value(bytes("v"))))
    }

    func testPortInUseAndLockedDataDirFailStartup() throws {
        let cluster = TestCluster(size: 1, label: "ports")
        try cluster.startAll()
        var clash = try cluster.config(0)
        clash.dataDir = cluster.root + "/elsewhere"
        clash.listenClient = cluster.clientAddress(0).description
        XCTAssertThrowsError(try KVServer(config: clash).start()) { error in
            XCTAssertEqual(error as? ServerError, .listen(which: "client", .addressInUse(address: clash.listenClient)))
            XCTAssertTrue("\(error)".contains("client port in use"), "\(error)")
        }
        var peerClash = try cluster.config(0)
        peerClash.dataDir = cluster.root + "/elsewhere"
        XCTAssertThrowsError(try KVServer(config: peerClash).start()) { error in
            guard case .listen(which: "peer", .addressInUse)? = error as? ServerError else { return XCTFail("\(error)") }
        }
        // Same data dir as a running server, on free ports.
        var twin = try cluster.config(0)
        twin.listenPeer = "127.0.0.1:0"
        XCTAssertThrowsError(try KVServer(config: twin).start()) { error in
            XCTAssertTrue("\(error)".contains("in use by another kvd"), "\(error)")
        }
    }

    func testFlags() throws {
        let parser = KVDFlags.parser()
        let sink = LogSink.memory()
        let defaults = try KVDFlags.config(from: parser.parse(["--name", "solo"]), seed: 1, sink: sink)
        XCTAssertEqual(defaults.dataDir, "./solo.kvd")
        XCTAssertEqual(defaults.members, [Member(id: 1, name: "solo", peerURL: "127.0.0.1:2380")])
        XCTAssertEqual(defaults.clusterToken, "raftkv-cluster")
        XCTAssertEqual(defaults.tickMilliseconds, 100)
        XCTAssertEqual(defaults.electionTicks, 10)
        XCTAssertEqual(defaults.heartbeatTicks, 1)
        XCTAssertEqual(defaults.snapshotEvery, 10_000)
        XCTAssertEqual(defaults.maxRequestBytes, 1_572_864)
        XCTAssertEqual(defaults.requestTimeoutMilliseconds, 5_000)

        let full = try KVDFlags.config(from: parser.parse([
            "--name", "b", "--data-dir", "/tmp/b", "--listen-client", "127.0.0.1:1", "--listen-peer", "127.0.0.1:2",
            "--initial-cluster", "a=127.0.0.1:10,b=127.0.0.1:2,c=127.0.0.1:30", "--initial-cluster-token", "tok",
            "--tick-ms", "50", "--election-ticks", "20", "--heartbeat-ticks", "2", "--snapshot-count", "5",
            "--max-request-bytes", "1000", "--request-timeout", "1.5s", "--log-level", "debug",
        ]), seed: 1, sink: sink)
        XCTAssertEqual(full.me, Member(id: 2, name: "b", peerURL: "127.0.0.1:2"))
        XCTAssertEqual(full.members.map(\.id), [1, 2, 3])
        XCTAssertEqual(full.requestTimeoutMilliseconds, 1_500)
        XCTAssertEqual(full.logger.level, .debug)

        func refused(_ args: [String], _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try KVDFlags.config(from: parser.parse(args), seed: 1, sink: sink), line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
            }
        }
        refused(["--name", "z", "--initial-cluster", "a=127.0.0.1:1"], "not in --initial-cluster")
        refused(["--name", "a", "--initial-cluster", "a=127.0.0.1:1,a=127.0.0.1:2"], "twice")
        refused(["--name", "a", "--initial-cluster", "a127.0.0.1:1"], "not name=host:port")
        refused(["--name", "a", "--initial-cluster", "a=nowhere:1"], "bad peer address")
        refused(["--name", "a", "--heartbeat-ticks", "10"], "--heartbeat-ticks")
        refused(["--name", "a", "--tick-ms", "abc"], "not an integer")
        refused(["--name", "a", "extra"], "unexpected argument")
        refused([], "missing required flag --name")
    }
}
