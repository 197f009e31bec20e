import Testing
@testable import RecurCore
import CZlib

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KernelTests {
    /// The step's short-vector copy moves exactly `count` floats between buffers at any float
    /// alignment (the caller's inputs may sit anywhere), touching nothing past them.
    @Test func copyAtAnyAlignment() {
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: 1200)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: 1200)
        defer { buf.deallocate(); out.deallocate() }
        for i in 0..<1200 { buf[i] = Float(i) + 0.5 }
        for count in [0, 1, 7, 8, 9, 16, 23, 256, 257, 1000] {
            for so in 0..<8 {
                for d in 0..<8 {
                    out.update(repeating: -1, count: 1200)
                    Kernels.copy(buf + so, into: out + d, count: count)
                    var ok = true
                    for i in 0..<1200 {
                        let want: Float = i >= d && i < d + count ? buf[so + i - d] : -1
                        if out[i] != want { ok = false }
                    }
                    #expect(ok, "count \(count), source offset \(so), destination offset \(d)")
                }
            }
        }
    }

    /// Max error of the vectorised transcendental functions against libm in double
    /// precision, over a dense grid. The bounds here are the documented accuracy.
    @Test func transcendentalAccuracy() {
        var maxTanhAbs = 0.0, maxTanhRel = 0.0, maxSigAbs = 0.0, maxExpRel = 0.0
        var x = -30.0
        while x < 30.0 {
            var v = SIMD8<Float>()
            for k in 0..<8 { v[k] = Float(x + Double(k) * 1e-4) }
            let t = Kernels.tanh8(v), s = Kernels.sigmoid8(v)
            let e = Kernels.exp8(v * SIMD8(repeating: 2.5))
            for k in 0..<8 {
                let xd = Double(v[k])
                let rt = tanh(xd)
                maxTanhAbs = max(maxTanhAbs, abs(Double(t[k]) - rt))
                if abs(rt) > 1e-30 { maxTanhRel = max(maxTanhRel, abs(Double(t[k]) - rt) / abs(rt)) }
                maxSigAbs = max(maxSigAbs, abs(Double(s[k]) - 1 / (1 + exp(-xd))))
                let xe = Double(v[k] * 2.5)
                if xe > -87 && xe < 88 {
                    let re = exp(xe)
                    maxExpRel = max(maxExpRel, abs(Double(e[k]) - re) / re)
                }
            }
            x += 0.0137
        }
        #expect(maxTanhAbs < 3e-7, "tanh max abs error \(maxTanhAbs)")
        #expect(maxTanhRel < 3e-7, "tanh max rel error \(maxTanhRel)")
        #expect(maxSigAbs < 3e-7, "sigmoid max abs error \(maxSigAbs)")
        #expect(maxExpRel < 3e-7, "exp max rel error \(maxExpRel)")
        // Saturation and odd symmetry.
        let big = Kernels.tanh8(SIMD8(repeating: 50))
        #expect(big == SIMD8(repeating: 1))
        let v = SIMD8<Float>(-3, -1, -0.5, -0.1, 0.1, 0.5, 1, 3)
        #expect(Kernels.tanh8(v) == -Kernels.tanh8(-v))
        #expect(Kernels.tanh8(SIMD8(repeating: 0)) == SIMD8(repeating: 0))
        // Never NaN for huge inputs.
        let huge = SIMD8<Float>(1e30, -1e30, 3e38, -3e38, 88.8, -88.8, Float(bitPattern: 0x0001_16C2), -Float(bitPattern: 0x0001_16C2))
        for f in [Kernels.tanh8(huge), Kernels.sigmoid8(huge), Kernels.exp8(huge)] {
            for k in 0..<8 { #expect(f[k].isFinite) }
        }
    }

    @Test func matvecMatchesDoubleOracle() throws {
        for (rows, cols) in [(1, 1), (3, 5), (4, 8), (7, 13), (33, 70), (256, 320)] {
            let stride = Kernels.pad8(cols)
            let w = try AlignedBuffer.allocate(floats: rows * stride)
            let x = try AlignedBuffer.allocate(floats: stride)
            let b = try AlignedBuffer.allocate(floats: rows)
            let out = try AlignedBuffer.allocate(floats: rows)
            defer { [w, x, b, out].forEach { AlignedBuffer.free($0) } }
            var rng = SplitMix(UInt64(rows * 1000 + cols))
            for r in 0..<rows {
                for c in 0..<cols { w[r * stride + c] = rng.float(-1, 1) }
                b[r] = rng.float(-1, 1)
            }
            for c in 0..<cols { x[c] = rng.float(-1, 1) }
            // Both kernels: the portable SIMD8 one always, the AVX2+FMA one where the CPU has it.
            var kernels: [(String, (UnsafeMutablePointer<Float>) -> Void)] = [
                ("portable", { Kernels.matvecBiasPortable(rows: rows, cols: stride, w: w, stride: stride, x: x, bias: b, out: $0) })
            ]
            if Kernels.accelerated {
                kernels.append(("avx2", { Kernels.matvecBias(rows: rows, cols: stride, w: w, stride: stride, x: x, bias: b, out: $0) }))
            }
            for (name, kernel) in kernels {
            kernel(out)
            for r in 0..<rows {
                var s = Double(b[r])
                var mag = abs(Double(b[r]))
                for c in 0..<cols {
                    s += Double(w[r * stride + c]) * Double(x[c])
                    mag += abs(Double(w[r * stride + c]) * Double(x[c]))
                }
                // Float32 summation error bound ~ n * eps * sum|terms|.
                #expect(abs(Double(out[r]) - s) <= Double(cols + 1) * 1.2e-7 * mag, "\(name) \(rows)x\(cols) row \(r)")
            }
            }
        }
    }

    /// The batched kernel gives, for every stream, the bits of the matrix-vector kernel of the
    /// same implementation (so batch sessions equal separate sessions), and both meet the oracle.
    @Test func gemmEqualsMatvecBitForBit() throws {
        for (rows, cols, n) in [(1, 3, 2), (4, 8, 3), (7, 13, 5), (33, 70, 17), (256, 320, 64)] {
            let stride = Kernels.pad8(cols)
            let xs = stride + 8  // a stream stride wider than the row, as in sessions
            let os = rows + 3
            let w = try AlignedBuffer.allocate(floats: rows * stride)
            let x = try AlignedBuffer.allocate(floats: n * xs)
            let b = try AlignedBuffer.allocate(floats: rows)
            let out = try AlignedBuffer.allocate(floats: n * os)
            let one = try AlignedBuffer.allocate(floats: rows)
            defer { [w, x, b, out, one].forEach { AlignedBuffer.free($0) } }
            var rng = SplitMix(UInt64(rows * 7 + n))
            for r in 0..<rows {
                for c in 0..<cols { w[r * stride + c] = rng.float(-1, 1) }
                b[r] = rng.float(-1, 1)
            }
            for s in 0..<n { for c in 0..<cols { x[s * xs + c] = rng.float(-1, 1) } }
            typealias K = (gemm: (UnsafeMutablePointer<Float>) -> Void, matvec: (Int, UnsafeMutablePointer<Float>) -> Void)
            var impls: [(String, K)] = [(
                "portable",
                ({ Kernels.gemmBiasPortable(rows: rows, cols: stride, w: w, stride: stride, x: x, xStride: xs, n: n, bias: b, out: $0, outStride: os) },
                 { Kernels.matvecBiasPortable(rows: rows, cols: stride, w: w, stride: stride, x: x + $0 * xs, bias: b, out: $1) })
            )]
            if Kernels.accelerated {
                impls.append(("avx2", (
                    { Kernels.gemmBias(rows: rows, cols: stride, w: w, stride: stride, x: x, xStride: xs, n: n, bias: b, out: $0, outStride: os) },
                    { Kernels.matvecBias(rows: rows, cols: stride, w: w, stride: stride, x: x + $0 * xs, bias: b, out: $1) })))
            }
            for (name, k) in impls {
                k.gemm(out)
                for s in 0..<n {
                    k.matvec(s, one)
                    for r in 0..<rows {
                        #expect(out[s * os + r].bitPattern == one[r].bitPattern, "\(name) \(rows)x\(cols) n\(n) stream \(s) row \(r)")
                        var ref = Double(b[r]), mag = abs(Double(b[r]))
                        for c in 0..<cols {
                            ref += Double(w[r * stride + c]) * Double(x[s * xs + c])
                            mag += abs(Double(w[r * stride + c]) * Double(x[s * xs + c]))
                        }
                        #expect(abs(Double(one[r]) - ref) <= Double(cols + 1) * 1.2e-7 * mag)
                    }
                }
            }
        }
    }

    /// The packed GEMM kernel (batches of >= Session.packedMinBatch streams on AVX2): each
    /// output is exactly one fused multiply-add chain over the columns plus the bias (checked
    /// against `Float.addingProduct`, which is a correctly rounded fma), whatever the panel,
    /// stream-block or row split; and it meets the double oracle.
    @Test func packedGemmIsOneFmaChainPerOutput() throws {
        guard Kernels.hasPackedGEMM else { return }
        for (rows, cols, n) in [(1, 3, 1), (5, 8, 2), (16, 16, 6), (17, 13, 7), (33, 70, 9), (40, 24, 10), (256, 320, 64)] {
            let stride = Kernels.pad8(cols)
            let xs = stride + 8
            let os = rows + 3
            let panels = (rows + 15) / 16
            let w = try AlignedBuffer.allocate(floats: rows * stride)
            let pk = try AlignedBuffer.allocate(floats: panels * 16 * stride)
            let x = try AlignedBuffer.allocate(floats: n * xs)
            let b = try AlignedBuffer.allocate(floats: rows)
            let out = try AlignedBuffer.allocate(floats: n * os)
            let out2 = try AlignedBuffer.allocate(floats: n * os)
            defer { [w, pk, x, b, out, out2].forEach { AlignedBuffer.free($0) } }
            var rng = SplitMix(UInt64(rows * 31 + n))
            for r in 0..<rows {
                for c in 0..<cols { w[r * stride + c] = rng.float(-1, 1) }
                b[r] = rng.float(-1, 1)
            }
            for s in 0..<n { for c in 0..<cols { x[s * xs + c] = rng.float(-1, 1) } }
            Kernels.pack16(rows: rows, cols: stride, w: w, ws: stride, into: pk)
            Kernels.gemmPacked(rows: rows, cols: stride, packed: pk, x: x, xStride: xs, n: n, bias: b, out: out, outStride: os)
            // The same products split by panels (as threads split them) and stream by stream.
            for p in 0..<panels {
                let r0 = 16 * p, r1 = min(rows, r0 + 16)
                for s in 0..<n {
                    Kernels.gemmPacked(rows: r1 - r0, cols: stride, packed: pk + r0 * stride, x: x + s * xs, xStride: xs, n: 1, bias: b + r0, out: out2 + s * os + r0, outStride: os)
                }
            }
            var bad = 0, oracleBad = 0
            for s in 0..<n {
                for r in 0..<rows {
                    var acc: Float = 0
                    for c in 0..<stride { acc = acc.addingProduct(w[r * stride + c], x[s * xs + c]) }
                    acc = acc + b[r]
                    if out[s * os + r].bitPattern != acc.bitPattern || out2[s * os + r].bitPattern != acc.bitPattern { bad += 1 }
                    var ref = Double(b[r]), mag = abs(Double(b[r]))
                    for c in 0..<cols {
                        ref += Double(w[r * stride + c]) * Double(x[s * xs + c])
                        mag += abs(Double(w[r * stride + c]) * Double(x[s * xs + c]))
                    }
                    if abs(Double(out[s * os + r]) - ref) > Double(cols + 1) * 1.2e-7 * mag { oracleBad += 1 }
                }
            }
            #expect(bad == 0, "\(rows)x\(cols) n\(n): \(bad) outputs differ from the fma chain")
            #expect(oracleBad == 0, "\(rows)x\(cols) n\(n): \(oracleBad) outputs outside the error bound")
        }
    }

    /// The AVX2 Adler-32 equals zlib's for every length around the block and reduction sizes,
    /// all-0xFF bytes (the largest sums), and continuation from a running value.
    @Test func adler32EqualsZlib() {
        guard let fast = Kernels.adler32 else { return }
        var rng = SplitMix(42)
        let big = (0..<200_000).map { _ in UInt8(truncatingIfNeeded: Int(rng.float(0, 256))) }
        let ones = [UInt8](repeating: 0xFF, count: 100_000)
        var bad = 0
        for data in [big, ones] {
            data.withUnsafeBufferPointer { p in
                guard let b = p.baseAddress else { return }
                for n in [0, 1, 31, 32, 33, 63, 64, 100, 5535, 5536, 5537, 5552, 11072, 11073, 65536, 99_999, p.count] where n <= p.count {
                    let z = UInt32(truncatingIfNeeded: adler32(1, b, uInt(n)))
                    if fast(1, b, n) != z { bad += 1 }
                    // continuing from a running value
                    let half = n / 2
                    let zz = UInt32(truncatingIfNeeded: adler32(adler32(1, b, uInt(half)), b + half, uInt(n - half)))
                    if fast(fast(1, b, half), b + half, n - half) != zz { bad += 1 }
                }
            }
        }
        #expect(bad == 0)
    }

    /// The AVX2 tanh and sigmoid (fused multiply-adds): the documented accuracy against double
    /// libm over a dense grid, within 2 ulp-ish of the portable functions, and the same special
    /// values (NaN stays NaN so the step's overflow check sees it; +-Inf and |x| >= 10 saturate).
    @Test func avx2ActivationsMeetTheBoundAndSpecialValues() throws {
        guard Kernels.accelerated else { return }
        let tanhFast: (UnsafeMutablePointer<Float>, Int) -> Void = { Kernels.tanh($0, count: $1) }
        let sigFast: (UnsafeMutablePointer<Float>, Int) -> Void = { Kernels.sigmoid($0, count: $1) }
        var vals: [Float] = []
        var x = -30.0
        while x < 30.0 {
            vals.append(Float(x))
            x += 0.00137
        }
        while vals.count % 8 != 0 { vals.append(0.5) }
        let n = vals.count
        let a = try AlignedBuffer.allocate(floats: n)
        defer { AlignedBuffer.free(a) }
        for (f, name) in [(tanhFast, "tanh"), (sigFast, "sigmoid")] {
            for i in 0..<n { a[i] = vals[i] }
            f(a, n)
            var maxAbs = 0.0, maxRel = 0.0, maxVsPortable: Float = 0
            var k = 0
            while k < n {
                var v = SIMD8<Float>()
                for j in 0..<8 { v[j] = vals[k + j] }
                let portable = name == "tanh" ? Kernels.tanh8(v) : Kernels.sigmoid8(v)
                for j in 0..<8 {
                    let xd = Double(vals[k + j])
                    let ref = name == "tanh" ? tanh(xd) : 1 / (1 + exp(-xd))
                    let err = abs(Double(a[k + j]) - ref)
                    maxAbs = max(maxAbs, err)
                    if abs(ref) > 1e-30 { maxRel = max(maxRel, err / abs(ref)) }
                    maxVsPortable = max(maxVsPortable, abs(a[k + j] - portable[j]))
                }
                k += 8
            }
            #expect(maxAbs < 3e-7, "\(name) max abs error \(maxAbs)")
            if name == "tanh" { #expect(maxRel < 3e-7, "tanh max rel error \(maxRel)") }
            #expect(maxVsPortable <= 2.5e-7, "\(name) vs portable \(maxVsPortable)")
        }
        let special: [Float] = [.nan, .infinity, -.infinity, 10, -10, 50, -50, 0, Float(bitPattern: 0x0001_16C2), -Float(bitPattern: 0x0001_16C2), 88.8, -88.8, 3e38, -3e38, 0.625, -0.625]
        let m = (special.count + 7) / 8 * 8
        let t = try AlignedBuffer.allocate(floats: m)
        let sg = try AlignedBuffer.allocate(floats: m)
        defer { AlignedBuffer.free(t); AlignedBuffer.free(sg) }
        for i in 0..<special.count { t[i] = special[i]; sg[i] = special[i] }
        tanhFast(t, m)
        sigFast(sg, m)
        #expect(t[0].isNaN && sg[0].isNaN)
        #expect(t[1] == 1 && t[2] == -1 && t[3] == 1 && t[4] == -1 && t[5] == 1 && t[6] == -1)
        #expect(sg[1] == 1 && sg[2] >= 0 && sg[2] < 1e-37 && sg[5] == 1)
        #expect(t[7] == 0 && sg[7] == 0.5)
        for i in 1..<special.count { #expect(t[i].isFinite && sg[i].isFinite, "\(special[i])") }
        #expect(abs(t[14] - Float(tanh(0.625))) < 3e-7 && t[15] == -t[14])
    }

    /// int8 rows with two segments and per-row scales: both implementations give the same
    /// bits (exact integer sums), and meet the double oracle within the int16 activation
    /// rounding (|dx| <= max|x_seg|/65534) plus float rounding.
    @Test func int8MatvecMatchesDoubleOracle() throws {
        for (rows, c1, c2) in [(1, 8, 8), (3, 8, 16), (5, 24, 40), (64, 64, 256), (67, 256, 0), (6, 8, 1104)] {
            let cols = c1 + c2
            let split = c2 == 0 ? cols : c1
            let q = UnsafeMutablePointer<Int8>.allocate(capacity: rows * cols)
            let sa = try AlignedBuffer.allocate(floats: rows), sb = try AlignedBuffer.allocate(floats: rows)
            let x = try AlignedBuffer.allocate(floats: cols), b = try AlignedBuffer.allocate(floats: rows)
            let out = try AlignedBuffer.allocate(floats: rows), first = try AlignedBuffer.allocate(floats: rows)
            let xq = try AlignedBuffer.allocate(int16: cols)
            defer {
                q.deallocate()
                [sa, sb, x, b, out, first].forEach { AlignedBuffer.free($0) }
                AlignedBuffer.free(xq)
            }
            var rng = SplitMix(UInt64(rows * 31 + cols))
            for i in 0..<(rows * cols) { q[i] = Int8(Int(rng.float(0, 1) * 255) - 127) }
            // Worst case for the int32 blocks: full-scale codes in one row.
            for c in 0..<cols { q[c] = 127 }
            for r in 0..<rows {
                sa[r] = rng.float(0.001, 0.01)
                sb[r] = rng.float(0.001, 0.01)
                b[r] = rng.float(-1, 1)
            }
            for c in 0..<cols { x[c] = c < split ? rng.float(-3, 3) : rng.float(-1, 1) }
            x[0] = 3.5  // a full-scale activation
            var impls: [(String, () -> Void)] = [("portable", {
                Kernels.matvecI8Portable(rows: rows, cols: cols, split: split, q: q, stride: cols, scaleA: sa, scaleB: sb, x: x, bias: b, out: out, scratch: xq)
            })]
            if Kernels.accelerated {
                impls.append(("avx2", {
                    Kernels.matvecI8(rows: rows, cols: cols, split: split, q: q, stride: cols, scaleA: sa, scaleB: sb, x: x, bias: b, out: out, scratch: xq)
                }))
            }
            var mx = [0.0, 0.0]
            for c in 0..<cols { mx[c < split ? 0 : 1] = max(mx[c < split ? 0 : 1], abs(Double(x[c]))) }
            for (k, (name, run)) in impls.enumerated() {
                run()
                for r in 0..<rows {
                    if k == 0 { first[r] = out[r] } else { #expect(out[r].bitPattern == first[r].bitPattern, "\(name) row \(r) differs from portable") }
                    var ref = Double(b[r]), mag = abs(Double(b[r])), qerr = 0.0
                    for c in 0..<cols {
                        let s = Double(c < split ? sa[r] : sb[r])
                        ref += s * Double(q[r * cols + c]) * Double(x[c])
                        mag += abs(s * Double(q[r * cols + c]) * Double(x[c]))
                        qerr += abs(s * Double(q[r * cols + c])) * mx[c < split ? 0 : 1] / 65534
                    }
                    #expect(abs(Double(out[r]) - ref) <= qerr * 1.01 + 8 * 1.2e-7 * mag, "\(name) \(rows)x\(cols) row \(r): \(out[r]) vs \(ref)")
                }
            }
        }
    }

    /// Gram update (upper triangle) against a double oracle, both implementations.
    @Test func gramMatchesDoubleOracle() throws {
        for (rows, n) in [(1, 1), (5, 7), (40, 17), (128, 33), (64, 64)] {
            let stride = Kernels.pad8(n)
            let f = try AlignedBuffer.allocate(floats: rows * stride)
            defer { AlignedBuffer.free(f) }
            var rng = SplitMix(UInt64(rows * 13 + n))
            for r in 0..<rows { for c in 0..<n { f[r * stride + c] = rng.float(-1, 1) } }
            let ld = n + 1
            var impls: [(String, (UnsafeMutablePointer<Double>) -> Void)] = [("portable", {
                Kernels.gramUpperPortable(f, rows: rows, n: n, stride: stride, g: $0, ld: ld)
            })]
            if Kernels.accelerated { impls.append(("avx2", { Kernels.gramUpper(f, rows: rows, n: n, stride: stride, g: $0, ld: ld) })) }
            for (name, run) in impls {
                var g = [Double](repeating: 0.5, count: n * ld + 1)
                g.withUnsafeMutableBufferPointer { p in if let base = p.baseAddress { run(base) } }
                for i in 0..<n {
                    for j in i..<n {
                        var ref = 0.0, mag = 0.0
                        for r in 0..<rows {
                            ref += Double(f[r * stride + i]) * Double(f[r * stride + j])
                            mag += abs(Double(f[r * stride + i]) * Double(f[r * stride + j]))
                        }
                        #expect(abs(g[i * ld + j] - 0.5 - ref) <= Double(rows + 1) * 1.2e-7 * mag + 1e-12, "\(name) \(rows)x\(n) (\(i),\(j))")
                    }
                    // The bias column (j = n) is never touched.
                    #expect(g[i * ld + n] == 0.5, "\(name) column n written")
                }
            }
        }
    }

    /// The head-gradient kernel equals a loop of per-row axpys bit for bit (both
    /// implementations), zero coefficients included.
    @Test func accumulateOuterEqualsAxpyLoop() throws {
        for (outputs, width, rows) in [(1, 8, 1), (3, 16, 5), (10, 264, 20), (13, 40, 7), (8, 8, 33)] {
            let f = try AlignedBuffer.allocate(floats: rows * width)
            let d = try AlignedBuffer.allocate(floats: rows * outputs)
            let g0 = try AlignedBuffer.allocate(floats: outputs * width)
            let ref = try AlignedBuffer.allocate(floats: outputs * width)
            defer { [f, d, g0, ref].forEach { AlignedBuffer.free($0) } }
            var rng = SplitMix(UInt64(outputs * 100 + rows))
            for i in 0..<(rows * width) { f[i] = rng.float(-1, 1) }
            for i in 0..<(rows * outputs) { d[i] = i % 5 == 0 ? 0 : rng.float(-1, 1) }
            ref.update(repeating: 0, count: outputs * width)
            for k in 0..<rows {
                for o in 0..<outputs where d[k * outputs + o] != 0 {
                    Kernels.axpy(d[k * outputs + o], f + k * width, ref + o * width, width)
                }
            }
            var impls: [(String, () -> Void)] = [("portable", {
                Kernels.accumulateOuterPortable(g0, outputs: outputs, width: width, f: f, rows: rows, d: d)
            })]
            if Kernels.accelerated { impls.append(("avx2", { Kernels.accumulateOuter(g0, outputs: outputs, width: width, f: f, rows: rows, d: d) })) }
            for (name, run) in impls {
                g0.update(repeating: 0, count: outputs * width)
                run()
                for i in 0..<(outputs * width) {
                    #expect(g0[i].bitPattern == ref[i].bitPattern, "\(name) \(outputs)x\(width) rows \(rows) element \(i)")
                }
            }
        }
    }

    @Test func activationKeepsPaddingZero() throws {
        let p = try AlignedBuffer.allocate(floats: 16)
        defer { AlignedBuffer.free(p) }
        for act in Activation.allCases {
            for i in 0..<16 { p[i] = Float(i) - 5 }
            act.apply(p, valid: 11, count: 16)
            for i in 11..<16 { #expect(p[i] == 0, "\(act) pad \(i)") }
        }
    }
}

@Suite struct FingerprintTests {
    /// The folded float step of FNV-1a equals hashing the zero-extended 64-bit value.
    @Test func floatStepEqualsEightByteStep() {
        var rng = SplitMix(11)
        var a = FNV1a(), b = FNV1a()
        for i in 0..<10_000 {
            let bits = i < 4 ? [0, 0xFFFF_FFFF, 0x8000_0000, 1][i] : UInt32(truncatingIfNeeded: rng.next())
            a.add(float: bits)
            b.add(UInt64(bits))
            #expect(a.value == b.value)
        }
    }
}
