import Raft
import Transport

/// Parses `--initial-cluster n1=host:port,n2=host:port,...`. Ids are 1-based positions, so
/// every member must be given the same list in the same order.
public enum InitialCluster {
    public static func parse(_ text: String) throws(ServerError) -> [Member] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: " ")
        }
        guard !text.isEmpty, !items.isEmpty else { throw .config("--initial-cluster is empty") }
        guard items.count <= 255 else { throw .config("--initial-cluster lists \(items.count) members; at most 255") }
        var members: [Member] = []
        for (i, item) in items.enumerated() {
            guard let eq = item.firstIndex(of: "=") else {
                throw .config("--initial-cluster entry \"\(item)\" is not name=host:port")
            }
            let name = String(item[..<eq]), url = String(item[item.index(after: eq)...])
            guard !name.isEmpty, name.utf8.count <= 255 else {
                throw .config("--initial-cluster entry \"\(item)\" has an empty or over-long name")
            }
            do {
                let address = try SocketAddress(parsing: url)
                guard address.port != 0 else { throw TransportError.badAddress(address: url, reason: "port 0") }
            } catch {
                throw .config("--initial-cluster member \(name): bad peer address \"\(url)\" (\(error))")
            }
            if members.contains(where: { $0.name == name }) {
                throw .config("--initial-cluster names member \(name) twice")
            }
            if let other = members.first(where: { $0.peerURL == url }) {
                throw .config("--initial-cluster gives \(other.name) and \(name) the same peer address \(url)")
            }
            members.append(Member(id: NodeID(i + 1), name: name, peerURL: url))
        }
        return members
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
