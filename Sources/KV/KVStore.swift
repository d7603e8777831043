/// The key-value map itself: runs commands, knows nothing about sessions.
public struct KVStore: Sendable, Equatable {
    public internal(set) var data: [[UInt8]: [UInt8]] = [:]

    public init() {}

    public var count: Int { data.count }

    public func value(for key: [UInt8]) -> [UInt8]? { data[key] }

    mutating func execute(_ cmd: KVCommand, at index: UInt64) -> KVResult {
        switch cmd {
        case let .put(k, v):
            data[k] = v
            return .stored(revision: index)
        case let .get(k):
            return .value(data[k])
        case let .delete(k):
            return .deleted(count: data.removeValue(forKey: k) == nil ? 0 : 1)
        }
    }
}
