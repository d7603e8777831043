/// Bytes waiting to be sent, kept contiguous so a flush is one send() of everything queued
/// (this is what coalesces many small writes). Consumed bytes are reclaimed once they make up
/// half the storage, so compaction costs O(1) amortized per byte.
struct OutboundBuffer {
    private var storage: [UInt8] = []
    private var start = 0

    var count: Int { storage.count - start }
    var isEmpty: Bool { start == storage.count }

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start >= storage.count / 2 {
            storage.removeSubrange(0..<start)
            start = 0
        }
        storage.append(contentsOf: bytes)
    }

    mutating func consume(_ n: Int) {
        start += n
        if start >= storage.count {
            // Keep modest capacity for the next burst; give back what a big write grew.
            storage.removeAll(keepingCapacity: storage.capacity <= 1 << 20)
            start = 0
        }
    }

    mutating func removeAll() {
        storage = []
        start = 0
    }

    func withUnsentBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }
}
