import CZlib
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// A numeric array read from .npy / .npz / CSV: float64 values and a shape.
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

func readAll(_ path: String) throws -> [UInt8] {
    if path == "-" {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(0, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
    guard let f = fopen(path, "rb") else { throw CLIError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

func writeAll(_ path: String, _ bytes: [UInt8]) throws {
    guard let f = fopen(path, "wb") else { throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw CLIError("short write to \(path)") }
}

// MARK: - .npy

/// Parses a NumPy .npy file (versions 1-3; little-endian f4/f8/i4/i8/u1/i1, C order).
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
    func value(_ key: String) -> Substring? {
        let needle = Array("'\(key)':")
        let chars = Array(header)
        guard chars.count >= needle.count else { return nil }
        for i in 0...(chars.count - needle.count) where Array(chars[i..<(i + needle.count)]) == needle {
            return Substring(String(chars[(i + needle.count)...])).drop { $0 == " " }
        }
        return nil
    }
    guard let d = value("descr"), d.hasPrefix("'") else { throw CLIError("\(name): no dtype in .npy header") }
    let descr = String(d.dropFirst().prefix { $0 != "'" })
    if let f = value("fortran_order"), f.hasPrefix("True") { throw CLIError("\(name): Fortran-order arrays are not supported") }
    guard let s = value("shape"), s.hasPrefix("(") else { throw CLIError("\(name): no shape in .npy header") }
    let dims = s.dropFirst().prefix { $0 != ")" }.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: " ")) }
    let count = dims.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
    let sizes: [String: Int] = ["<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "|u1": 1, "|i1": 1, "<i2": 2]
    guard let item = sizes[descr] else { throw CLIError("\(name): dtype \(descr) is not supported (f4, f8, i1, i2, i4, i8, u1)") }
    let start = off + hlen
    guard count < Int.max / 8, b.count - start == count * item else {
        throw CLIError("\(name): data size \(b.count - start) does not match shape \(dims) x \(item) bytes")
    }
    var out = [Double](repeating: 0, count: count)
    b.withUnsafeBytes { p in
        let base = p.baseAddress! + start
        for i in 0..<count {
            let q = base + i * item
            switch descr {
            case "<f4": out[i] = Double(Float(bitPattern: UInt32(littleEndian: q.loadUnaligned(as: UInt32.self))))
            case "<f8": out[i] = Double(bitPattern: UInt64(littleEndian: q.loadUnaligned(as: UInt64.self)))
            case "<i4": out[i] = Double(Int32(littleEndian: q.loadUnaligned(as: Int32.self)))
            case "<i8": out[i] = Double(Int64(littleEndian: q.loadUnaligned(as: Int64.self)))
            case "<i2": out[i] = Double(Int16(littleEndian: q.loadUnaligned(as: Int16.self)))
            case "|u1": out[i] = Double(q.load(as: UInt8.self))
            default: out[i] = Double(q.load(as: Int8.self))
            }
        }
    }
    return NDArray(shape: dims, data: out, isInteger: descr.contains("i") || descr.contains("u"))
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
    func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    while i + 30 <= b.count && u32(i) == 0x0403_4B50 {
        let flags = u16(i + 6), method = u16(i + 8)
        var csize = u32(i + 18), usize = u32(i + 22)
        let nlen = u16(i + 26), xlen = u16(i + 28)
        guard i + 30 + nlen + xlen <= b.count else { throw CLIError("\(name): truncated zip entry") }
        let member = String(decoding: b[(i + 30)..<(i + 30 + nlen)], as: UTF8.self)
        // ZIP64 sizes live in the extra field.
        if csize == 0xFFFF_FFFF || usize == 0xFFFF_FFFF {
            var x = i + 30 + nlen
            while x + 4 <= i + 30 + nlen + xlen {
                let id = u16(x), sz = u16(x + 2)
                if id == 1 && sz >= 16 {
                    usize = u32(x + 4) | u32(x + 8) << 32
                    csize = u32(x + 12) | u32(x + 16) << 32
                }
                x += 4 + sz
            }
        }
        guard flags & 0x8 == 0 else { throw CLIError("\(name): zip entries with data descriptors are not supported") }
        let start = i + 30 + nlen + xlen
        guard csize >= 0, start + csize <= b.count, usize <= 1 << 31 else { throw CLIError("\(name): truncated or oversized zip entry \(member)") }
        let raw = Array(b[start..<(start + csize)])
        let data: [UInt8]
        switch method {
        case 0: data = raw
        case 8: data = try inflateRaw(raw, size: usize, name: "\(name):\(member)")
        default: throw CLIError("\(name): zip method \(method) not supported")
        }
        let key = member.hasSuffix(".npy") ? String(member.dropLast(4)) : member
        out[key] = try parseNPY(data, name: "\(name):\(member)")
        i = start + csize
    }
    guard !out.isEmpty else { throw CLIError("\(name): not an .npz archive") }
    return out
}

func inflateRaw(_ input: [UInt8], size: Int, name: String) throws -> [UInt8] {
    var strm = z_stream()
    guard inflateInit2_(&strm, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw CLIError("\(name): zlib init failed")
    }
    defer { inflateEnd(&strm) }
    var out = [UInt8](repeating: 0, count: max(size, 1))
    var src = input
    let rc: Int32 = src.withUnsafeMutableBufferPointer { ip in
        out.withUnsafeMutableBufferPointer { op in
            strm.next_in = ip.baseAddress
            strm.avail_in = uInt(ip.count)
            strm.next_out = op.baseAddress
            strm.avail_out = uInt(op.count)
            return inflate(&strm, Z_FINISH)
        }
    }
    guard rc == Z_STREAM_END, Int(strm.total_out) == size else { throw CLIError("\(name): corrupt deflate data") }
    return Array(out.prefix(size))
}

// MARK: - CSV

/// Numeric CSV: comma or whitespace separated; a first line with non-numeric cells is a header.
func parseCSV(_ b: [UInt8], name: String) throws -> [[Double]] {
    var rows: [[Double]] = []
    var lineNo = 0
    for line in String(decoding: b, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
        lineNo += 1
        let cells = line.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == ";" })
        if cells.isEmpty || line.hasPrefix("#") { continue }
        let values = cells.map { Double($0) }
        if values.contains(where: { $0 == nil }) {
            if rows.isEmpty && lineNo == 1 { continue }  // header
            throw CLIError("\(name):\(lineNo): non-numeric value")
        }
        rows.append(values.map { $0! })
    }
    return rows
}

/// Writes a line to standard error (unbuffered).
func eprint(_ s: String, newline: Bool = true) {
    let t = newline ? s + "\n" : s
    var bytes = Array(t.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
