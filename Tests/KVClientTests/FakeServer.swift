import Foundation
import KV
import Synchronization
import Transport
import Wire
import XCTest

/// Thread-safe box for values shared between the fake server's loop and the test.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    @discardableResult
    func with<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// How the fake answers one call. Runs on the server's loop thread.
struct Responder: Sendable {
    fileprivate let send: @Sendable (ClientReply) -> Void
    fileprivate let loop: EventLoop
    fileprivate let drop: @Sendable () -> Void

    func reply(_ r: ClientReply) { send(r) }
    func reply(after milliseconds: Int, _ r: ClientReply) {
        let send = self.send
        loop.schedule(after: milliseconds) { send(r) }
    }
    /// Closes the client's connection without answering.
    func closeConnection() { drop() }
}

/// A tiny in-process client-port server built from Transport + Wire. Its behaviour is a
/// closure, so each test scripts redirects, silence, errors or reordering.
final class FakeServer: Sendable {
    typealias Behaviour = @Sendable (_ call: ClientCall, _ requestID: UInt64, _ respond: Responder) -> Void

    let loop: EventLoop
    let port: Int
    var address: String { "127.0.0.1:\(port)" }
    /// Every call received, in arrival order (registrations excepted, see `registrations`).
    let calls = Locked<[ClientCall]>([])
    let behaviour: Locked<Behaviour>
    /// Session registrations answered (the fake answers them itself unless
    /// `passRegistrations`, with ids 1000, 1001, ...).
    let registrations = Locked<UInt64>(0)
    let passRegistrations = Locked(false)

    init(_ test: XCTestCase, behaviour: @escaping Behaviour) throws {
        let loop = try EventLoop()
        loop.start(name: "fake-server")
        test.addTeardownBlock { loop.shutdown() }
        self.loop = loop
        let calls = self.calls
        let registrations = self.registrations, passRegistrations = self.passRegistrations
        let box = Locked<Behaviour>(behaviour)
        self.behaviour = box
        port = try loop.submitAndWait {
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { conn in
                let decoder = Locked(FrameDecoder(channel: .client))
                conn.onBytes = { [unowned conn] bytes in
                    let frames: [Frame]
                    do {
                        frames = try decoder.with { d -> Result<[Frame], WireError> in
                            Result { () throws(WireError) in try d.decode(bytes) }
                        }.get()
                    } catch {
                        conn.write((error as! WireError).clientErrorFrame())
                        conn.closeAfterFlush()
                        return
                    }
                    for f in frames {
                        let id = f.requestID
                        guard let call = try? ClientCall.decode(f) else {
                            conn.write(ClientReply.error(.badRequest("undecodable")).encodedFrame(requestID: id))
                            continue
                        }
                        if call == .register, !passRegistrations.value {
                            let n = registrations.with { $0 += 1; return $0 }
                            conn.write(ClientReply.kv(.registered(clientID: 999 + n)).encodedFrame(requestID: id))
                            continue
                        }
                        calls.with { $0.append(call) }
                        // Connection objects are loop-confined; the responder only uses them on the loop.
                        let unsafeConn = UnsafeTransfer(conn)
                        let responder = Responder(
                            send: { r in
                                if loop.inLoop { unsafeConn.value.write(r.encodedFrame(requestID: id)) }
                                else { try? loop.execute { unsafeConn.value.write(r.encodedFrame(requestID: id)) } }
                            },
                            loop: loop,
                            drop: { try? loop.execute { unsafeConn.value.close() } })
                        box.value(call, id, responder)
                    }
                }
            }
            return listener.port
        }
    }

    func setBehaviour(_ b: @escaping Behaviour) { behaviour.with { $0 = b } }

    /// The ClientRequests received, in order.
    var requests: [ClientRequest] {
        calls.value.compactMap { if case let .kv(r) = $0 { return r } else { return nil } }
    }
}

/// Moves a loop-confined reference into a Sendable closure; sound because the closures
/// that use it run on that loop.
struct UnsafeTransfer<T: AnyObject>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A behaviour that is a working single-node store.
func storeBehaviour(_ data: Locked<[[UInt8]: [UInt8]]> = Locked([:]), revision: Locked<UInt64> = Locked(0)) -> FakeServer.Behaviour {
    { call, _, respond in
        switch call {
        case let .kv(req):
            let result: KVResult
            switch req.command {
            case let .put(k, v):
                data.with { $0[k] = v }
                result = .stored(revision: revision.with { $0 += 1; return $0 })
            case let .get(k): result = .value(data.value[k])
            case let .delete(k): result = .deleted(count: data.with { $0.removeValue(forKey: k) == nil ? 0 : 1 })
            }
            respond.reply(.kv(result))
        case .status:
            respond.reply(.status(StatusInfo(name: "fake", id: 1, role: .leader, term: 1, leaderID: 1, leaderName: "fake",
                                             commitIndex: 1, appliedIndex: 1, logSize: 1, firstIndex: 1, lastIndex: 1)))
        case .memberList:
            respond.reply(.members([]))
        case .register:
            respond.reply(.kv(.registered(clientID: 7)))
        case .hello:
            respond.reply(.error(.badRequest("the fake server does not negotiate")))
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound then closed).
func closedPort() throws -> Int {
    let loop = try EventLoop()
    loop.start()
    defer { loop.shutdown() }
    return try loop.submitAndWait {
        let l = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
        let p = l.port
        l.close()
        return p
    }
}
