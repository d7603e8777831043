import Posix
import Storage
import XCTest

/// Errors that carry an errno say its name and text, never a bare number.
final class PlainErrorTests: XCTestCase {
    func testErrnoIsShownAsNameAndText() throws {
        let dir = TempDir("plainerr")
        defer { dir.cleanup() }
        dir.write("hostname", [1])
        do {
            try PosixFileSystem().makeDirectory(dir.file("hostname") + "/sub")
            XCTFail("mkdir under a regular file must fail")
        } catch {
            XCTAssertEqual("\(error)", "mkdir \(dir.file("hostname")): ENOTDIR (Not a directory)")
        }
        XCTAssertEqual(errnoDescription(24), "EMFILE (Too many open files)")
        XCTAssertEqual(SystemError(call: "open", context: "/x", errno: 2).description, "open /x: ENOENT (No such file or directory)")
        XCTAssertFalse("\(StorageError.io(operation: "fsync", path: "/d", errno: 5))".contains("errno"))
    }

    func testSecondLockOnADataDirIsRefusedInPlainWords() throws {
        let dir = TempDir("lock")
        defer { dir.cleanup() }
        let first = try DataDirLock(directory: dir.path)
        XCTAssertThrowsError(try DataDirLock(directory: dir.path)) { error in
            XCTAssertTrue("\(error)".contains("in use by another kvd"), "\(error)")
        }
        first.release()
        let again = try DataDirLock(directory: dir.path)
        again.release()
    }
}
