/// A binary min-heap: the event queue of the simulated network and the timer queue of the
/// event loop. `Element`'s `<` decides the order; ties must be broken by the caller (both
/// users compare (time, sequence), so equal times pop in insertion order).
/// Everything is @inlinable so callers in other modules get a specialized heap: it sits on
/// the simulator's hottest path.
public struct MinHeap<Element: Comparable> {
    @usableFromInline var elements: [Element] = []

    @inlinable public init() {}

    @inlinable public var isEmpty: Bool { elements.isEmpty }
    @inlinable public var count: Int { elements.count }
    /// The smallest element, if any.
    @inlinable public var first: Element? { elements.first }

    @inlinable public mutating func insert(_ e: Element) {
        elements.append(e)
        siftUp(elements.count - 1)
    }

    /// Removes and returns the smallest element. Precondition: not empty.
    @inlinable @discardableResult
    public mutating func popFirst() -> Element {
        precondition(!elements.isEmpty, "pop from an empty heap")
        let top = elements[0]
        let last = elements.removeLast()
        if !elements.isEmpty {
            elements[0] = last
            siftDown(0)
        }
        return top
    }

    /// Removes every element matching `shouldRemove`, then restores the heap order in O(n).
    @inlinable public mutating func removeAll(where shouldRemove: (Element) throws -> Bool) rethrows {
        try elements.removeAll(where: shouldRemove)
        if elements.count > 1 {
            for i in stride(from: elements.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }
    }

    @inlinable public mutating func removeAll() { elements.removeAll() }

    @inlinable mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard elements[i] < elements[parent] else { return }
            elements.swapAt(i, parent)
            i = parent
        }
    }

    @inlinable mutating func siftDown(_ index: Int) {
        var i = index
        let n = elements.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < n && elements[l] < elements[smallest] { smallest = l }
            if r < n && elements[r] < elements[smallest] { smallest = r }
            if smallest == i { return }
            elements.swapAt(i, smallest)
            i = smallest
        }
    }
}
