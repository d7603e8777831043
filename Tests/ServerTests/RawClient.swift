import Dispatch
import Foundation
import Synchronization
import Transport
import Wire
import XCTest

/// A bare test client on its own EventLoop: writes raw bytes or frames to any port and
/// collects every frame that comes back, so tests can send garbage as easily as calls.
final class RawClient: @unchecked Sendable {
    // @unchecked Sendable: `connection` and `decoder` are loop-confined (touched only in loop
    // tasks and connection callbacks); `state` is a Mutex; `loop` and `changed` are thread-safe.
    let loop: EventLoop
    private var connection: TCPConnection?
    private var decoder = FrameDecoder(channel: .any)

    private struct State {
        var frames: [Frame] = []
        var closed = false
        var decodeError: WireError?
    }
    private let state = Mutex(State())
    private let changed = DispatchSemaphore(value: 0)

    init(_ address: SocketAddress, timeout: TimeInterval = 5) throws {
        loop = try EventLoop()
        loop.start(name: "raw-client")
        let connected = DispatchSemaphore(value: 0)
        let outcome = Mutex<TransportError?>(nil)
        try loop.submitAndWait { [self] in
            _ = TCPConnection.connect(to: address, on: loop, timeoutMilliseconds: Int(timeout * 1000)) { [self] result in
                switch result {
                case let .success(c):
                    connection = c
                    c.onBytes = { [self] bytes in received(bytes) }
                    c.onClose = { [self] _ in
                        state.withLock { $0.closed = true }
                        changed.signal()
                    }
                case let .failure(e):
                    outcome.withLock { $0 = e }
                }
                connected.signal()
            }
        }
        connected.wait()
        if let e = outcome.withLock({ $0 }) { throw e }
    }

    deinit { loop.shutdown() }

    func close() {
        try? loop.submitAndWait { [self] in connection?.close() }
        loop.shutdown()
    }

    private func received(_ bytes: [UInt8]) {
        do {
            let frames = try decoder.decode(bytes)
            state.withLock { $0.frames += frames }
        } catch {
            state.withLock { $0.decodeError = error }
        }
        changed.signal()
    }

    func send(_ bytes: [UInt8]) {
        try? loop.execute { [self] in connection?.write(bytes) }
    }

    func send(_ call: ClientCall, id: UInt64) {
        send(call.encodedFrame(requestID: id))
    }

    /// Waits until `predicate` holds over what arrived, or the deadline passes.
    @discardableResult
    private func waitFor(timeout: TimeInterval, _ predicate: (State) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if state.withLock({ predicate($0) }) { return true }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            _ = changed.wait(timeout: .now() + min(left, 0.05))
        }
    }

    /// The frame answering request `id` (client replies) or nil on timeout.
    func frame(id: UInt64, type: FrameType = .clientReply, timeout: TimeInterval = 10) -> Frame? {
        var found: Frame?
        waitFor(timeout: timeout) { s in
            found = s.frames.first { $0.requestID == id && $0.type == type }
            return found != nil
        }
        return found
    }

    func reply(id: UInt64, timeout: TimeInterval = 10) throws -> ClientReply {
        guard let f = frame(id: id, timeout: timeout) else {
            throw NoReply(description: "no reply to request \(id) within \(timeout)s")
        }
        return try ClientReply.decode(f)
    }

    func call(_ call: ClientCall, id: UInt64, timeout: TimeInterval = 10) throws -> ClientReply {
        send(call, id: id)
        return try reply(id: id, timeout: timeout)
    }

    /// Every frame received so far.
    var frames: [Frame] { state.withLock { $0.frames } }

    func waitForClose(timeout: TimeInterval = 10) -> Bool {
        waitFor(timeout: timeout) { $0.closed }
    }

    func waitForFrames(_ n: Int, timeout: TimeInterval = 10) -> Bool {
        waitFor(timeout: timeout) { $0.frames.count >= n }
    }
}

struct NoReply: Error, CustomStringConvertible {
    var description: String
}
