import Transport
import Wire

/// One TCP connection to one server with any number of calls in flight, matched to replies
/// by request id (replies may arrive in any order).
///
/// Loop-confined: every member is used on `loop`'s thread only (entry points assert it).
/// `@unchecked Sendable` only so that timer closures, which run on the same loop, may
/// capture it.
final class ClientConnection: @unchecked Sendable {
    typealias Completion = @Sendable (Result<ClientReply, CallFailure>) -> Void

    private struct Pending {
        let completion: Completion
        let timer: TimerHandle
        /// Written to the socket (false while still dialing).
        var sent: Bool
    }

    private enum State {
        case connecting(ConnectAttempt?)
        case open(TCPConnection)
        case closed
    }

    let endpoint: SocketAddress
    private let loop: EventLoop
    private var state: State = .connecting(nil)
    private var pending: [UInt64: Pending] = [:]
    /// Frames waiting for the dial to finish, in call order.
    private var queued: [(id: UInt64, frame: [UInt8])] = []
    private var decoder = FrameDecoder(channel: .client)
    /// Called once when the connection is finished, so the owner can forget it.
    var onFinished: (() -> Void)?

    init(loop: EventLoop, endpoint: SocketAddress, dialTimeoutMilliseconds: Int) {
        loop.assertInLoop()
        self.loop = loop
        self.endpoint = endpoint
        let attempt = TCPConnection.connect(to: endpoint, on: loop, timeoutMilliseconds: dialTimeoutMilliseconds) {
            [weak self] result in self?.dialed(result)
        }
        if case .connecting = state { state = .connecting(attempt) }
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    var inFlight: Int { pending.count }

    /// Sends `call` as request `id`; `completion` runs exactly once on the loop.
    func send(id: UInt64, call: ClientCall, timeoutMilliseconds: Int, completion: @escaping Completion) {
        loop.assertInLoop()
        // The server learns how long we wait (docs/protocol.md, "Deadlines") and answers
        // `timeout` just before we would give up, instead of working on for nobody.
        let frame = call.encodedFrame(requestID: id, options: CallOptions(deadlineMilliseconds: UInt64(max(timeoutMilliseconds, 0))))
        let timer = loop.schedule(after: timeoutMilliseconds) { [weak self] in
            self?.finish(id) { .failure(.timedOut(milliseconds: timeoutMilliseconds, sent: $0)) }
        }
        switch state {
        case .closed:
            timer.cancel()
            completion(.failure(.connectionLost(nil, sent: false)))
        case .connecting:
            pending[id] = Pending(completion: completion, timer: timer, sent: false)
            queued.append((id, frame))
        case let .open(conn):
            pending[id] = Pending(completion: completion, timer: timer, sent: true)
            if !conn.write(frame) { close(nil) }
        }
    }

    /// Completes request `id` with `.cancelled` if it is still waiting.
    func cancel(_ id: UInt64) {
        loop.assertInLoop()
        finish(id) { .failure(.cancelled(sent: $0)) }
    }

    /// Closes the connection; every waiting call fails with `connectionLost`.
    func close(_ error: TransportError?) {
        loop.assertInLoop()
        switch state {
        case .closed: return
        case let .connecting(attempt): attempt?.cancel()
        case let .open(conn):
            conn.onClose = nil
            conn.onBytes = nil
            conn.close()
        }
        state = .closed
        failAll { .connectionLost(error, sent: $0) }
    }

    // MARK: Internals

    private func dialed(_ result: Result<TCPConnection, TransportError>) {
        guard case .connecting = state else {
            if case let .success(conn) = result { conn.close() }
            return
        }
        switch result {
        case let .failure(error):
            state = .closed
            failAll { _ in .dial(error) }
        case let .success(conn):
            state = .open(conn)
            conn.onBytes = { [weak self] bytes in self?.received(bytes) }
            conn.onClose = { [weak self] error in
                guard let self, !self.isClosed else { return }
                self.state = .closed
                self.failAll { .connectionLost(error, sent: $0) }
            }
            let frames = queued
            queued = []
            for (id, frame) in frames where pending[id] != nil {
                pending[id]?.sent = true
                if !conn.write(frame) { return close(nil) }
            }
        }
    }

    private func received(_ bytes: [UInt8]) {
        do {
            try decoder.feed(bytes)
            while let frame = try decoder.next() {
                handle(frame)
                if isClosed { return }
            }
        } catch {
            // Framing is lost: nothing after this point can be trusted.
            failAll { _ in .protocolError("reply stream from \(self.endpoint) is broken: \(error)") }
            close(nil)
        }
    }

    private func handle(_ frame: Frame) {
        let reply: ClientReply
        do {
            reply = try ClientReply.decode(frame)
        } catch {
            finish(frame.requestID) { _ in .failure(.protocolError("undecodable reply from \(self.endpoint): \(error)")) }
            return
        }
        if frame.requestID == 0, case let .error(e) = reply {
            // A stream-level error from the server (it is about to close the connection).
            failAll { _ in .serverClosed(e) }
            close(nil)
            return
        }
        // An unknown id is a reply to a call that already timed out or was cancelled.
        finish(frame.requestID) { _ in .success(reply) }
    }

    private func finish(_ id: UInt64, _ outcome: (Bool) -> Result<ClientReply, CallFailure>) {
        guard let p = pending.removeValue(forKey: id) else { return }
        p.timer.cancel()
        p.completion(outcome(p.sent))
        if isClosed && pending.isEmpty { reportFinished() }
    }

    private func failAll(_ failure: (Bool) -> CallFailure) {
        let all = pending
        pending = [:]
        queued = []
        for (_, p) in all.sorted(by: { $0.key < $1.key }) {
            p.timer.cancel()
            p.completion(.failure(failure(p.sent)))
        }
        reportFinished()
    }

    private func reportFinished() {
        let f = onFinished
        onFinished = nil
        f?()
    }
}
