import Codec
import Raft

/// A record read back from a segment, with where it started (for error messages).
struct ScannedRecord: Sendable {
    var offset: Int
    var record: WALRecord
}

/// Where reading a segment stopped early, and what kind of damage it was.
struct SegmentDamage: Sendable, Equatable {
    var offset: Int
    var reason: String
    /// The frame's checksum matched but its content is invalid: never a torn write.
    var badContent: Bool
    /// A checksum-valid frame starts somewhere after `offset`: the damage is not at the tail.
    var validFrameFollows: Bool
}

/// Everything in one segment file, decoded and checked.
struct SegmentScan: Sendable {
    var header: SegmentHeader
    var records: [ScannedRecord]
    /// Offset just past the last good record (where a torn tail would be cut).
    var validEnd: Int
    var damage: SegmentDamage?
}

/// Decodes a whole segment. Never traps on any input: a bad header throws `.corrupt`; a bad
/// record stops the scan and is reported in `damage` for the caller to judge (a torn tail is
/// only acceptable in the newest segment).
enum SegmentScanner {
    static func scan(_ bytes: [UInt8], path: String, maxRecordSize: Int) throws(StorageError) -> SegmentScan {
        let header = try SegmentHeader.decode(bytes, path: path)
        var records: [ScannedRecord] = []
        var pos = SegmentHeader.size
        while pos < bytes.count {
            switch frame(at: pos, in: bytes, maxRecordSize: maxRecordSize) {
            case let .ok(record, next):
                records.append(ScannedRecord(offset: pos, record: record))
                pos = next
            case let .badFrame(reason):
                let follows = validFrameExists(after: pos, in: bytes, maxRecordSize: maxRecordSize)
                return SegmentScan(header: header, records: records, validEnd: pos,
                                   damage: SegmentDamage(offset: pos, reason: reason, badContent: false, validFrameFollows: follows))
            case let .badContent(reason):
                return SegmentScan(header: header, records: records, validEnd: pos,
                                   damage: SegmentDamage(offset: pos, reason: reason, badContent: true, validFrameFollows: false))
            }
        }
        return SegmentScan(header: header, records: records, validEnd: pos, damage: nil)
    }

    enum FrameResult {
        case ok(WALRecord, next: Int)
        /// Framing or checksum is wrong: could be a torn write.
        case badFrame(String)
        /// Checksum is right but the content is not a valid record.
        case badContent(String)
    }

    static func frame(at pos: Int, in bytes: [UInt8], maxRecordSize: Int) -> FrameResult {
        let remaining = bytes.count - pos
        guard remaining >= WALRecord.frameHeaderSize else {
            return .badFrame("incomplete record header (\(remaining) of \(WALRecord.frameHeaderSize) bytes)")
        }
        let length = Int(readU32(bytes, pos))
        let type = bytes[pos + 4]
        let storedCRC = readU32(bytes, pos + 5)
        guard length <= maxRecordSize else {
            return .badFrame("record length \(length) exceeds the limit \(maxRecordSize)")
        }
        guard length <= remaining - WALRecord.frameHeaderSize else {
            return .badFrame("record of \(length) bytes extends past the end of the file")
        }
        guard WALRecord.frameCRC(bytes, headerAt: pos, payloadLength: length) == storedCRC else {
            return .badFrame("record checksum mismatch")
        }
        let payloadStart = pos + WALRecord.frameHeaderSize
        do throws(DecodeError) {
            let rec = try WALRecord.decodePayload(type: type, bytes[payloadStart..<payloadStart + length])
            return .ok(rec, next: payloadStart + length)
        } catch {
            return .badContent("invalid record content: \(error)")
        }
    }

    /// True when some later offset holds a frame with a plausible header and a matching
    /// checksum. A torn write leaves only a prefix of one record (or zeros/garbage) behind,
    /// so a valid frame after the damage means the damage is not a torn tail.
    static func validFrameExists(after damaged: Int, in bytes: [UInt8], maxRecordSize: Int) -> Bool {
        var pos = damaged + 1
        while pos + WALRecord.frameHeaderSize <= bytes.count {
            let length = Int(readU32(bytes, pos))
            let type = bytes[pos + 4]
            if WALRecord.Kind(rawValue: type) != nil, length <= maxRecordSize,
               length <= bytes.count - pos - WALRecord.frameHeaderSize,
               WALRecord.frameCRC(bytes, headerAt: pos, payloadLength: length) == readU32(bytes, pos + 5) {
                return true
            }
            pos += 1
        }
        return false
    }

    @inline(__always)
    static func readU32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }
}
