import Heap
import XCTest

final class MinHeapTests: XCTestCase {
    private struct Item: Comparable {
        var time: Int
        var seq: Int
        static func < (a: Item, b: Item) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }
    }

    func testPopsInOrderWithTiesInInsertionOrder() {
        var h = MinHeap<Item>()
        var x: UInt64 = 99
        var inserted: [Item] = []
        for seq in 0..<500 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let item = Item(time: Int(x >> 58), seq: seq)   // many equal times
            inserted.append(item)
            h.insert(item)
        }
        var out: [Item] = []
        while !h.isEmpty { out.append(h.popFirst()) }
        XCTAssertEqual(out, inserted.sorted())
    }

    func testRemoveAllWhereKeepsHeapOrder() {
        var h = MinHeap<Item>()
        for i in 0..<200 { h.insert(Item(time: (i * 37) % 101, seq: i)) }
        h.removeAll { $0.seq % 3 == 0 }
        XCTAssertEqual(h.count, 200 - 67)
        var last: Item?
        while !h.isEmpty {
            let e = h.popFirst()
            XCTAssertNotEqual(e.seq % 3, 0)
            if let l = last { XCTAssertFalse(e < l, "popped out of order") }
            last = e
        }
    }
}
