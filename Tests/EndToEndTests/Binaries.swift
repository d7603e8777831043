import Foundation
import XCTest

/// Finds the kvd and kvctl executables that `swift build` / `swift test` put next to the
/// test bundle (.build/<triple>/debug). RAFTKV_BIN_DIR overrides the search.
enum Binaries {
    static func directory() throws -> URL {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["RAFTKV_BIN_DIR"], !dir.isEmpty {
            candidates.append(URL(fileURLWithPath: dir))
        }
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(argv0.deletingLastPathComponent())
        for b in Bundle.allBundles + [Bundle.main] {
            candidates.append(b.bundleURL.deletingLastPathComponent())
            candidates.append(b.bundleURL)
        }
        for dir in candidates {
            let kvd = dir.appendingPathComponent("kvd").path
            let kvctl = dir.appendingPathComponent("kvctl").path
            if fm.isExecutableFile(atPath: kvd) && fm.isExecutableFile(atPath: kvctl) { return dir }
        }
        throw XCTSkip("kvd/kvctl not found next to the test bundle (looked in \(candidates.map(\.path))); run `swift build` first")
    }

    static func kvd() throws -> URL { try directory().appendingPathComponent("kvd") }
    static func kvctl() throws -> URL { try directory().appendingPathComponent("kvctl") }
}
