import Raft
import Transport
import Wire

/// The peer port and the links to the other members. Outgoing: one `PeerLink` per member,
/// which reconnects with backoff and jitter and opens every connection with our handshake.
/// Incoming: connections must handshake first; a wrong cluster token or an unknown member
/// is refused with a reason and closed. Raft messages travel one way per connection (we
/// send on our links, receive on accepted connections).
///
/// Loop thread only; every callback it installs runs on the loop.
final class PeerNetwork: @unchecked Sendable {
    // @unchecked Sendable: only so timer closures (which EventLoop requires to be @Sendable)
    // may capture it. It is loop-confined: created in the server's start task and used only
    // from loop callbacks, timers and tasks, all of which run on the one loop thread.
    let loop: EventLoop
    let me: Member
    let members: [Member]
    let clusterToken: String
    let advertisedClientURL: String
    private let log: ServerLog
    private let framer = RaftFramer()
    private let handshakeTimeoutMilliseconds: Int
    /// Accepted peer-port connections held at once; more are closed at once (a flood of
    /// them must not use up descriptors or memory).
    private let maxInboundConnections: Int

    /// Raft messages from an authenticated peer, in arrival order.
    var onMessages: ([Message]) -> Void = { _ in }
    /// Our commit index, put in every handshake we send.
    var localCommitIndex: () -> UInt64 = { 0 }
    /// An authenticated peer reported committed entries in its handshake (called before any
    /// of its Raft messages on that connection are delivered).
    var onPeerHasCommitted: ((Member, UInt64) -> Void)?

    private var listener: TCPListener?
    private var links: [NodeID: OutboundPeer] = [:]
    private var inbound: [ObjectIdentifier: InboundPeer] = [:]
    private var outbox: [NodeID: [Message]] = [:]
    /// Client addresses other members advertised in their handshakes.
    private(set) var clientURLs: [NodeID: String] = [:]
    private(set) var refusedPeers = 0

    init(loop: EventLoop, me: Member, members: [Member], clusterToken: String, advertisedClientURL: String,
         handshakeTimeoutMilliseconds: Int, maxInboundConnections: Int, log: ServerLog) {
        self.loop = loop
        self.me = me
        self.members = members
        self.clusterToken = clusterToken
        self.advertisedClientURL = advertisedClientURL
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
        self.maxInboundConnections = maxInboundConnections
        self.log = log
    }

    var listenAddress: SocketAddress? { listener?.address }

    /// Binds the peer port. Throws before any link is started, so a port clash fails start-up.
    func listen(on address: SocketAddress) throws(TransportError) {
        listener = try TCPListener(loop: loop, address: address) { [weak self] connection in
            self?.accept(connection)
        }
        listener?.onAcceptError = { [log] error in log.limited(.warn, cause: "peer-accept", "peer accept failed", ["error": error]) }
    }

    /// Starts dialing every other member.
    func connect(connectTimeoutMilliseconds: Int, maxBackoffMilliseconds: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for m in members where m.id != me.id {
            guard let address = try? SocketAddress(parsing: m.peerURL) else { continue }  // validated at parse
            let config = PeerLink.Configuration(address: address, connectTimeoutMilliseconds: connectTimeoutMilliseconds,
                                                maxBackoffMilliseconds: maxBackoffMilliseconds)
            let link = PeerLink(loop: loop, configuration: config, random: SeededRandom(seed: rng.next()))
            let peer = OutboundPeer(member: m, link: link)
            links[m.id] = peer
            wire(peer)
            link.start()
        }
    }

    // MARK: Sending

    /// Queues a message; `flush()` sends everything queued per peer in as few frames as possible.
    func enqueue(_ m: Message) {
        guard links[m.to] != nil else {
            log.debug("dropping message to unknown node", ["to": m.to, "kind": m.kind.name])
            return
        }
        outbox[m.to, default: []].append(m)
    }

    /// Frames and sends everything queued. `immediately` writes it to the sockets now rather
    /// than at the end of the loop iteration (used before an fsync, so sending overlaps it).
    func flush(immediately: Bool = false) {
        guard !outbox.isEmpty else { return }
        defer {
            if immediately {
                for peer in links.values { peer.link.connection?.flushNow() }
            }
        }
        let pending = outbox
        outbox.removeAll(keepingCapacity: true)
        for (to, messages) in pending {
            guard let peer = links[to] else { continue }
            let frames = framer.frames(messages) { m, size in
                log.error("raft message too large for a frame; dropped", ["to": to, "kind": m.kind.name, "bytes": size])
            }
            for f in frames { peer.link.send(f) }
        }
    }

