import Dispatch
import Foundation
import KVClient
import Linearizability
import Synchronization
import XCTest

/// Concurrent clients against real processes while a nemesis kills, pauses and restarts
/// members; the history must be linearizable and no acknowledged write may be lost.
final class NemesisTests: XCTestCase {
    func testConcurrentClientsUnderKillPauseRestartAreLinearizable() async throws {
        let cluster = try ProcessCluster(self, size: 3)
        _ = try await cluster.waitForLeader()
        let history = SharedHistory()
        let stop = StopFlag()
        let registers = (0..<6).map { Array("reg\($0)".utf8) }
        let clientCount = 4
        let runFor: Duration = .seconds(15)

        async let workload = Self.runClients(clientCount, cluster: cluster, registers: registers, history: history, stop: stop)

        let faults = try await Self.runNemesis(cluster: cluster, for: runFor)
        stop.set()
        let ownKeys = try await workload

        // Heal everything, then read every register once more (part of the history) and
        // every acknowledged private key.
        for n in cluster.nodes { n.resume(); if !n.isRunning { try n.start() } }
        _ = try await cluster.waitForLeader()
        let reader = try cluster.client(commandTimeout: .seconds(15))
        defer { reader.close() }
        for key in registers {
            let id = history.invoke(client: 99, kind: .get(key: key))
            let v = try await reader.get(key)
            history.complete(id, .value(v))
        }
        for (k, v) in ownKeys {
            let got = try await reader.get(k)
            XCTAssertEqual(got, v, "acknowledged write \(k)=\(v) lost")
        }

        let ops = history.operations
        let answered = ops.filter { $0.outcome != .unknown }.count
        print("nemesis: \(faults.joined(separator: ", "))")
        print("history: \(ops.count) operations, \(answered) answered, \(ownKeys.count) acknowledged private writes")
        XCTAssertGreaterThan(answered, 100, "too few operations completed for the check to mean much")
        switch LinearizabilityChecker.check(ops) {
        case .linearizable: break
        case let .notLinearizable(_, explanation): XCTFail("not linearizable:\n\(explanation)\n\(cluster.logs())")
        case let .unknown(reason): XCTFail("checker gave up: \(reason)")
        }
    }

    private static func runClients(_ count: Int, cluster: ProcessCluster, registers: [[UInt8]],
                                   history: SharedHistory, stop: StopFlag) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: [String: String].self) { group in
            for c in 1...count {
                group.addTask {
                    try await runClient(UInt64(c), cluster: cluster, registers: registers, history: history, stop: stop)
                }
            }
            var acked: [String: String] = [:]
            for try await a in group { acked.merge(a) { $1 } }
            return acked
        }
    }

    /// One client session: random puts/gets/deletes on shared registers, plus puts to its own
    /// keys whose acknowledgements are remembered for the lost-write check.
    private static func runClient(_ c: UInt64, cluster: ProcessCluster, registers: [[UInt8]],
                                  history: SharedHistory, stop: StopFlag) async throws -> [String: String] {
        let client = try cluster.client(commandTimeout: .seconds(3), attemptTimeout: .milliseconds(500))
        defer { client.close() }
        var acked: [String: String] = [:]
        var rng = SystemRandomNumberGenerator()
        var i = 0
        while !stop.isSet {
            i += 1
            if i % 5 == 0 {
                let k = "own-\(c)-\(i)", v = "v\(i)"
                if (try? await client.put(k, v)) != nil { acked[k] = v }
                continue
            }
            let key = registers.randomElement(using: &rng)!
            let roll = Int.random(in: 0..<100, using: &rng)
            if roll < 50 {
                let value = Array("c\(c)-\(i)".utf8)
                let id = history.invoke(client: c, kind: .put(key: key, value: value))
                do { try await client.put(key, value); history.complete(id, .ok) } catch { history.giveUp(id) }
            } else if roll < 92 {
                let id = history.invoke(client: c, kind: .get(key: key))
                do { history.complete(id, .value(try await client.get(key))) } catch { history.giveUp(id) }
            } else {
                let id = history.invoke(client: c, kind: .delete(key: key))
                do { history.complete(id, .deleted(try await client.delete(key))) } catch { history.giveUp(id) }
            }
        }
        return acked
    }

    /// One fault at a time, so a quorum survives: SIGKILL + restart, SIGSTOP the leader +
    /// SIGCONT, or a graceful restart. Returns what it did.
    private static func runNemesis(cluster: ProcessCluster, for duration: Duration) async throws -> [String] {
        let end = ContinuousClock.now + duration
        var done: [String] = []
        var step = 0
        while ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(Int.random(in: 700...1200)))
            step += 1
            let victim = cluster.nodes.randomElement()!
            switch step % 3 {
            case 1:
                victim.kill()
                done.append("kill \(victim.name)")
                try await Task.sleep(for: .milliseconds(800))
                try victim.start()
            case 2:
                let statuses = await cluster.statuses()
                let leader = statuses.first { "\($0.value.role)" == "leader" }.map { cluster.nodes[$0.key] } ?? victim
                leader.pause()
                done.append("pause \(leader.name)")
                try await Task.sleep(for: .milliseconds(1000))
                leader.resume()
            default:
                victim.stop()
                done.append("restart \(victim.name)")
                try victim.start()
            }
        }
        return done
    }
}

/// The recorder behind a lock, stamping times from the monotonic clock (nanoseconds).
final class SharedHistory: Sendable {
    private let recorder = Mutex(HistoryRecorder())

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func invoke(client: UInt64, kind: KVOperationKind) -> Int {
        recorder.withLock { $0.invoke(client: client, kind: kind, at: Self.now()) }
    }

    func complete(_ id: Int, _ outcome: KVOperationOutcome) {
        let t = Self.now()
        recorder.withLock { $0.complete(id: id, outcome: outcome, at: t) }
    }

    func giveUp(_ id: Int) { recorder.withLock { $0.giveUp(id: id) } }

    var operations: [HistoryOperation] { recorder.withLock { $0.operations } }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
