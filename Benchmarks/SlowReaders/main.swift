import CLI
import Foundation
import Glibc
import KV
import KVClient
import Synchronization
import Wire

// slow-readers: measures how much connections that send requests and never read their
// replies hurt a well-behaved client (issue 9 §3). Phase 1: the well-behaved client's put
// latency alone. Phase 2: the same while N slow readers pipeline gets of a large value and
// never read. Prints p50/p99 for both and their ratio; pass --pid to also sample the
// server's descriptors and RSS during phase 2. Prints figures; asserts nothing.

var parser = FlagParser(command: "slow-readers", summary: "Put latency with and without clients that never read their replies.")
parser.string("endpoint", default: "127.0.0.1:27101", help: "the leader's client address (slow readers target it)")
parser.string("endpoints", help: "all client endpoints for the well-behaved client (default: --endpoint)")
parser.int("readers", default: 32, range: 0...10_000, help: "slow readers")
parser.int("value-size", default: 4096, range: 1...1_048_576, help: "bytes of the value the slow readers get")
parser.duration("duration", default: .seconds(10), help: "length of each phase")
parser.int("pid", default: 0, range: 0...Int(Int32.max), help: "server pid to sample descriptors and RSS of (0: none)")
parser.string("source", default: "127.0.0.2", help: "source address of the slow readers (a loopback alias)")
parser.bool("probe", default: false, help: "only show what one more slow reader's replies are (2000 gets, then read them) while --readers others run")

let flags: ParsedFlags
do { flags = try parser.parse(Array(CommandLine.arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8)); exit(2)
}
if flags.helpRequested { print(parser.helpText); exit(0) }
let endpoint = flags.string("endpoint")!
let endpoints = (flags.string("endpoints") ?? endpoint).split(separator: ",").map(String.init)
let readers = flags.int("readers")!, valueSize = flags.int("value-size")!
let duration = flags.duration("duration")!, pid = flags.int("pid")!, source = flags.string("source")!

func fail(_ s: String) -> Never { FileHandle.standardError.write(Data("Error: \(s)\n".utf8)); exit(1) }

/// The server's open descriptors and resident memory (MiB), from /proc.
func sample() -> (fds: Int, rssMiB: Double)? {
    guard pid > 0 else { return nil }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let kb = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? -1
    return (fds, kb / 1024)
}

/// One blocking socket from `source` to `endpoint`.
func dial() -> Int32? {
    let parts = endpoint.split(separator: ":")
    guard parts.count == 2, let port = UInt16(parts[1]) else { fail("bad --endpoint \(endpoint)") }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var local = sockaddr_in(), remote = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_addr.s_addr = inet_addr(source)
    remote.sin_family = sa_family_t(AF_INET)
    remote.sin_port = port.bigEndian
    remote.sin_addr.s_addr = inet_addr(String(parts[0]))
    let size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafePointer(to: &local) { l in
        withUnsafePointer(to: &remote) { r in
            l.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } == 0
                && r.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } == 0
        }
    }
    if !ok { close(fd); return nil }
    return fd
}

func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { return false }
        off += n
    }
    return true
}

/// Reads one reply frame (blocking).
func readReply(_ fd: Int32) -> ClientReply? {
    var decoder = FrameDecoder(channel: .any)
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0, let frames = try? decoder.decode(buf.prefix(n)) else { return nil }
        if let f = frames.first { return try? ClientReply.decode(f) }
    }
}

let stopReaders = Atomic<Bool>(false)
let readerStats = Mutex((connections: 0, closedByServer: 0, requestsSent: 0))

/// Registers a session, then pipelines gets of the large value forever without reading;
/// reconnects when the server cuts it off (a persistent offender).
func slowReader(_ key: [UInt8]) {
    while !stopReaders.load(ordering: .relaxed) {
        guard let fd = dial() else { usleep(100_000); continue }
        readerStats.withLock { $0.connections += 1 }
        guard sendAll(fd, ClientCall.register.encodedFrame(requestID: 1)), case let .kv(.registered(id))? = readReply(fd) else {
            close(fd); usleep(100_000); continue
        }
        var seq: UInt64 = 0
        var batch: [UInt8] = []
        while !stopReaders.load(ordering: .relaxed) {
            batch.removeAll(keepingCapacity: true)
            for _ in 0..<64 {
                seq += 1
                batch += ClientCall.kv(ClientRequest(clientID: id, sequence: seq, firstUnacknowledged: seq, command: .get(key: key)))
                    .encodedFrame(requestID: seq + 1)
            }
            guard sendAll(fd, batch) else { break }  // blocks while TCP pushes back
            readerStats.withLock { $0.requestsSent += 64 }
        }
        readerStats.withLock { $0.closedByServer += stopReaders.load(ordering: .relaxed) ? 0 : 1 }
        close(fd)
    }
}

