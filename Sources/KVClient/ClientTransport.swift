import Synchronization
import Transport
import Wire

/// The client's I/O: its own event loop thread and one connection per endpoint, shared by
/// all calls. `call` is the only entry point and may be used from any task.
///
/// `@unchecked Sendable`: `connections` is loop-confined (touched only inside `loop.execute`
/// closures and connection callbacks, all on the loop thread); `nextID` is atomic; the rest
/// is immutable.
final class ClientTransport: @unchecked Sendable {
    let loop: EventLoop
    private let dialTimeoutMilliseconds: Int
    private let nextID = Atomic<UInt64>(1)
    private var connections: [SocketAddress: ClientConnection] = [:]

    init(dialTimeout: Duration) throws(KVClientError) {
        do {
            loop = try EventLoop()
        } catch {
            throw .unavailable("cannot start the client event loop: \(error)")
        }
        dialTimeoutMilliseconds = max(1, dialTimeout.milliseconds)
        loop.start(name: "kvclient-loop")
    }

    /// Sends one call to `endpoint` (dialing if needed) and waits for its reply, the timeout,
    /// or task cancellation. Never throws: every failure is a `CallFailure`.
    func call(_ call: ClientCall, to endpoint: SocketAddress, timeout: Duration) async -> Result<ClientReply, CallFailure> {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let timeoutMs = max(1, timeout.milliseconds)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<Result<ClientReply, CallFailure>, Never>) in
                do {
                    try loop.execute { [self] in
                        connection(to: endpoint).send(id: id, call: call, timeoutMilliseconds: timeoutMs) {
                            cont.resume(returning: $0)
                        }
                    }
                } catch {
                    cont.resume(returning: .failure(.loopShutdown))
                }
            }
        } onCancel: {
            try? loop.execute { [self] in connections[endpoint]?.cancel(id) }
        }
    }

    /// Drops the connection to `endpoint` (e.g. after a node stopped answering), failing
    /// its other calls so they retry elsewhere.
    func disconnect(_ endpoint: SocketAddress) {
        try? loop.execute { [self] in connections[endpoint]?.close(nil) }
    }

    /// Closes every connection and stops the loop thread; waiting calls fail. Idempotent.
    func shutdown() {
        loop.shutdown()
    }

    private func connection(to endpoint: SocketAddress) -> ClientConnection {
        loop.assertInLoop()
        if let c = connections[endpoint], !c.isClosed { return c }
        let c = ClientConnection(loop: loop, endpoint: endpoint, dialTimeoutMilliseconds: dialTimeoutMilliseconds)
        c.onFinished = { [weak self, weak c] in
            guard let self, let c, self.connections[endpoint] === c else { return }
            self.connections[endpoint] = nil
        }
        connections[endpoint] = c
        return c
    }
}
