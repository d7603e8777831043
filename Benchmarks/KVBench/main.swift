import CLI
import Foundation
import KVClient
import Synchronization

// kv-bench: a put load against a running RaftKV cluster, shaped like `etcdctl check perf`
// (N concurrent clients, a rate limit, random 256-byte keys, 1 KiB values, fixed duration)
// so the two can be compared side by side (Benchmarks/vs-etcd.sh). Prints figures; asserts nothing.

var parser = FlagParser(command: "kv-bench", summary: "Put load against a RaftKV cluster; prints throughput and latency.")
parser.string("endpoints", default: "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103", help: "client endpoints")
parser.int("clients", default: 1000, range: 1...100_000, help: "concurrent requests in flight")
parser.int("conns", default: 50, range: 1...1000, help: "KVClient instances (connections per endpoint) the clients share")
parser.int("rate", default: 15000, range: 0...10_000_000, help: "target puts per second over all clients (0: as fast as possible)")
parser.duration("duration", default: .seconds(60), help: "how long to run")
parser.int("key-size", default: 256, range: 8...65536, help: "key bytes")
parser.int("value-size", default: 1024, range: 0...1_048_576, help: "value bytes")

let flags: ParsedFlags
do { flags = try parser.parse(Array(CommandLine.arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8)); exit(2)
}
if flags.helpRequested { print(parser.helpText); exit(0) }

let endpoints = flags.string("endpoints")!.split(separator: ",").map(String.init)
let clientCount = flags.int("clients")!, connCount = min(flags.int("conns")!, flags.int("clients")!)
let rate = flags.int("rate")!, duration = flags.duration("duration")!
let keySize = flags.int("key-size")!, valueSize = flags.int("value-size")!

/// Hands out send times spaced 1/rate apart (a shared token bucket without bursts).
final class Pacer: Sendable {
    private let next: Mutex<ContinuousClock.Instant>
    private let interval: Duration?
    init(rate: Int) {
        next = Mutex(ContinuousClock.now)
        interval = rate > 0 ? .nanoseconds(1_000_000_000 / Int64(rate)) : nil
    }
    func slot() -> ContinuousClock.Instant? {
        guard let interval else { return nil }
        return next.withLock { n in
            let now = ContinuousClock.now
            let s = n < now ? now : n
            n = s + interval
            return s
        }
    }
}

struct WorkerResult: Sendable {
    var latencies: [Double] = []   // seconds
    var errors: [String: Int] = [:]
}

let clients: [KVClient]
do {
    clients = try (0..<connCount).map { _ in
        try KVClient(configuration: KVClientConfiguration(endpoints: endpoints, commandTimeout: .seconds(10)))
    }
} catch {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8)); exit(1)
}

let value = [UInt8](repeating: 0, count: valueSize)
let pacer = Pacer(rate: rate)
print("kv-bench: \(clientCount) clients over \(connCount) connection set(s), rate limit \(rate == 0 ? "none" : "\(rate)/s"), \(duration), \(keySize) B keys, \(valueSize) B values")

let started = ContinuousClock.now
let deadline = started + duration
let results: [WorkerResult] = await withTaskGroup(of: WorkerResult.self) { group in
    for w in 0..<clientCount {
        let client = clients[w % connCount]
        group.addTask {
            var r = WorkerResult()
            var rng = SystemRandomNumberGenerator()
            var key = [UInt8](repeating: 0, count: keySize)
            while true {
                if let s = pacer.slot() {
                    if s >= deadline { break }
                    try? await Task.sleep(until: s, clock: .continuous)
                } else if ContinuousClock.now >= deadline {
                    break
                }
                for i in 0..<min(16, keySize) { key[i] = UInt8.random(in: 0...255, using: &rng) }
                let t0 = ContinuousClock.now
                do {
                    try await client.put(key, value)
                    let d = ContinuousClock.now - t0
                    r.latencies.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
                } catch {
                    r.errors["\(error)".prefix(80).description, default: 0] += 1
                }
            }
            return r
        }
    }
    var all: [WorkerResult] = []
    for await r in group { all.append(r) }
    return all
}
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
for c in clients { c.close() }

let lat = results.flatMap(\.latencies).sorted()
var errors: [String: Int] = [:]
for r in results { for (k, v) in r.errors { errors[k, default: 0] += v } }
let n = lat.count
func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(Double(lat.count) * p))] * 1000 }
let mean = n == 0 ? 0 : lat.reduce(0, +) / Double(n)
let stddev = n == 0 ? 0 : (lat.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
print(String(format: "throughput: %.0f puts/s (%d ok, %d errors, %.1f s)", Double(n) / seconds, n, errors.values.reduce(0, +), seconds))
print(String(format: "latency ms: p50 %.1f  p90 %.1f  p99 %.1f  slowest %.1f  stddev %.1f", pct(0.5), pct(0.9), pct(0.99), (lat.last ?? 0) * 1000, stddev * 1000))
for (k, v) in errors.sorted(by: { $0.value > $1.value }).prefix(5) { print("error x\(v): \(k)") }
