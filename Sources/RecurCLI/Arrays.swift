import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// A numeric array read from .npy / .npz / CSV: float64 values in C order and a shape.
struct NDArray {
    var shape: [Int]
    var data: [Double]
    var isInteger: Bool
    var count: Int { data.count }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}

func errnoText(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return String(cString: s)
}

/// Reads a file the user named ("-" = standard input). Directories, sockets and block devices
/// are refused ("not a regular file"); pipes and character devices are read as streams.
func readInput(_ path: String, what: String) throws -> [UInt8] {
    if path == "-" { return readStream(0) }
    var st = stat()
    guard stat(path, &st) == 0 else { throw CLIError("cannot open \(what) \(path): \(errnoText(errno))") }
    let type = st.st_mode & S_IFMT
    if type == S_IFDIR { throw CLIError("\(what) \(path) is a directory, not a regular file") }
    guard type == S_IFREG || type == S_IFIFO || type == S_IFCHR else {
        throw CLIError("\(what) \(path) is not a regular file")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CLIError("cannot open \(what) \(path): \(errnoText(errno))") }
    defer { close(fd) }
    return readStream(fd)
}

private func readStream(_ fd: Int32) -> [UInt8] {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

// MARK: - .npy

/// Parses a NumPy .npy file (versions 1-3; little-endian f4/f8/i1/i2/i4/i8/u1; C or Fortran
/// order, returned in C order).
func parseNPY(_ b: [UInt8], name: String) throws -> NDArray {
    guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
        throw CLIError("\(name): not a .npy array")
    }
    let major = b[6]
    var hlen: Int
    var off: Int
    if major == 1 {
        hlen = Int(b[8]) | Int(b[9]) << 8
        off = 10
    } else {
        guard b.count >= 12 else { throw CLIError("\(name): truncated .npy header") }
        hlen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
        off = 12
    }
    guard hlen <= 1 << 20, off + hlen <= b.count else { throw CLIError("\(name): truncated .npy header") }
    let header = String(decoding: b[off..<(off + hlen)], as: UTF8.self)
    let chars = Array(header)
    func value(_ key: String) -> Substring? {
        let needle = Array("'\(key)':")
        guard chars.count >= needle.count else { return nil }
        for i in 0...(chars.count - needle.count) where Array(chars[i..<(i + needle.count)]) == needle {
            return Substring(String(chars[(i + needle.count)...])).drop { $0 == " " }
        }
        return nil
    }
    guard let d = value("descr"), d.hasPrefix("'") else { throw CLIError("\(name): no dtype in .npy header") }
    let descr = String(d.dropFirst().prefix { $0 != "'" })
    let fortran = value("fortran_order")?.hasPrefix("True") ?? false
    guard let s = value("shape"), s.hasPrefix("(") else { throw CLIError("\(name): no shape in .npy header") }
    var dims: [Int] = []
    for part in s.dropFirst().prefix(while: { $0 != ")" }).split(separator: ",") {
        let t = part.trimmingCharacters(in: " ")
        if t.isEmpty { continue }
        guard let n = Int(t), n >= 0 else { throw CLIError("\(name): bad shape \(s.prefix { $0 != ")" }))") }
        dims.append(n)
    }
    var count = 1
    for n in dims {
        let (c, o) = count.multipliedReportingOverflow(by: n)
        guard !o, c <= 1 << 31 else { throw CLIError("\(name): shape \(dims) is too large") }
        count = c
    }
    let sizes: [String: Int] = ["<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "|u1": 1, "|i1": 1, "<i2": 2]
    guard let item = sizes[descr] else { throw CLIError("\(name): dtype \(descr) is not supported (f4, f8, i1, i2, i4, i8, u1)") }
    let start = off + hlen
    guard b.count - start == count * item else {
        throw CLIError("\(name): data size \(b.count - start) does not match shape \(dims) x \(item) bytes")
    }
    var raw = [Double](repeating: 0, count: count)
    b.withUnsafeBytes { p in
        guard let base0 = p.baseAddress else { return }
        let base = base0 + start
        for i in 0..<count {
            let q = base + i * item
            switch descr {
            case "<f4": raw[i] = Double(Float(bitPattern: UInt32(littleEndian: q.loadUnaligned(as: UInt32.self))))
            case "<f8": raw[i] = Double(bitPattern: UInt64(littleEndian: q.loadUnaligned(as: UInt64.self)))
            case "<i4": raw[i] = Double(Int32(littleEndian: q.loadUnaligned(as: Int32.self)))
            case "<i8": raw[i] = Double(Int64(littleEndian: q.loadUnaligned(as: Int64.self)))
            case "<i2": raw[i] = Double(Int16(littleEndian: q.loadUnaligned(as: Int16.self)))
            case "|u1": raw[i] = Double(q.load(as: UInt8.self))
            default: raw[i] = Double(q.load(as: Int8.self))
            }
        }
    }
    let isInteger = descr.contains("i") || descr.contains("u")
    guard fortran && dims.count > 1 else { return NDArray(shape: dims, data: raw, isInteger: isInteger) }
    // Fortran order: the first index varies fastest. Walk the C-order indices and gather.
    var fstride = [Int](repeating: 1, count: dims.count)
    for k in 1..<dims.count { fstride[k] = fstride[k - 1] * dims[k - 1] }
    var out = [Double](repeating: 0, count: count)
    var idx = [Int](repeating: 0, count: dims.count)
    for i in 0..<count {
        var src = 0
        for k in 0..<dims.count { src += idx[k] * fstride[k] }
        out[i] = raw[src]
        var k = dims.count - 1
        while k >= 0 {
            idx[k] += 1
            if idx[k] < dims[k] { break }
            idx[k] = 0
            k -= 1
        }
    }
    return NDArray(shape: dims, data: out, isInteger: isInteger)
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}

