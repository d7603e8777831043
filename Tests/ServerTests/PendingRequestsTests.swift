@testable import Server
import XCTest

final class PendingRequestsTests: XCTestCase {
    func testPendingRequestsExpireInOrderAndForgetAnswered() {
        var p = PendingRequests(capacity: 3)
        for i in 1...3 {
            let t = p.makeToken()
            p.add(token: t, .init(connection: 1, requestID: UInt64(i), deadline: UInt64(i * 10)))
        }
        XCTAssertTrue(p.isFull)
        XCTAssertEqual(p.remove(2)?.requestID, 2)
        XCTAssertEqual(p.expire(now: 25).map(\.request.requestID), [1])
        XCTAssertEqual(p.expire(now: 100).map(\.request.requestID), [3])
        XCTAssertEqual(p.count, 0)
    }
}
