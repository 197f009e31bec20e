// The numeric kernels. This folder is the only place with raw-pointer loops.
//
// Layout contract (kept by Model and Session): every row and vector starts at a
// 32-byte aligned address and is padded with zeros to a multiple of 8 floats, so
// kernels run whole SIMD8 chunks with aligned loads and no tails or bounds checks.
//
// Accumulation uses explicit SIMD8<Float> accumulators with `acc += a * b`; Swift
// does not reassociate float reductions itself, and `addProduct` becomes a libm call
// (fmaf) on the baseline x86-64 target.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRecurKernels

/// The CPU-specific kernels for this CPU: AVX2+FMA when available, else all nil and the
/// portable SIMD8 code below runs. Selected once at first use and never changed (so it is not
/// mutable global state); `RECUR_KERNELS=portable` in the environment forces the portable
/// kernels.
let cpuKernels: rk_kernels = {
    if let e = getenv("RECUR_KERNELS"), String(cString: e) == "portable" {
        return rk_kernels(matvec: nil, gemm: nil, matvec_i8: nil, gram: nil, outer: nil, pack16: nil, gemm_packed: nil, tanh: nil, sigmoid: nil, adler32: nil)
    }
    return rk_kernels_avx2()
}()

@usableFromInline
enum Kernels {
    /// Rounds `n` up to a multiple of 8.
    @inline(__always)
    static func pad8(_ n: Int) -> Int { (n + 7) & ~7 }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).load(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// out[r] = dot(w[r*stride ..< r*stride+cols], x[0..<cols]) + bias[r] for r in 0..<rows.
    /// `cols` and `stride` are multiples of 8; w, x aligned to 32 bytes.
    /// Each row's sum is computed in the same order whatever the row blocking, so results
    /// are bit-identical across batch layouts.
    @inline(__always)
    static func matvecBias(
        rows: Int, cols: Int, w: UnsafePointer<Float>, stride: Int,
        x: UnsafePointer<Float>, bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        if let fast = cpuKernels.matvec {
            fast(rows, cols, w, stride, x, bias, out)
        } else {
            matvecBiasPortable(rows: rows, cols: cols, w: w, stride: stride, x: x, bias: bias, out: out)
        }
    }

    /// The portable kernel (baseline x86-64 / any SIMD target): 4 rows x SIMD8 accumulators.
    @inline(__always)
    static func matvecBiasPortable(
        rows: Int, cols: Int, w: UnsafePointer<Float>, stride: Int,
        x: UnsafePointer<Float>, bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        var r = 0
        while r + 4 <= rows {
            let p0 = w + r * stride
            let p1 = p0 + stride
            let p2 = p1 + stride
            let p3 = p2 + stride
            var a0 = SIMD8<Float>()
            var a1 = SIMD8<Float>()
            var a2 = SIMD8<Float>()
            var a3 = SIMD8<Float>()
            var k = 0
            while k < cols {
                let v = load8(x + k)
                a0 += load8(p0 + k) * v
                a1 += load8(p1 + k) * v
                a2 += load8(p2 + k) * v
                a3 += load8(p3 + k) * v
                k += 8
            }
            out[r] = reduce(a0) + bias[r]
            out[r + 1] = reduce(a1) + bias[r + 1]
            out[r + 2] = reduce(a2) + bias[r + 2]
            out[r + 3] = reduce(a3) + bias[r + 3]
            r += 4
        }
        while r < rows {
            let p0 = w + r * stride
            var a0 = SIMD8<Float>()
            var k = 0
            while k < cols {
                a0 += load8(p0 + k) * load8(x + k)
                k += 8
            }
            out[r] = reduce(a0) + bias[r]
            r += 1
        }
    }

    /// Batched: out[b*os + r] = dot(w_r, x + b*xs) + bias[r] for r < rows, b < n. Each output is
    /// summed exactly as `matvecBias` sums it, so a batch gives the bits of separate steps.
    /// (Sessions of `Session.packedMinBatch`+ streams use the packed GEMM kernel instead when
    /// the CPU kernels have one: see `RowProduct`.)
    @inline(__always)
    static func gemmBias(
        rows: Int, cols: Int, w: UnsafePointer<Float>, stride: Int,
        x: UnsafePointer<Float>, xStride: Int, n: Int,
        bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        if n == 1 {
            matvecBias(rows: rows, cols: cols, w: w, stride: stride, x: x, bias: bias, out: out)
        } else if let fast = cpuKernels.gemm {
            fast(rows, cols, w, stride, x, xStride, n, bias, out, outStride)
        } else {
            gemmBiasPortable(rows: rows, cols: cols, w: w, stride: stride, x: x, xStride: xStride, n: n,
                             bias: bias, out: out, outStride: outStride)
        }
    }

    /// Portable batched kernel: 4 rows x 2 streams of SIMD8 accumulators, streams in blocks of 16.
    static func gemmBiasPortable(
        rows: Int, cols: Int, w: UnsafePointer<Float>, stride: Int,
        x: UnsafePointer<Float>, xStride: Int, n: Int,
        bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        var b0 = 0
        while b0 < n {
            let b1 = min(b0 + 16, n)
            var r = 0
            while r + 4 <= rows {
                let p0 = w + r * stride, p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride
                var b = b0
                while b + 2 <= b1 {
                    let xa = x + b * xStride, xb = xa + xStride
                    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                    var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
                    var k = 0
                    while k < cols {
                        let va = load8(xa + k), vb = load8(xb + k)
                        let w0 = load8(p0 + k), w1 = load8(p1 + k), w2 = load8(p2 + k), w3 = load8(p3 + k)
                        a0 += w0 * va
                        c0 += w0 * vb
                        a1 += w1 * va
                        c1 += w1 * vb
                        a2 += w2 * va
                        c2 += w2 * vb
                        a3 += w3 * va
                        c3 += w3 * vb
                        k += 8
                    }
                    let oa = out + b * outStride + r, ob = oa + outStride
                    oa[0] = reduce(a0) + bias[r]
                    oa[1] = reduce(a1) + bias[r + 1]
                    oa[2] = reduce(a2) + bias[r + 2]
                    oa[3] = reduce(a3) + bias[r + 3]
                    ob[0] = reduce(c0) + bias[r]
                    ob[1] = reduce(c1) + bias[r + 1]
                    ob[2] = reduce(c2) + bias[r + 2]
                    ob[3] = reduce(c3) + bias[r + 3]
                    b += 2
                }
                if b < b1 {
                    matvecBiasPortable(rows: 4, cols: cols, w: p0, stride: stride, x: x + b * xStride,
                                       bias: bias + r, out: out + b * outStride + r)
                }
                r += 4
            }
            if r < rows {
                for b in b0..<b1 {
                    matvecBiasPortable(rows: rows - r, cols: cols, w: w + r * stride, stride: stride,
                                       x: x + b * xStride, bias: bias + r, out: out + b * outStride + r)
                }
            }
            b0 = b1
        }
    }

    /// int8 rows with two per-row scales (columns [0, split) and [split, cols)). The activations
    /// are quantised to int16 per segment (scale max|x|/32767, round half to even), products
    /// are summed exactly in Int32 in blocks of 512 columns (|sum| < 2^31), each block added in Float:
    /// out[r] = ((sa[r]·xs_a)·Σ_a + (sb[r]·xs_b)·Σ_b) + bias[r]. Integer sums do not depend on
    /// the order, so the portable and AVX2 kernels give the same bits. `scratch` holds `cols`
    /// Int16 (32-byte aligned).
    @inline(__always)
    static func matvecI8(
        rows: Int, cols: Int, split: Int, q: UnsafePointer<Int8>, stride: Int,
        scaleA: UnsafePointer<Float>, scaleB: UnsafePointer<Float>,
        x: UnsafePointer<Float>, bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Int16>
    ) {
        if let fast = cpuKernels.matvec_i8 {
            fast(rows, cols, split, q, stride, scaleA, scaleB, x, bias, out, scratch)
        } else {
            matvecI8Portable(rows: rows, cols: cols, split: split, q: q, stride: stride, scaleA: scaleA,
                             scaleB: scaleB, x: x, bias: bias, out: out, scratch: scratch)
        }
    }

    /// Quantises n floats (a multiple of 8) to int16; returns the scale (0 for all zeros).
    static func quantise16(_ x: UnsafePointer<Float>, _ n: Int, _ xq: UnsafeMutablePointer<Int16>) -> Float {
        var m: Float = 0
        for k in 0..<n { m = max(m, abs(x[k])) }
        guard m > 0 else {
            xq.update(repeating: 0, count: n)
            return 0
        }
        let inv: Float = 32767 / m
        for k in 0..<n {
            let v = min(max(x[k] * inv, -32767), 32767)
            xq[k] = Int16(v.rounded(.toNearestOrEven))
        }
        return m / 32767
    }

    static func matvecI8Portable(
        rows: Int, cols: Int, split: Int, q: UnsafePointer<Int8>, stride: Int,
        scaleA: UnsafePointer<Float>, scaleB: UnsafePointer<Float>,
        x: UnsafePointer<Float>, bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        scratch xq: UnsafeMutablePointer<Int16>
    ) {
        let xa = quantise16(x, split, xq)
        let xb = split < cols ? quantise16(x + split, cols - split, xq + split) : 0
        func segment(_ p: UnsafePointer<Int8>, _ lo: Int, _ hi: Int) -> Float {
            var f: Float = 0
            var b = lo
            while b < hi {
                let e = min(b + 512, hi)
                var acc = SIMD8<Int32>()
                var k = b
                while k < e {
                    let w = SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(p + k).loadUnaligned(as: SIMD8<Int8>.self))
                    let v = SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(xq + k).loadUnaligned(as: SIMD8<Int16>.self))
                    acc &+= w &* v
                    k += 8
                }
                f += Float(acc.wrappedSum())
                b = e
            }
            return f
        }
        for r in 0..<rows {
            let p = q + r * stride
            let ra = segment(p, 0, split)
            let rb: Float = split < cols ? segment(p, split, cols) : 0
            out[r] = ((scaleA[r] * xa) * ra + (scaleB[r] * xb) * rb) + bias[r]
        }
    }

    /// Horizontal sum in a fixed order: (0+4, 1+5, 2+6, 3+7) then pairwise.
    @inline(__always)
    static func reduce(_ a: SIMD8<Float>) -> Float {
        let h = a.lowHalf + a.highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }

    /// Applies `act` in place to `count` floats (a multiple of 8), then zeroes
    /// `v[valid ..< count]` so the padding stays zero.
    @inline(__always)
    static func activate(_ act: Activation, _ v: UnsafeMutablePointer<Float>, valid: Int, count: Int) {
        var k = 0
        switch act {
        case .identity:
            break
        case .relu:
            while k < count {
                let a = asInt(load8(v + k))
                store8(asFloat(a & ~(a &>> 31)), v + k)  // clear negative lanes (and -0)
                k += 8
            }
        case .tanh:
            if let fast = cpuKernels.tanh {
                fast(v, count)
                k = count
            }
            while k < count {
                store8(tanh8(load8(v + k)), v + k)
                k += 8
            }
        case .sigmoid:
            if let fast = cpuKernels.sigmoid {
                fast(v, count)
                k = count
            }
            while k < count {
                store8(sigmoid8(load8(v + k)), v + k)
                k += 8
            }
        }
        var t = valid
        while t < count {
            v[t] = 0
            t += 1
        }
    }

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

    /// Applies the head's output transform in place to `n` floats.
    @inline(__always)
    static func outputTransform(_ t: OutputTransform, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch t {
        case .none:
            return
        case .sigmoid:
            for i in 0..<n { y[i] = 1 / (1 + expf(-y[i])) }
        case .softmax:
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
}

extension Kernels {
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

    /// g[o][0..<width] += Σ_k d[k][o] · f[k][0..<width] for o < outputs, k < rows (g and f rows
    /// `width` apart, a multiple of 8; d rows `outputs` apart). Each element receives its terms
    /// in row order computed as `g + d * f`, exactly like a per-row `axpy` (a term with d = 0
    /// adds a zero, which changes nothing: the sums start at +0 and never become -0), so the bits
    /// equal a loop of axpys — in the AVX2 kernel (multiply and add, no FMA) and here.
    @inline(__always)
    static func accumulateOuter(
        _ g: UnsafeMutablePointer<Float>, outputs: Int, width: Int, f: UnsafePointer<Float>, rows: Int,
        d: UnsafePointer<Float>
    ) {
        if let fast = cpuKernels.outer {
            fast(outputs, width, g, f, rows, d)
        } else {
            accumulateOuterPortable(g, outputs: outputs, width: width, f: f, rows: rows, d: d)
        }
    }

    static func accumulateOuterPortable(
        _ g: UnsafeMutablePointer<Float>, outputs: Int, width: Int, f: UnsafePointer<Float>, rows: Int,
        d: UnsafePointer<Float>
    ) {
        var o = 0
        while o + 4 <= outputs {
            var j = 0
            while j < width {
                let g0 = g + o * width + j, g1 = g0 + width, g2 = g1 + width, g3 = g2 + width
                var a0 = load8(g0), a1 = load8(g1), a2 = load8(g2), a3 = load8(g3)
                for k in 0..<rows {
                    let fv = load8(f + k * width + j)
                    let dk = d + k * outputs + o
                    a0 = a0 + SIMD8(repeating: dk[0]) * fv
                    a1 = a1 + SIMD8(repeating: dk[1]) * fv
                    a2 = a2 + SIMD8(repeating: dk[2]) * fv
                    a3 = a3 + SIMD8(repeating: dk[3]) * fv
                }
                store8(a0, g0)
                store8(a1, g1)
                store8(a2, g2)
                store8(a3, g3)
                j += 8
            }
            o += 4
        }
        while o < outputs {
            var j = 0
            while j < width {
                let g0 = g + o * width + j
                var a0 = load8(g0)
                for k in 0..<rows { a0 = a0 + SIMD8(repeating: d[k * outputs + o]) * load8(f + k * width + j) }
                store8(a0, g0)
                j += 8
            }
            o += 1
        }
    }

    /// G[i][j] += Σ_r F[r][i] F[r][j] for j >= i (upper triangle; some entries below the
    /// diagonal inside diagonal blocks are written too, callers mirror the upper triangle),
    /// over `rows` rows of `n` floats (stride `stride`, a multiple of 8). Float accumulation
    /// within the call, Double in G.
    static func gramUpper(_ f: UnsafePointer<Float>, rows: Int, n: Int, stride: Int, g: UnsafeMutablePointer<Double>, ld: Int) {
        if let fast = cpuKernels.gram {
            fast(f, rows, n, stride, g, ld)
        } else {
            gramUpperPortable(f, rows: rows, n: n, stride: stride, g: g, ld: ld)
        }
    }

    static func gramUpperPortable(_ f: UnsafePointer<Float>, rows: Int, n: Int, stride: Int, g: UnsafeMutablePointer<Double>, ld: Int) {
        for i in 0..<n {
            var j0 = (i / 8) * 8
            while j0 < n {
                var acc = SIMD8<Float>()
                var r = 0
                while r < rows {
                    let row = f + r * stride
                    acc += SIMD8(repeating: row[i]) * load8(row + j0)
                    r += 1
                }
                let gi = g + i * ld + j0
                let lim = min(8, n - j0)
                for k in 0..<lim { gi[k] += Double(acc[k]) }
                j0 += 8
            }
        }
    }
}
