// IEEE 754 binary16 conversion, in plain integer code so results are identical on
// every platform (and identical to numpy's float32 -> float16 cast: round to nearest,
// ties to even; overflow to Inf, which the writer then refuses as non-finite).

enum Half {
    /// float32 bits -> float16 bits, round to nearest even.
    static func fromFloat(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exp = Int((x >> 23) & 0xFF)
        var mant = x & 0x7F_FFFF
        if exp == 0xFF {  // Inf or NaN
            return sign | 0x7C00 | (mant != 0 ? 0x0200 | UInt16(mant >> 13) : 0)
        }
        let e = exp - 127 + 15
        if e >= 0x1F {  // overflow -> Inf
            return sign | 0x7C00
        }
        if e <= 0 {  // subnormal half or zero
            if e < -10 { return sign }
            mant |= 0x80_0000
            let shift = UInt32(14 - e)
            let halfMant = mant >> shift
            let rem = mant & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            var r = halfMant
            if rem > halfway || (rem == halfway && (halfMant & 1) == 1) { r += 1 }
            return sign | UInt16(r)
        }
        var h = UInt32(e) << 10 | (mant >> 13)
        let rem = mant & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) { h += 1 }  // may carry into exponent: correct
        return sign | UInt16(truncatingIfNeeded: h)
    }

    /// float16 bits -> float32 (exact).
    static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            // subnormal: mant * 2^-24
            let v = Float(mant) * Float(bitPattern: 0x3380_0000)  // 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }
}
