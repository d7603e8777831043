import XCTest
@testable import CLI

final class FlagParserTests: XCTestCase {
    private func parser() -> FlagParser {
        var p = FlagParser(command: "kvctl", summary: "Talks to a RaftKV cluster.", usage: "[flags] <command> [args]")
        p.string("name", default: "default", help: "member name")
        p.string("endpoints", help: "client addresses, comma separated")
        p.int("port", default: 2379, range: 1...65535, help: "client port")
        p.int("count", help: "how many")
        p.bool("verbose", short: "v", help: "log more")
        p.duration("election-timeout", default: .milliseconds(1000), help: "election timeout")
        p.choice("write-out", short: "w", choices: ["simple", "json", "table"], default: "simple", help: "output format")
        return p
    }

    private func assertError(_ args: [String], _ expected: FlagError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parser().parse(args), file: file, line: line) {
            XCTAssertEqual($0 as? FlagError, expected, file: file, line: line)
        }
    }

    func testDefaults() throws {
        let f = try parser().parse([])
        XCTAssertEqual(f.string("name"), "default")
        XCTAssertNil(f.string("endpoints"))
        XCTAssertEqual(f.int("port"), 2379)
        XCTAssertNil(f.int("count"))
        XCTAssertFalse(f.bool("verbose"))
        XCTAssertEqual(f.duration("election-timeout"), .seconds(1))
        XCTAssertEqual(f.string("write-out"), "simple")
        XCTAssertFalse(f.isSet("name"))
        XCTAssertEqual(f.positional, [])
        XCTAssertFalse(f.helpRequested)
    }

    func testSpacedAndEqualsForms() throws {
        let f = try parser().parse(["--name", "n1", "--port=12", "--election-timeout", "250ms", "-w", "json", "--count=-3"])
        XCTAssertEqual(f.string("name"), "n1")
        XCTAssertEqual(f.int("port"), 12)
        XCTAssertEqual(f.duration("election-timeout"), .milliseconds(250))
        XCTAssertEqual(f.string("write-out"), "json")
        XCTAssertEqual(f.int("count"), -3)
        XCTAssertTrue(f.isSet("name"))
        XCTAssertEqual(try parser().parse(["-w=table"]).string("write-out"), "table")
        XCTAssertEqual(try parser().parse(["--name="]).string("name"), "", "an explicit empty value is a value")
        XCTAssertEqual(try parser().parse(["--count", "-7"]).int("count"), -7, "negative numbers are values")
        XCTAssertEqual(try parser().parse(["--name", "a=b"]).string("name"), "a=b")
    }

    func testBooleans() throws {
        XCTAssertTrue(try parser().parse(["--verbose"]).bool("verbose"))
        XCTAssertTrue(try parser().parse(["-v"]).bool("verbose"))
        XCTAssertFalse(try parser().parse(["--verbose=false"]).bool("verbose"))
        XCTAssertTrue(try parser().parse(["--verbose=true"]).bool("verbose"))
        // A bare boolean never takes the next argument.
        let f = try parser().parse(["--verbose", "false"])
        XCTAssertTrue(f.bool("verbose"))
        XCTAssertEqual(f.positional, ["false"])
        assertError(["--verbose=maybe"], .invalidBool(flag: "verbose", value: "maybe"))
    }

    func testPositionalsAndTerminator() throws {
        let f = try parser().parse(["put", "--name", "x", "k", "-", "--", "--verbose", "-w"])
        XCTAssertEqual(f.positional, ["put", "k", "-", "--verbose", "-w"])
        XCTAssertFalse(f.bool("verbose"))
        XCTAssertEqual(f.string("name"), "x")
    }

    func testUnknownFlagSuggestions() {
        assertError(["--nmae", "x"], .unknownFlag("--nmae", suggestion: "--name"))
        assertError(["--election-timeot=1s"], .unknownFlag("--election-timeot", suggestion: "--election-timeout"))
        assertError(["--elec"], .unknownFlag("--elec", suggestion: "--election-timeout"))
        assertError(["--zzzzzz"], .unknownFlag("--zzzzzz", suggestion: nil))
        assertError(["-name", "x"], .unknownFlag("-name", suggestion: "--name"))
        assertError(["-x"], .unknownFlag("-x", suggestion: nil))
        XCTAssertEqual(FlagError.unknownFlag("--nmae", suggestion: "--name").description, "unknown flag --nmae (did you mean --name?)")
    }

    func testMissingValue() {
        assertError(["--name"], .missingValue(flag: "name"))
        assertError(["--name", "--verbose"], .missingValue(flag: "name"))
        assertError(["--name", "-v"], .missingValue(flag: "name"))
        assertError(["-w"], .missingValue(flag: "write-out"))
    }

    func testInvalidValues() {
        assertError(["--port", "abc"], .invalidInteger(flag: "port", value: "abc"))
        assertError(["--port", "99999999999999999999999"], .invalidInteger(flag: "port", value: "99999999999999999999999"))
        assertError(["--port", "0"], .outOfRange(flag: "port", value: 0, range: 1...65535))
        assertError(["--election-timeout", "5"], .invalidDuration(flag: "election-timeout", value: "5"))
        assertError(["--election-timeout=1x"], .invalidDuration(flag: "election-timeout", value: "1x"))
        assertError(["-w", "yaml"], .invalidChoice(flag: "write-out", value: "yaml", choices: ["simple", "json", "table"]))
        XCTAssertEqual(try parser().parse(["--count", "1_000"]).int("count"), 1000)
    }

    func testDuplicate() {
        assertError(["--name", "a", "--name=b"], .duplicate(flag: "name"))
        assertError(["-w", "json", "--write-out", "json"], .duplicate(flag: "write-out"))
    }

    func testRequired() throws {
        var p = FlagParser(command: "kvd")
        p.string("data-dir", required: true, help: "where to keep data")
        XCTAssertThrowsError(try p.parse([])) { XCTAssertEqual($0 as? FlagError, .missingRequired(flag: "data-dir")) }
        XCTAssertEqual(try p.parse(["--data-dir", "/d"]).string("data-dir"), "/d")
        // --help wins over missing required flags.
        XCTAssertTrue(try p.parse(["--help"]).helpRequested)
    }

    func testHelp() throws {
        XCTAssertTrue(try parser().parse(["-h"]).helpRequested)
        XCTAssertTrue(try parser().parse(["--name", "x", "--help", "--bogus"]).helpRequested)
        let help = parser().helpText
        XCTAssertTrue(help.hasPrefix("Usage: kvctl [flags] <command> [args]\n"), help)
        XCTAssertTrue(help.contains("Talks to a RaftKV cluster."))
        XCTAssertTrue(help.contains("  -h, --help "))
        XCTAssertTrue(help.contains("      --name string"))
        XCTAssertTrue(help.contains("member name (default \"default\")"))
        XCTAssertTrue(help.contains("-w, --write-out simple|json|table"))
        XCTAssertTrue(help.contains("election timeout (default 1s)"))
        XCTAssertTrue(help.contains("-v, --verbose"))
        XCTAssertFalse(help.contains("(default false)"))
        // Help columns line up.
        let flagLines = help.split(separator: "\n").filter { $0.hasPrefix("  -") }
        let columns = Set(flagLines.compactMap { line -> Int? in
            guard let r = line.range(of: "  ", options: [], range: line.index(line.startIndex, offsetBy: 3)..<line.endIndex) else { return nil }
            return line.distance(from: line.startIndex, to: r.lowerBound) + (line[r.upperBound...].prefix { $0 == " " }.count)
        })
        XCTAssertEqual(columns.count, 1, help)
    }

    func testErrorDescriptionsAreOneLine() {
        let errors: [FlagError] = [
            .unknownFlag("--x", suggestion: nil), .missingValue(flag: "a"), .invalidInteger(flag: "a", value: "x\ny"),
            .outOfRange(flag: "p", value: 0, range: 1...2), .invalidDuration(flag: "d", value: "1x"),
            .invalidChoice(flag: "w", value: "y", choices: ["a", "b"]), .invalidBool(flag: "v", value: "m"),
            .duplicate(flag: "n"), .missingRequired(flag: "r"),
        ]
        for e in errors { XCTAssertFalse(e.description.contains("\n"), e.description) }
        XCTAssertEqual(FlagError.invalidDuration(flag: "election-timeout", value: "5").description,
                       "invalid value \"5\" for --election-timeout: not a duration (e.g. 100ms, 2s, 1m30s)")
    }

    /// Random argument lists built from flag-like pieces: a value or a FlagError, never a trap.
    func testRandomArgumentsNeverTrap() {
        let pieces = ["--name", "--name=", "--port", "--port=0", "-w", "-w=", "json", "--", "-", "-v", "--verbose=",
                      "--election-timeout", "1m", "-5", "--count", "x", "--=", "---", "-vv", "--nmae", "=", "", "é"]
        var state: UInt64 = 12345
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        for _ in 0..<3000 {
            let args = (0..<next(8)).map { _ in pieces[next(pieces.count)] }
            do { _ = try parser().parse(args) } catch { XCTAssertFalse("\(error)".isEmpty) }
        }
    }
}

final class StrayArgumentTests: XCTestCase {
    func testAStrayArgumentIsNamedBeforeAMissingFlag() {
        var p = FlagParser(command: "kvd", summary: "s")
        p.acceptsPositional = false
        p.string("name", required: true, help: "h")
        XCTAssertThrowsError(try p.parse(["n1"])) { error in
            XCTAssertEqual(error as? FlagError, .unexpectedArgument("n1", command: "kvd", missingFlag: "name"))
            XCTAssertEqual("\(error)", "unexpected argument \"n1\": kvd takes only flags (did you mean --name n1?)")
        }
        XCTAssertThrowsError(try p.parse(["--name", "a", "b"])) { error in
            XCTAssertEqual("\(error)", "unexpected argument \"b\": kvd takes only flags")
        }
    }
}
