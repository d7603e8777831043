import ClientCore
import KV
import XCTest

/// The client's pure state machine: what KVClient and the simulator's clients both run.
final class ClientCoreTests: XCTestCase {
    private let put = KVCommand.put(key: [1], value: [2])

    private func slot(_ s: inout ClientSession, file: StaticString = #filePath, line: UInt = #line) -> SessionSlot? {
        guard case let .go(slot) = s.start() else { XCTFail("no slot", file: file, line: line); return nil }
        return slot
    }

    func testFirstCallRegistersAndOthersWait() {
        var s = ClientSession(window: 4)
        XCTAssertEqual(s.start(), .register)
        XCTAssertEqual(s.start(), .wait, "one registration at a time")
        s.registrationFailed()
        XCTAssertEqual(s.start(), .register, "a failed registration is retried by the next call")
        s.registered(17)
        XCTAssertEqual(s.start(), .go(SessionSlot(sessionID: 17, sequence: 1)))
        XCTAssertEqual(s.start(), .go(SessionSlot(sessionID: 17, sequence: 2)))
    }

    func testWindowBoundsUnacknowledgedSequencesAndFloorFollowsTheOldest() throws {
        var s = ClientSession(window: 3)
        _ = s.start(); s.registered(5)
        let a = try XCTUnwrap(slot(&s)), b = try XCTUnwrap(slot(&s)), c = try XCTUnwrap(slot(&s))
        XCTAssertEqual(s.start(), .wait, "window of 3 is full")
        s.finish(b)
        XCTAssertEqual(s.start(), .wait, "the oldest (1) is still unanswered")
        XCTAssertEqual(s.request(c, put).firstUnacknowledged, 1)
        s.finish(a)
        XCTAssertEqual(s.request(c, put).firstUnacknowledged, 3)
        let d = try XCTUnwrap(slot(&s))
        XCTAssertEqual(d.sequence, 4)
        // The floor sent with a call never exceeds the call's own sequence.
        s.finish(c)
        XCTAssertEqual(s.request(c, put).firstUnacknowledged, 3, "a retry of 3 after it finished still carries floor <= 3")
        XCTAssertEqual(s.request(d, put).firstUnacknowledged, 4)
    }

    func testExpiredSessionIsReplacedAndOldSlotsAreIgnored() throws {
        var s = ClientSession(window: 8)
        _ = s.start(); s.registered(5)
        let old = try XCTUnwrap(slot(&s))
        s.expired(99)
        XCTAssertEqual(s.sessionID, 5, "another session's expiry changes nothing")
        s.expired(5)
        XCTAssertNil(s.sessionID)
        XCTAssertEqual(s.start(), .register)
        s.registered(40)
        s.finish(old)  // late finish from the old session
        let fresh = try XCTUnwrap(slot(&s))
        XCTAssertEqual(fresh, SessionSlot(sessionID: 40, sequence: 1))
        XCTAssertEqual(s.request(old, put).clientID, 5, "a retry stays in the session it was sent in")
        XCTAssertEqual(s.request(old, put).firstUnacknowledged, old.sequence)
    }

    private func core() -> ClientCore<Int> {
        ClientCore(endpoints: [1, 2, 3], window: 8, policy: RetryPolicy(backoffMin: .milliseconds(10), backoffMax: .milliseconds(40)),
                   downMin: .milliseconds(50), downMax: .milliseconds(200))
    }

    func testRedirectsAreFollowedAndIDOnlyHintsAskForTheMemberList() throws {
        var c = core()
        var call = CallRetry(now: .zero, timeout: .seconds(1), policy: c.policy)
        XCTAssertEqual(try c.target(now: .zero).get(), 1)
        XCTAssertEqual(c.handle(.notLeader(leaderID: 3, leader: 3), at: 1, call: &call, now: .zero), .retry(after: .zero))
        XCTAssertEqual(try c.target(now: .zero).get(), 3)
        XCTAssertEqual(c.handle(.notLeader(leaderID: 2, leader: nil), at: 3, call: &call, now: .zero), .learnMembers)
        c.router.learnMembers([(id: 2, endpoint: 2)])
        XCTAssertEqual(c.handle(.notLeader(leaderID: 2, leader: nil), at: 3, call: &call, now: .zero, afterLearning: true), .retry(after: .zero))
        XCTAssertEqual(try c.target(now: .zero).get(), 2)
        c.succeeded(at: 2)
        XCTAssertEqual(c.router.leader, 2)
    }