/// Sequential 1 KiB puts for `duration`; latencies in ms, sorted.
func measure(_ client: KVClient, label: String) async -> [Double] {
    var lat: [Double] = []
    var errors = 0
    let value = [UInt8](repeating: 1, count: 1024)
    let end = ContinuousClock.now + duration
    var i = 0
    while ContinuousClock.now < end {
        let t0 = ContinuousClock.now
        do {
            _ = try await client.put(Array("wb-\(label)-\(i)".utf8), value)
            let d = ContinuousClock.now - t0
            lat.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
        } catch {
            errors += 1
        }
        i += 1
    }
    if errors > 0 { print("\(label): \(errors) puts failed") }
    return lat.sorted()
}

func pct(_ l: [Double], _ p: Double) -> Double { l.isEmpty ? .nan : l[min(l.count - 1, Int(Double(l.count) * p))] }

/// Diagnostic: what does a slow reader get back? Sends 2000 gets, waits, reads and counts reply kinds.
func probe(_ key: [UInt8]) {
    guard let fd = dial(), sendAll(fd, ClientCall.register.encodedFrame(requestID: 1)), case let .kv(.registered(id))? = readReply(fd) else {
        fail("probe: could not register")
    }
    var batch: [UInt8] = []
    for seq in UInt64(1)...2000 {
        batch += ClientCall.kv(ClientRequest(clientID: id, sequence: seq, firstUnacknowledged: seq, command: .get(key: key)))
            .encodedFrame(requestID: seq + 1)
    }
    _ = sendAll(fd, batch)
    sleep(2)
    var decoder = FrameDecoder(channel: .any)
    var kinds: [String: Int] = [:]
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    var tv = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0, let frames = try? decoder.decode(buf.prefix(n)) else { break }
        for f in frames {
            let kind: String
            switch try? ClientReply.decode(f) {
            case let .kv(.value(v))?: kind = "value(\(v?.count ?? -1) B)"
            case let .error(e)?: kind = "error \(e)".prefix(60).description
            case let r?: kind = "\(r)".prefix(40).description
            case nil: kind = "undecodable"
            }
            kinds[kind, default: 0] += 1
        }
    }
    for (k, v) in kinds.sorted(by: { $0.value > $1.value }) { print("\(v) x \(k)") }
    exit(0)
}

let client: KVClient
do {
    client = try KVClient(configuration: KVClientConfiguration(endpoints: endpoints, commandTimeout: .seconds(10)))
} catch { fail("\(error)") }
let key = Array("slow-readers-big".utf8)
do { _ = try await client.put(key, [UInt8](repeating: 7, count: valueSize)) } catch { fail("setup put: \(error)") }
if flags.bool("probe") {
    for _ in 0..<readers { Thread { slowReader(key) }.start() }  // the crowd first, then look at one reader's replies
    if readers > 0 { sleep(3) }
    probe(key)
}

if let s = sample() { print(String(format: "server before: %d fds, %.1f MiB RSS", s.fds, s.rssMiB)) }
let alone = await measure(client, label: "alone")
print(String(format: "alone:        %d puts  p50 %.2f ms  p99 %.2f ms", alone.count, pct(alone, 0.5), pct(alone, 0.99)))

var threads: [Thread] = []
for _ in 0..<readers {
    let t = Thread { slowReader(key) }
    t.start()
    threads.append(t)
}
try? await Task.sleep(for: .seconds(2))  // let them fill their buffers
let peak = Mutex<(fds: Int, rssMiB: Double)>((0, 0))
let sampler = Task {
    while !Task.isCancelled {
        if let s = sample() { peak.withLock { $0 = (max($0.fds, s.fds), max($0.rssMiB, s.rssMiB)) } }
        try? await Task.sleep(for: .milliseconds(200))
    }
}
let crowded = await measure(client, label: "crowded")
sampler.cancel()
stopReaders.store(true, ordering: .relaxed)
let stats = readerStats.withLock { $0 }
print(String(format: "with %d slow readers: %d puts  p50 %.2f ms  p99 %.2f ms", readers, crowded.count, pct(crowded, 0.5), pct(crowded, 0.99)))
print("slow readers: \(stats.connections) connections, \(stats.closedByServer) cut off by the server, \(stats.requestsSent) gets sent")
if pid > 0 { let p = peak.withLock { $0 }; print(String(format: "server peak during phase 2: %d fds, %.1f MiB RSS", p.fds, p.rssMiB)) }
print(String(format: "p99 ratio (with / without): %.2f", pct(crowded, 0.99) / pct(alone, 0.99)))
client.close()
exit(0)
