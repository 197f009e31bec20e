// Portable SIMD8 kernels (baseline x86-64, arm64, or RECUR_KERNELS=portable); `Kernels.swift`
// dispatches to them when the CPU-specific kernels are absent.
//
// Layout contract (kept by Model and Session): every row and vector starts at a
// 32-byte aligned address and is padded with zeros to a multiple of 8 floats, so
// kernels run whole SIMD8 chunks with aligned loads and no tails or bounds checks.
//
// Accumulation uses explicit SIMD8<Float> accumulators with `acc += a * b`; Swift
// does not reassociate float reductions itself, and `addProduct` becomes a libm call
// (fmaf) on the baseline x86-64 target.

extension Kernels {
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


    /// Horizontal sum in a fixed order: (0+4, 1+5, 2+6, 3+7) then pairwise.
    @inline(__always)
    static func reduce(_ a: SIMD8<Float>) -> Float {
        let h = a.lowHalf + a.highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
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