    func testBackoffDoublesUpToItsMaxAndStopsAtTheDeadline() {
        var c = core()
        var call = CallRetry(now: .zero, timeout: .milliseconds(100), policy: c.policy)
        let waits = (0..<4).map { _ in c.handle(.busy, at: 1, call: &call, now: .zero) }
        XCTAssertEqual(waits, [10, 20, 40, 40].map { .retry(after: .milliseconds($0)) })
        XCTAssertEqual(c.handle(.busy, at: 1, call: &call, now: .milliseconds(95)), .retry(after: .milliseconds(5)), "never past the deadline")
        XCTAssertTrue(call.expired(now: .milliseconds(100)))
        var forever = CallRetry(now: .zero, timeout: nil, policy: c.policy)
        XCTAssertFalse(forever.expired(now: .seconds(1_000_000)))
        XCTAssertEqual(c.handle(.busy, at: 1, call: &forever, now: .zero), .retry(after: .milliseconds(10)))
    }

    func testUnresponsiveEndpointsAreSkippedUntilTheyComeBack() throws {
        var c = core()
        var call = CallRetry(now: .zero, timeout: nil, policy: c.policy)
        c.succeeded(at: 1)
        XCTAssertEqual(c.handle(.timedOut, at: 1, call: &call, now: .zero), .retry(after: .zero))
        XCTAssertNil(c.router.leader, "a leader that stopped answering is forgotten")
        let next = try c.target(now: .zero).get()
        XCTAssertNotEqual(next, 1)
        _ = c.handle(.dialFailed, at: 2, call: &call, now: .zero)
        _ = c.handle(.dialFailed, at: 3, call: &call, now: .zero)
        guard case let .failure(wait) = c.target(now: .milliseconds(1)) else { return XCTFail("all endpoints are down") }
        XCTAssertEqual(wait.time, .milliseconds(50))
        XCTAssertNoThrow(try c.target(now: .milliseconds(50)).get(), "back after the down time")
        _ = c.handle(.dialFailed, at: 1, call: &call, now: .milliseconds(50))
        let picks = (0..<4).compactMap { _ in try? c.target(now: .milliseconds(140)).get() }
        XCTAssertEqual(picks.count, 4)
        XCTAssertFalse(picks.contains(1), "a second failure doubles the down time (100 ms from 50)")
        XCTAssertTrue((0..<3).contains { _ in (try? c.target(now: .milliseconds(150)).get()) == 1 })
    }

    func testRedirectStreakSlowsDown() {
        var c = core()
        var call = CallRetry(now: .zero, timeout: nil, policy: c.policy)
        var decisions: [RetryDecision] = []
        for i in 0..<5 { decisions.append(c.handle(.notLeader(leaderID: 1, leader: [2, 3][i % 2]), at: [3, 2][i % 2], call: &call, now: .zero)) }
        XCTAssertEqual(Array(decisions.prefix(3)), [.retry(after: .zero), .retry(after: .zero), .retry(after: .zero)])
        XCTAssertEqual(decisions[3], .retry(after: .milliseconds(10)), "ping-pong hints back off after three")
    }

    func testEachTimedOutAttemptDoublesTheNextAttemptsTimeoutUpToEightTimes() {
        var c = core()
        var call = CallRetry(now: .zero, timeout: nil, policy: c.policy)
        var seen: [Duration] = [call.attemptTimeout(base: .milliseconds(100))]
        for e in [1, 2, 3, 1, 2] {
            // A server's `timeout` answer counts like a silent attempt.
            _ = c.handle(e == 2 ? .serverTimedOut : .timedOut, at: e, call: &call, now: .zero)
            seen.append(call.attemptTimeout(base: .milliseconds(100)))
        }
        XCTAssertEqual(seen, [100, 200, 400, 800, 800, 800].map { .milliseconds($0) })
        _ = c.handle(.busy, at: 1, call: &call, now: .zero)
        XCTAssertEqual(call.attemptTimeout(base: .milliseconds(100)), .milliseconds(800), "only timeouts change it")
    }
}
