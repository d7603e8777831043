import Raft
@testable import Storage
import XCTest

/// The durable "recovering from a lost disk" flag, and the refusal advice that leads there.
final class RecoveryMarkerTests: XCTestCase {
    var dir: TempDir!
    override func setUp() { dir = TempDir("recovery") }
    override func tearDown() { dir.cleanup() }

    func testAnEmptyStorageStartsRecoveringOnlyWhenTheClusterExists() throws {
        let marker = RecoveryMarker(fileSystem: PosixFileSystem(), directory: dir.path)
        XCTAssertFalse(try marker.startsRecovering(storageEmpty: true, clusterState: .new), "bootstrap: every member starts empty")
        XCTAssertFalse(try marker.startsRecovering(storageEmpty: false, clusterState: .existing), "a kept disk needs no recovery")
        XCTAssertTrue(try marker.startsRecovering(storageEmpty: true, clusterState: .existing))
        XCTAssertTrue(dir.names().contains(RecoveryMarker.fileName), "durable before the core runs")
        // A crash while catching up leaves a non-empty log: the marker keeps it recovering.
        XCTAssertTrue(try marker.startsRecovering(storageEmpty: false, clusterState: .new))
        try marker.clear()
        XCTAssertFalse(try marker.startsRecovering(storageEmpty: false, clusterState: .existing))
    }

    func testTheMarkerDoesNotDisturbTheLog() throws {
        let fs = PosixFileSystem()
        let w = try WALStorage(directory: dir.path, identity: testIdentity, fileSystem: fs, options: tinyOptions())
        XCTAssertTrue(try w.load().isEmpty)
        try RecoveryMarker(fileSystem: fs, directory: dir.path).set()
        try w.append(entries(1...3, term: 1), hardState: HardState(term: 1, vote: 0, commit: 3))
        try w.sync()
        try w.close()
        let back = try WALStorage(directory: dir.path, identity: testIdentity, fileSystem: fs, options: tinyOptions()).load()
        XCTAssertEqual(back.entries.count, 3)
        XCTAssertFalse(back.isEmpty)
    }

    /// The old advice ("move the directory aside and let this node catch up from its peers as
    /// an empty member") led straight to issue #9 §4's data loss. The advice must name the
    /// only safe empty restart.
    func testTheRefusalAdviceNamesTheSafeProcedureOnly() {
        let advice = StorageAdvice.refuse
        XCTAssertTrue(advice.contains("--initial-cluster-state existing"), advice)
        XCTAssertTrue(advice.contains("never restart it empty without that flag"), advice)
        XCTAssertTrue(advice.contains("learner"), advice)
        XCTAssertFalse(advice.contains("as an empty member"), advice)
    }
}
