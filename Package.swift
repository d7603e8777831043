// swift-tools-version:6.0
// RaftKV: a replicated key-value store on Raft. Toolchain only: no package dependencies.
import PackageDescription

let package = Package(
    name: "RaftKV",
    products: [
        .executable(name: "kvd", targets: ["kvd"]),
        .executable(name: "kvctl", targets: ["kvctl"]),
        .executable(name: "simulate", targets: ["simulate"]),
    ],
    targets: [
        // epoll/eventfd are not exported by Glibc; this header exposes them.
        .target(name: "CEpoll"),
        // The one syscall wrapper: EINTR retry, errno to a typed error.
        .target(name: "Posix"),
        // A binary min-heap, shared by the simulated network and the event loop's timers.
        .target(name: "Heap"),
        // Pure consensus core: no I/O, clock, threads or global randomness.
        .target(name: "Raft"),
        // Byte buffers, varints, CRC32C: shared by every on-disk and on-wire format.
        .target(name: "Codec"),
        // Replicated key-value state machine, commands, client sessions.
        .target(name: "KV", dependencies: ["Codec"]),
        // Write-ahead log, snapshots, recovery, over an abstract file system.
        .target(name: "Storage", dependencies: ["Codec", "Raft", "Posix"]),
        // Frame header and message codecs for peer and client traffic.
        .target(name: "Wire", dependencies: ["Codec", "Raft", "KV"]),
        // One replica's logic minus I/O: drives the core, storage and state machine.
        .target(name: "Replica", dependencies: ["Raft", "KV", "Storage", "Codec"]),
        // The client-request lifecycle shared by kvd and the simulator: admit, propose,
        // resolve, expire, map to the wire reply. Transport-free.
        .target(name: "Service", dependencies: ["Raft", "KV", "Replica", "Storage", "Wire", "Heap"]),
        // Sockets, epoll event loop, timers.
        .target(name: "Transport", dependencies: ["CEpoll", "Posix", "Heap"]),
        // Leveled, structured log lines; rate-limited repeats.
        .target(name: "Logging"),
        // Flag parsing for the executables.
        .target(name: "CLI", dependencies: ["Logging"]),
        // The kvd runtime: Replica over Transport and the POSIX disk.
        .target(name: "Server", dependencies: ["Replica", "Service", "Raft", "KV", "Transport", "Wire", "Storage", "CLI", "Logging", "Posix"]),
        // The client's session, routing and retry logic as a pure state machine (no I/O, no
        // clock): KVClient and the simulator's clients are shells over it.
        .target(name: "ClientCore", dependencies: ["KV"]),
        .target(name: "KVClient", dependencies: ["ClientCore", "Wire", "Transport", "KV"]),
        .executableTarget(name: "kvd", dependencies: ["Server", "CLI", "Transport"]),
        .executableTarget(name: "kvctl", dependencies: ["KVClient", "CLI", "Wire"]),
        // An in-memory file system with crash semantics (torn writes, lost unsynced bytes),
        // for the simulator and the storage tests.
        .target(name: "StorageTestSupport", dependencies: ["Raft", "Storage"]),
        // Wing-Gong linearizability checker over recorded key-value histories.
        .target(name: "Linearizability"),
        // Deterministic simulator: network, disk, clock, clients, checkers.
        .target(name: "Simulation", dependencies: ["Raft", "KV", "Replica", "Service", "Wire", "Storage", "Heap", "StorageTestSupport", "Linearizability", "ClientCore"], path: "Simulation",
                // Speed: the harness is single-threaded per run; dynamic exclusivity checks on its
                // classes cost ~10% of simulated throughput. Product modules keep them.
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        // simulate's flags, per-seed configuration and replay command (testable, unlike main).
        .target(name: "SimulateCommand", dependencies: ["Simulation", "CLI"]),
        .executableTarget(name: "simulate", dependencies: ["SimulateCommand", "Simulation", "CLI"]),
        // Child process for the storage kill test: appends, syncs, prints acknowledged indexes.
        .executableTarget(name: "storage-torture", dependencies: ["Storage", "Raft", "Posix"]),
        // WAL throughput and recovery benchmark (docs/storage.md).
        .executableTarget(name: "wal-bench", dependencies: ["Storage", "Raft"], path: "Benchmarks/WALBench"),
        .executableTarget(name: "kv-bench", dependencies: ["KVClient", "CLI"], path: "Benchmarks/KVBench"),
        // Put latency with and without clients that never read their replies (docs/operations.md).
        .executableTarget(name: "slow-readers", dependencies: ["KVClient", "CLI", "Wire", "KV"], path: "Benchmarks/SlowReaders"),

        .testTarget(name: "RaftTests", dependencies: ["Raft"]),
        .testTarget(name: "HeapTests", dependencies: ["Heap"]),
        .testTarget(name: "CodecTests", dependencies: ["Codec", "Raft"]),
        .testTarget(name: "KVTests", dependencies: ["KV", "Codec", "Raft"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Raft", "Codec", "StorageTestSupport", "Posix"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "Raft", "KV", "Codec"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Posix"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "SimulateCommand", "Raft", "KV", "Replica", "Service", "Storage", "StorageTestSupport", "Linearizability", "Wire"]),
        .testTarget(name: "LinearizabilityTests", dependencies: ["Linearizability", "Raft"]),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "Replica", "Raft", "KV", "Wire", "Storage"]),
        .testTarget(name: "EndToEndTests", dependencies: ["KVClient", "Wire", "KV", "Codec", "Linearizability"]),
        .testTarget(name: "CLITests", dependencies: ["CLI"]),
        .testTarget(name: "LoggingTests", dependencies: ["Logging"]),
        .testTarget(name: "ClientCoreTests", dependencies: ["ClientCore", "KV"]),
        .testTarget(name: "KVClientTests", dependencies: ["KVClient", "Wire", "Transport", "KV"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Wire", "Transport", "Raft", "KV", "Storage", "CLI", "Logging", "Codec", "Posix"]),
    ],
    swiftLanguageModes: [.v6]
)
