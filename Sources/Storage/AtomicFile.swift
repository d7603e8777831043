/// Temp files end with this; recovery deletes any it finds (a crash mid-write left them).
let tempSuffix = ".tmp"

/// Writes `bytes` as `directory/name` so that after a crash the file is either absent or
/// complete: write a temp file, fsync it, read it back and check it, rename, fsync the directory.
func writeFileAtomically(_ fs: any FileSystem, directory: String, name: String, bytes: [UInt8],
                         verify: ([UInt8], String) throws(StorageError) -> Void) throws(StorageError) {
    let temp = joinPath(directory, name + tempSuffix)
    let final = joinPath(directory, name)
    let file = try fs.createFile(temp)
    do {
        try fs.write(file, bytes)
        try fs.sync(file)
    } catch {
        fs.close(file)
        throw error
    }
    fs.close(file)
    // Read back what the disk holds, not what we meant to write.
    let back = try fs.readFile(temp)
    guard back == bytes else {
        throw StorageError.corrupt(path: temp, offset: 0, reason: "read-back differs from what was written; check the disk")
    }
    try verify(back, temp)
    try fs.rename(temp, to: final)
    try fs.syncDirectory(directory)
}