// MARK: - .npz (zip of .npy members, stored or deflated)

func parseNPZ(_ b: [UInt8], name: String) throws -> [String: NDArray] {
    var out: [String: NDArray] = [:]
    var i = 0
    func u16(_ o: Int) -> Int { o >= 0 && o + 2 <= b.count ? Int(b[o]) | Int(b[o + 1]) << 8 : 0 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    while i + 30 <= b.count && u32(i) == 0x0403_4B50 {
        let flags = u16(i + 6), method = u16(i + 8)
        var csize = u32(i + 18), usize = u32(i + 22)
        let nlen = u16(i + 26), xlen = u16(i + 28)
        guard i + 30 + nlen + xlen <= b.count else { throw CLIError("\(name): truncated zip entry") }
        let member = String(decoding: b[(i + 30)..<(i + 30 + nlen)], as: UTF8.self)
        // ZIP64 sizes live in the extra field.
        if csize == 0xFFFF_FFFF || usize == 0xFFFF_FFFF {
            let end = i + 30 + nlen + xlen
            var x = i + 30 + nlen
            while x + 4 <= end {
                let id = u16(x), sz = u16(x + 2)
                if id == 1 && sz >= 16 && x + 4 + 16 <= end {
                    usize = u32(x + 4) | u32(x + 8) << 32
                    csize = u32(x + 12) | u32(x + 16) << 32
                }
                x += 4 + sz
            }
        }
        guard flags & 0x8 == 0 else { throw CLIError("\(name): zip entries with data descriptors are not supported") }
        let start = i + 30 + nlen + xlen
        guard csize >= 0, csize <= b.count - start, usize <= 1 << 31 else {
            throw CLIError("\(name): truncated or oversized zip entry \(member)")
        }
        let data: [UInt8]
        switch method {
        case 0:
            data = Array(b[start..<(start + csize)])
        case 8:
            do {
                data = try b.withUnsafeBytes { p throws(RecurError) in
                    try Zlib.inflateExact(UnsafeRawBufferPointer(rebasing: p[start..<(start + csize)]), expected: usize, framing: .raw)
                }
            } catch {
                throw CLIError("\(name):\(member): corrupt deflate data (\(error))")
            }
        default:
            throw CLIError("\(name): zip method \(method) not supported")
        }
        let key = member.hasSuffix(".npy") ? String(member.dropLast(4)) : member
        out[key] = try parseNPY(data, name: "\(name):\(member)")
        i = start + csize
    }
    guard !out.isEmpty else { throw CLIError("\(name): not an .npz archive") }
    return out
}

// MARK: - CSV

/// Numeric CSV: comma, semicolon, tab or space separated; `#` lines skipped. A first line is a
/// header only when none of its cells is a number; any other non-numeric cell is an error naming
/// the line and column (a typo in a one-row file is not taken for a header).
func parseCSV(_ b: [UInt8], name: String) throws -> [[Double]] {
    var rows: [[Double]] = []
    var lineNo = 0
    var sawContent = false
    for line in String(decoding: b, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        lineNo += 1
        let text = line.hasSuffix("\r") ? line.dropLast() : line
        let cells = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == ";" })
        if cells.isEmpty || text.hasPrefix("#") { continue }
        let values = cells.map { Double($0) }
        let first = !sawContent
        sawContent = true
        if let bad = values.firstIndex(where: { $0 == nil }) {
            if first && values.allSatisfy({ $0 == nil }) { continue }  // a header line
            throw CLIError("\(name):\(lineNo): column \(bad + 1) is \"\(cells[bad])\", not a number")
        }
        rows.append(values.compactMap { $0 })
    }
    return rows
}
