// Vectorised math on SIMD8<Float>: exp/tanh/sigmoid polynomials, elementwise activations,
// the head's softmax/logistic, finiteness checks and axpy (portable; the AVX2 tanh/sigmoid in
// Kernels/CPU use the same polynomials).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Kernels {
    // MARK: - Vectorised transcendental functions
    //
    // exp8: Cephes expf polynomial with round-to-nearest range reduction; relative
    // error <= 2 ulp on [-87, 88]; inputs are clamped to that range (so exp8 never
    // returns Inf or a denormal).
    // tanh8: Cephes tanhf (odd polynomial for |x| < 0.625, 1 - 2/(exp(2|x|)+1) above);
    // measured max error vs double tanh: see Tests/RecurCoreTests/KernelTests.swift.
    // sigmoid8: 1 / (1 + exp(-x)).

    @inline(__always)
    static func exp8(_ xIn: SIMD8<Float>) -> SIMD8<Float> {
        // Clamp to [-87, 88] (NaN cannot occur: inputs are finite by contract).
        let lo = SIMD8<Float>(repeating: -87.0), hi = SIMD8<Float>(repeating: 88.0)
        var x = select(less(xIn, lo), lo, xIn)
        x = select(less(hi, x), hi, x)
        let magic = SIMD8<Float>(repeating: 12_582_912.0)  // 1.5 * 2^23: round to nearest
        let t = x * SIMD8(repeating: 1.442_695_040_888_963_4) + magic
        let n = t - magic
        var r = x - n * SIMD8(repeating: 0.693_359_375)
        r = r - n * SIMD8(repeating: -2.121_944_400_546_905_8e-4)
        let z = r * r
        var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
        p = p * r + SIMD8(repeating: 1.398_199_950_7e-3)
        p = p * r + SIMD8(repeating: 8.333_451_907_3e-3)
        p = p * r + SIMD8(repeating: 4.166_579_589_4e-2)
        p = p * r + SIMD8(repeating: 1.666_666_545_9e-1)
        p = p * r + SIMD8(repeating: 5.000_000_120_1e-1)
        let y = p * z + r + SIMD8(repeating: 1.0)
        // 2^n from the integer sitting in the low mantissa bits of t.
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let pow2 = unsafeBitCast((ni &+ 127) &<< 23, to: SIMD8<Float>.self)
        return y * pow2
    }

    @inline(__always)
    static func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let xi = asInt(x)
        let sign = xi & SIMD8(repeating: Int32(bitPattern: 0x8000_0000))
        let ax = asFloat(xi & SIMD8(repeating: 0x7FFF_FFFF))
        // Small |x|: odd polynomial.
        let s = x * x
        var p = SIMD8<Float>(repeating: -5.704_988_727_45e-3)
        p = p * s + SIMD8(repeating: 2.063_908_879_54e-2)
        p = p * s + SIMD8(repeating: -5.373_971_555_31e-2)
        p = p * s + SIMD8(repeating: 1.333_144_220_36e-1)
        p = p * s + SIMD8(repeating: -3.333_328_194_22e-1)
        let small = p * s * x + x
        // Large |x|: 1 - 2 / (exp(2|x|) + 1), sign restored. |x| >= 10 gives exactly 1.
        let ten = SIMD8<Float>(repeating: 10.0)
        let e = exp8(select(less(ax, ten), ax, ten) * SIMD8(repeating: 2.0))
        let one = SIMD8<Float>(repeating: 1.0)
        let big = asFloat(asInt(one - SIMD8(repeating: 2.0) / (e + one)) | sign)
        return select(less(ax, SIMD8(repeating: 0.625)), small, big)
    }

    // Lane selection through integer bit operations: SIMD8<Float> comparisons produce
    // a lane-by-lane loop through memory on the baseline x86-64 target (measured: about a
    // third of the step time at 10-20-5), while these compile to plain vector instructions.

    @inline(__always)
    static func asInt(_ v: SIMD8<Float>) -> SIMD8<Int32> { unsafeBitCast(v, to: SIMD8<Int32>.self) }

    @inline(__always)
    static func asFloat(_ v: SIMD8<Int32>) -> SIMD8<Float> { unsafeBitCast(v, to: SIMD8<Float>.self) }

    /// All-ones lanes where a < b (finite inputs): the sign of a - b.
    @inline(__always)
    static func less(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Int32> { asInt(a - b) &>> 31 }

    /// mask ? a : b, lane by lane.
    @inline(__always)
    static func select(_ mask: SIMD8<Int32>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        asFloat((asInt(a) & mask) | (asInt(b) & ~mask))
    }

    @inline(__always)
    static func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let one = SIMD8<Float>(repeating: 1.0)
        return one / (one + exp8(-x))
    }


    /// tanh8 over `count` floats (a multiple of 8).
    @inline(__always)
    static func tanhPortable(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            store8(tanh8(load8(v + k)), v + k)
            k += 8
        }
    }

    /// sigmoid8 over `count` floats (a multiple of 8).
    @inline(__always)
    static func sigmoidPortable(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            store8(sigmoid8(load8(v + k)), v + k)
            k += 8
        }
    }

    /// max(x, 0) in place over `count` floats (a multiple of 8); negative lanes and -0 become +0.
    @inline(__always)
    static func relu(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            let a = asInt(load8(v + k))
            store8(asFloat(a & ~(a &>> 31)), v + k)
            k += 8
        }
    }

    // Elementwise steps of the gated cells, over `count` floats (a multiple of 8, 32-byte aligned
    // pointers); an output may alias an input.

    /// out = a + b ⊙ c.
    @inline(__always)
    static func addProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
                           into out: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            store8(load8(a + k) + load8(b + k) * load8(c + k), out + k)
            k += 8
        }
    }

    /// out = a + b.
    @inline(__always)
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            store8(load8(a + k) + load8(b + k), out + k)
            k += 8
        }
    }

    /// dst[0..<count] = src[0..<count] (non-overlapping, any alignment): SIMD8 moves inline for the short
    /// vectors of a step (a call to memmove costs more than the copy there), memmove beyond.
    @inline(__always)
    static func copy(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        guard count <= 256 else { dst.update(from: src, count: count); return }
        // Unaligned moves: `src` may be the caller's buffer, at any float alignment.
        var k = 0
        while k + 8 <= count {
            let v = UnsafeRawPointer(src + k).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dst + k).storeBytes(of: v, as: SIMD8<Float>.self)
            k += 8
        }
        while k < count {
            dst[k] = src[k]
            k += 1
        }
    }

    /// out = a ⊙ b.
    @inline(__always)
    static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            store8(load8(a + k) * load8(b + k), out + k)
            k += 8
        }
    }

    /// The GRU update: out = n + z ⊙ (h − n) (= (1 − z) ⊙ n + z ⊙ h).
    @inline(__always)
    static func blend(_ n: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ h: UnsafePointer<Float>,
                      into out: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            let nv = load8(n + k)
            store8(nv + load8(z + k) * (load8(h + k) - nv), out + k)
            k += 8
        }
    }

    /// The LSTM cell: out = f ⊙ c + i ⊙ g.
    @inline(__always)
    static func cell(_ f: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ i: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                     into out: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        while k < count {
            store8(load8(f + k) * load8(c + k) + load8(i + k) * load8(g + k), out + k)
            k += 8
        }
    }

    /// Zeroes v[from ..< to] (keeps a row's padding zero after an activation).
    @inline(__always)
    static func zero(_ v: UnsafeMutablePointer<Float>, from: Int, to: Int) {
        var t = from
        while t < to {
            v[t] = 0
            t += 1
        }
    }

    /// The logistic function in place over `n` floats (scalar libm expf; head outputs).
    @inline(__always)
    static func logistic(_ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = 1 / (1 + expf(-y[i])) }
    }

    /// Softmax in place over `n` >= 1 floats (max subtracted first; scalar libm expf).
    @inline(__always)
    static func softmax(_ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = y[0]
        for i in 1..<max(n, 1) where y[i] > m { m = y[i] }
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(y[i] - m)
            y[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<n { y[i] *= inv }
    }

    /// True if all `n` floats are finite. Vectorised; no early exit. `x - x` is 0 for finite
    /// x and NaN for NaN/Inf, and NaN poisons the sum.
    @inline(__always)
    static func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
        var acc = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let v = (raw + i * 4).loadUnaligned(as: SIMD8<Float>.self)
            acc += v - v
            i += 8
        }
        var bad = reduce(acc)
        while i < n {
            bad += p[i] - p[i]
            i += 1
        }
        return bad == 0
    }

    /// y[0..<n] += alpha * x[0..<n]; n a multiple of 8, pointers 32-byte aligned.
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let a = SIMD8<Float>(repeating: alpha)
        var k = 0
        while k < n {
            store8(load8(y + k) + a * load8(x + k), y + k)
            k += 8
        }
    }

}
