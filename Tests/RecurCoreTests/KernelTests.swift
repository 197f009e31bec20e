import Testing
@testable import RecurCore

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KernelTests {
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
        let huge = SIMD8<Float>(1e30, -1e30, 3e38, -3e38, 88.8, -88.8, 1e-40, -1e-40)
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
            if let fast = avx2Matvec {
                kernels.append(("avx2", { fast(rows, stride, w, stride, x, b, $0) }))
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

    @Test func activationKeepsPaddingZero() throws {
        let p = try AlignedBuffer.allocate(floats: 16)
        defer { AlignedBuffer.free(p) }
        for act in Activation.allCases {
            for i in 0..<16 { p[i] = Float(i) - 5 }
            Kernels.activate(act, p, valid: 11, count: 16)
            for i in 11..<16 { #expect(p[i] == 0, "\(act) pad \(i)") }
        }
    }
}
