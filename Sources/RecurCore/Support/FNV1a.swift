// Support/: the engine's shared ground (standard library only).

/// 64-bit FNV-1a, used for model fingerprints (not a security hash).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(byte b: UInt8) {
        value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3
    }

    mutating func add(_ v: UInt64) {
        var x = v
        for _ in 0..<8 {
            add(byte: UInt8(truncatingIfNeeded: x))
            x >>= 8
        }
    }

    /// Same result as `add(UInt64(bits))`: the four high bytes are zero, and hashing a zero
    /// byte is a multiplication by the prime, so they fold into one multiplication by prime⁴.
    @inline(__always)
    mutating func add(float bits: UInt32) {
        var v = value
        v = (v ^ UInt64(bits & 0xFF)) &* 0x0000_0100_0000_01b3
        v = (v ^ UInt64((bits >> 8) & 0xFF)) &* 0x0000_0100_0000_01b3
        v = (v ^ UInt64((bits >> 16) & 0xFF)) &* 0x0000_0100_0000_01b3
        v = (v ^ UInt64(bits >> 24)) &* 0x0000_0100_0000_01b3
        value = v &* FNV1a.prime4
    }

    static let prime4: UInt64 = 0x9ffa_ac08_5635_bc91  // 0x100000001b3 ** 4 mod 2**64

    mutating func add(_ s: String) {
        add(UInt64(s.utf8.count))
        for b in s.utf8 { add(byte: b) }
    }
}
