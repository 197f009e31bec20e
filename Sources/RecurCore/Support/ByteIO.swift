// Support/: the engine's shared ground (standard library only).

/// Little-endian writer over raw memory whose size the caller checked.
struct ByteWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0
    init(_ base: UnsafeMutableRawPointer) { self.base = base }
    mutating func u16(_ v: UInt16) {
        (base + offset).storeBytes(of: v.littleEndian, as: UInt16.self)
        offset += 2
    }
    mutating func u32(_ v: UInt32) {
        (base + offset).storeBytes(of: v.littleEndian, as: UInt32.self)
        offset += 4
    }
    mutating func u64(_ v: UInt64) {
        (base + offset).storeBytes(of: v.littleEndian, as: UInt64.self)
        offset += 8
    }
}

/// Little-endian reader over raw memory whose size the caller checked.
struct ByteReader {
    let base: UnsafeRawPointer
    var offset = 0
    init(_ base: UnsafeRawPointer) { self.base = base }
    mutating func u16() -> UInt16 {
        defer { offset += 2 }
        return UInt16(littleEndian: (base + offset).loadUnaligned(as: UInt16.self))
    }
    mutating func u32() -> UInt32 {
        defer { offset += 4 }
        return UInt32(littleEndian: (base + offset).loadUnaligned(as: UInt32.self))
    }
    mutating func u64() -> UInt64 {
        defer { offset += 8 }
        return UInt64(littleEndian: (base + offset).loadUnaligned(as: UInt64.self))
    }
}
