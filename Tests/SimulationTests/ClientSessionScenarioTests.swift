import Simulation
import SimulateCommand
import XCTest

/// The simulator's clients run `ClientCore`, the real client's state machine: pipelined
/// windows, retries through leader changes, and sessions evicted while their owners retry.
/// The linearizability checker and the clients' applied-once check judge every run.
final class ClientSessionScenarioTests: XCTestCase {
    private func config(seed: UInt64, window: UInt64, churn: Bool) -> SimulationConfig {
        var c = SimulationConfig()
        c.seed = seed
        c.nodes = 5
        c.clients = 4
        c.faultTicks = 1_200
        c.faults = [.crashes, .partitions, .drops, .duplicates, .pauses]
        c.window = window
        c.sessionChurn = churn
        return c
    }

    private func replay(_ c: SimulationConfig) -> String {
        "replay: " + (["swift", "run", "-c", "release", "simulate"] + SimulateArguments.replayFlags(seed: c.seed, c)).joined(separator: " ")
    }

    func testWindowOfEightRetriesThroughLeaderChangesAndAppliesExactlyOnce() {
        var pipelined = 0, retried = 0
        for seed in UInt64(1)...3 {
            let c = config(seed: 7_100 + seed, window: 8, churn: false)
            let r = runSimulation(c)
            XCTAssertNil(r.failure, "\(replay(c)): \(r.failure ?? "")\n" + r.lastEvents.suffix(20).joined(separator: "\n"))
            XCTAssertGreaterThan(r.operations, 100, "\(replay(c)): work completed")
            XCTAssertGreaterThan(r.maxTerm, 2, "\(replay(c)): leadership changed during the run")
            if r.maxInFlight >= 8 { pipelined += 1 }
            if r.retries > 0 { retried += 1 }
        }
        XCTAssertEqual(pipelined, 3, "every run had a client with 8 requests in flight at once")
        XCTAssertEqual(retried, 3, "every run retried requests")
    }

    func testEvictedSessionsRetriesExpireAndAreNeverApplied() {
        var expired = 0
        for seed in UInt64(1)...4 {
            let c = config(seed: 7_200 + seed, window: 4, churn: true)
            let r = runSimulation(c)
            XCTAssertNil(r.failure, "\(replay(c)): \(r.failure ?? "")\n" + r.lastEvents.suffix(20).joined(separator: "\n"))
            expired += r.expirations
        }
        XCTAssertGreaterThan(expired, 0, "the churn workload evicted sessions whose owners were still retrying")
    }
}