    // MARK: Outgoing links

    private func wire(_ peer: OutboundPeer) {
        let name = peer.member.name
        peer.link.onConnected = { [weak self, weak peer] connection in
            guard let self, let peer else { return }
            peer.decoder = FrameDecoder(channel: .peer)
            peer.accepted = false
            let hello = PeerHandshake(clusterToken: self.clusterToken, nodeName: self.me.name, nodeID: self.me.id,
                                      clientURL: self.advertisedClientURL, committedIndex: self.localCommitIndex())
            connection.write(PeerFrame.handshake(hello).encodedFrame())
            self.log.debug("dialed peer", ["peer": name, "addr": connection.peerAddress])
        }
        peer.link.onBytes = { [weak self, weak peer] bytes in
            guard let self, let peer else { return }
            self.outboundBytes(peer, bytes)
        }
        peer.link.onDisconnected = { [weak self, weak peer] error in
            guard let self, let peer else { return }
            if peer.accepted {
                self.log.warn("peer connection lost", ["peer": name, "error": error.map { "\($0)" } ?? "closed by peer"])
            }
            peer.accepted = false
        }
        peer.link.onConnectFailed = { [weak self, weak peer] error, retry in
            guard let self, let peer else { return }
            // One line per outage, not per retry.
            if !peer.reportedDown {
                peer.reportedDown = true
                self.log.warn("cannot reach peer; retrying", ["peer": name, "addr": peer.member.peerURL, "error": error])
            } else {
                self.log.debug("peer still unreachable", ["peer": name, "error": error, "retry_ms": retry])
            }
        }
    }

    /// Only the handshake reply may come back on a connection we dialed.
    private func outboundBytes(_ peer: OutboundPeer, _ bytes: [UInt8]) {
        guard let connection = peer.link.connection else { return }
        do {
            try peer.decoder.feed(bytes)
            while let frame = try peer.decoder.next() {
                guard case let .handshakeReply(reply) = try PeerFrame.decode(frame), !peer.accepted else {
                    log.warn("unexpected frame from peer on our link; closing", ["peer": peer.member.name, "type": frame.type])
                    connection.close()
                    return
                }
                switch reply {
                case let .accepted(id, name):
                    guard id == peer.member.id, name == peer.member.name else {
                        log.error("peer address answered as another member; check --initial-cluster",
                                  ["expected": "\(peer.member.name)(\(peer.member.id))", "got": "\(name)(\(id))",
                                   "addr": peer.member.peerURL])
                        connection.close()
                        return
                    }
                    peer.accepted = true
                    peer.reportedDown = false
                    log.info("connected to peer", ["peer": name, "addr": connection.peerAddress])
                case let .refused(reason):
                    log.error("peer refused our handshake", ["peer": peer.member.name, "reason": reason])
                    connection.close()
                    return
                }
            }
        } catch {
            log.warn("bad frame from peer; closing", ["peer": peer.member.name, "error": error])
            connection.close()
        }
    }

    // MARK: Incoming connections

    private func accept(_ connection: TCPConnection) {
        guard inbound.count < maxInboundConnections else {
            log.limited(.warn, cause: "peer-refused", "refusing peer connection: too many peer connections",
                        ["addr": connection.peerAddress, "limit": maxInboundConnections])
            connection.close()
            return
        }
        let peer = InboundPeer(connection: connection)
        let key = ObjectIdentifier(peer)
        inbound[key] = peer
        connection.onBytes = { [weak self, weak peer] bytes in
            guard let self, let peer else { return }
            self.inboundBytes(peer, bytes)
        }
        connection.onClose = { [weak self, weak peer] error in
            guard let self, let peer else { return }
            peer.timer?.cancel()
            self.inbound[ObjectIdentifier(peer)] = nil
            if let m = peer.member {
                self.log.info("peer disconnected", ["peer": m.name, "error": error.map { "\($0)" } ?? "closed"])
            }
        }
        peer.timer = loop.schedule(after: handshakeTimeoutMilliseconds) { [weak self, weak peer] in
            // Timer callbacks run on the loop thread.
            guard let self, let peer, peer.member == nil else { return }
            self.log.limited(.warn, cause: "peer-no-handshake", "peer connection sent no handshake in time; closing",
                             ["addr": peer.connection.peerAddress])
            peer.connection.close()
        }
    }

