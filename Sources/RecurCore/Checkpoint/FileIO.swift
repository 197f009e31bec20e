#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File access for checkpoints: bounded reads and crash-safe atomic writes.
package enum FileIO {
    static func errnoText(_ e: Int32) -> String {
        guard let s = strerror(e) else { return "errno \(e)" }
        return String(cString: s) + " (errno \(e))"
    }

    /// Reads a regular file of at most `maxSize` bytes (reads up to maxSize + 1, so a file
    /// that grows while being read is still caught). Never maps the file.
    package static func readFile(path: String, maxSize: Int) throws(RecurError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw RecurError(e == EISDIR ? .notRegularFile : .io, "cannot open \(path): \(errnoText(e))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RecurError(.io, "cannot stat \(path): \(errnoText(errno))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw RecurError(.notRegularFile, "\(path) is not a regular file")
        }
        guard Int(st.st_size) <= maxSize else {
            throw RecurError(.fileTooLarge, "\(path) is \(st.st_size) bytes; max_file_size is \(maxSize)")
        }
        let cap = Int(st.st_size) + 1
        var got = 0
        var failure: Int32 = 0
        // Uninitialised capacity: read() writes every byte that is kept (no zero-fill pass).
        let buf = [UInt8](unsafeUninitializedCapacity: cap) { p, initialized in
            initialized = 0
            guard let base = p.baseAddress else { return }
            while got < cap {
                let n = read(fd, base + got, cap - got)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { break }
                got += n
            }
            initialized = got
        }
        if failure != 0 { throw RecurError(.io, "cannot read \(path): \(errnoText(failure))") }
        if got > maxSize { throw RecurError(.fileTooLarge, "\(path) grew past max_file_size \(maxSize) while being read") }
        if got == cap {
            throw RecurError(.io, "\(path) changed size while being read")
        }
        return buf
    }

    /// Removes `.NAME.tmp-PID-XXXXXX` files left in `dir` by writers that no longer exist
    /// (a process killed mid-save). Temp files of live processes are left alone.
    static func removeOrphanedTemps(dir: String, name: String) {
        let prefix = Array(("." + name + ".tmp-").utf8)
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        let me = getpid()
        while let e = readdir(d) {
            // Compare bytes in place (no String of the raw record: its tail is uninitialised).
            var entry: [UInt8] = []
            var matches = true
            withUnsafeBytes(of: &e.pointee.d_name) { raw in
                guard let base = raw.baseAddress else {
                    matches = false
                    return
                }
                let n = strnlen(base.assumingMemoryBound(to: CChar.self), raw.count)
                guard n > prefix.count else {
                    matches = false
                    return
                }
                for i in 0..<prefix.count where raw[i] != prefix[i] {
                    matches = false
                    return
                }
                entry = Array(raw[0..<n])
            }
            guard matches else { continue }
            var pid: Int32 = 0
            var i = prefix.count
            while i < entry.count, entry[i] >= 0x30, entry[i] <= 0x39, pid < 1 << 22 {
                pid = pid * 10 + Int32(entry[i] - 0x30)
                i += 1
            }
            guard i < entry.count, entry[i] == UInt8(ascii: "-"), pid > 0, pid != me else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH {
                unlink(dir + "/" + String(decoding: entry, as: UTF8.self))
            }
        }
    }

    /// Splits a path into (directory, file name).
    static func split(_ path: String) -> (dir: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    /// Atomic, durable replace of `path` with `bytes`.
    package static func writeAtomically(path: String, bytes: [UInt8]) throws(RecurError) {
        let (dir, name) = split(path)
        guard !name.isEmpty else { throw RecurError(.io, "\(path) names a directory, not a file") }
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw RecurError(.notRegularFile, "\(path) is a directory")
        }
        // The temp name carries our pid, so a later save can tell a temp file orphaned by a
        // killed process (pid gone) from one another process is still writing.
        var template = Array((dir + "/." + name + ".tmp-\(getpid())-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { p -> Int32 in
            guard let b = p.baseAddress else { return -1 }
            return mkstemp(b)
        }
        guard fd >= 0 else {
            throw RecurError(.io, "cannot create a temporary file in \(dir): \(errnoText(errno))")
        }
        let tmpPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var fdOpen = true
        var ok = false
        defer {
            if fdOpen { close(fd) }
            if !ok { unlink(tmpPath) }
        }
        _ = fchmod(fd, 0o644)
        var written = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { p in
            guard let base = p.baseAddress else { return }
            while written < p.count {
                let n = write(fd, base + written, p.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                written += n
            }
        }
        if failure != 0 { throw RecurError(.io, "cannot write \(tmpPath): \(errnoText(failure))") }
        guard fsync(fd) == 0 else { throw RecurError(.io, "fsync of \(tmpPath) failed: \(errnoText(errno))") }
        fdOpen = false
        guard close(fd) == 0 else {
            throw RecurError(.io, "close of \(tmpPath) failed: \(errnoText(errno))")
        }
        guard rename(tmpPath, path) == 0 else {
            let e = errno
            throw RecurError(e == EISDIR ? .notRegularFile : .io, "cannot rename into \(path): \(errnoText(e))")
        }
        ok = true
        removeOrphanedTemps(dir: dir, name: name)
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            // EINVAL/ENOTSUP: the file system cannot sync directories; the rename stands.
            _ = fsync(dfd)
            close(dfd)
        }
    }
}