    private func inboundBytes(_ peer: InboundPeer, _ bytes: [UInt8]) {
        let connection = peer.connection
        var delivered: [Message] = []
        defer { if !delivered.isEmpty { onMessages(delivered) } }
        do {
            try peer.decoder.feed(bytes)
            while connection.isOpen, !peer.refused, let frame = try peer.decoder.next() {
                let decoded = try PeerFrame.decode(frame)
                guard let member = peer.member else {
                    guard case let .handshake(hello) = decoded else {
                        refuse(peer, "expected a handshake first, got \(frame.type)")
                        return
                    }
                    handshake(peer, hello)
                    continue
                }
                guard case let .raft(messages) = decoded else {
                    log.warn("unexpected frame from peer; closing", ["peer": member.name, "type": frame.type])
                    connection.close()
                    return
                }
                for m in messages {
                    guard m.from == member.id, m.to == me.id else {
                        log.warn("peer sent a misaddressed message; closing",
                                 ["peer": member.name, "from": m.from, "to": m.to])
                        connection.close()
                        return
                    }
                    delivered.append(m)
                }
            }
        } catch {
            log.limited(.warn, cause: "peer-bad-frame", "bad frame on peer port; closing",
                        ["addr": connection.peerAddress, "peer": peer.member?.name ?? "?", "error": error])
            connection.close()
        }
    }

    private func handshake(_ peer: InboundPeer, _ hello: PeerHandshake) {
        guard hello.clusterToken == clusterToken else {
            return refuse(peer, "cluster token mismatch: node \(hello.nodeName) belongs to cluster \"\(hello.clusterToken)\"",
                          reply: "cluster token mismatch: this is not your cluster")
        }
        guard let member = members.first(where: { $0.id == hello.nodeID }), member.name == hello.nodeName else {
            return refuse(peer, "unknown member \(hello.nodeName) (id \(hello.nodeID)); not in --initial-cluster")
        }
        guard member.id != me.id else {
            return refuse(peer, "peer claims to be this node (\(me.name)); check --initial-cluster")
        }
        peer.member = member
        peer.timer?.cancel()
        if !hello.clientURL.isEmpty { clientURLs[member.id] = hello.clientURL }
        // Before any Raft message on this connection: an empty node learns the cluster has a history.
        if hello.committedIndex > 0 { onPeerHasCommitted?(member, hello.committedIndex) }
        // A restarted peer dials anew; the stale connection from its old life can go.
        for (key, other) in inbound where other !== peer && other.member?.id == member.id {
            inbound[key] = nil
            other.connection.close()
        }
        peer.connection.write(PeerFrame.handshakeReply(.accepted(nodeID: me.id, nodeName: me.name)).encodedFrame())
        log.info("peer connected", ["peer": member.name, "addr": peer.connection.peerAddress])
    }

    private func refuse(_ peer: InboundPeer, _ why: String, reply: String? = nil) {
        refusedPeers += 1
        peer.refused = true
        peer.timer?.cancel()
        log.limited(.warn, cause: "peer-handshake-refused", "refused peer connection", ["addr": peer.connection.peerAddress, "reason": why])
        peer.connection.write(PeerFrame.handshakeReply(.refused(reason: reply ?? why)).encodedFrame())
        peer.connection.closeAfterFlush()
    }

    // MARK: Shutdown

    func close() {
        listener?.close()
        for peer in links.values { peer.link.stop() }
        for peer in inbound.values { peer.connection.close() }
        inbound.removeAll()
    }

    /// Whether our outgoing link to `id` is up and past its handshake.
    func isConnected(_ id: NodeID) -> Bool { links[id]?.accepted == true }

    /// Members we hold an accepted outgoing connection to, for status and tests.
    var connectedPeers: [String] {
        links.values.filter(\.accepted).map(\.member.name).sorted()
    }
}

/// Our dialing side of one member.
private final class OutboundPeer {
    let member: Member
    let link: PeerLink
    var decoder = FrameDecoder(channel: .peer)
    var accepted = false
    var reportedDown = false

    init(member: Member, link: PeerLink) {
        self.member = member
        self.link = link
    }
}

/// A connection a member (or anyone) opened to our peer port.
private final class InboundPeer: @unchecked Sendable {
    // @unchecked Sendable: captured by the handshake timer closure; loop-confined like PeerNetwork.
    let connection: TCPConnection
    var decoder = FrameDecoder(channel: .peer)
    /// Set once the handshake was accepted.
    var member: Member?
    /// Set once we refused it: later frames are ignored while the refusal flushes.
    var refused = false
    var timer: TimerHandle?

    init(connection: TCPConnection) { self.connection = connection }
}
