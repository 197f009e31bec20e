// The numeric kernels. This folder is the only place with raw-pointer loops.
//
// This file is the facade: it alone reads the table of CPU-specific kernels (Kernels/CPU,
// chosen at run time) and dispatches to them or to the portable SIMD8 kernels of
// Portable.swift and SIMDMath.swift. Kernels know nothing of models: they take sizes,
// pointers and plain functions (Model/ maps activations and output transforms onto them).
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
/// portable SIMD8 kernels run. Selected once at first use and never changed (so it is not
/// mutable global state); `RECUR_KERNELS=portable` in the environment forces the portable
/// kernels. Private: every read goes through `Kernels`.
private let cpuKernels: rk_kernels = {
    if let e = getenv("RECUR_KERNELS"), String(cString: e) == "portable" {
        return rk_kernels(matvec: nil, gemm: nil, matvec_i8: nil, gram: nil, outer: nil, pack16: nil, gemm_packed: nil, tanh: nil, sigmoid: nil, adler32: nil)
    }
    return rk_kernels_avx2()
}()

/// Which kernels this process runs, for benchmarks and `recur bench` (they say which ran).
public enum KernelSet {
    /// "avx2+fma" (chosen at run time when the CPU has AVX2 and FMA) or "portable" (SIMD8 Swift;
    /// also forced by RECUR_KERNELS=portable).
    public static var name: String { Kernels.name }
}

@usableFromInline
enum Kernels {
    /// The kernel set this process runs: "avx2+fma" or "portable" (benchmarks and `recur bench`
    /// print it).
    static var name: String { cpuKernels.matvec != nil ? "avx2+fma" : "portable" }

    /// True when the AVX2+FMA kernels run (tests compare them with the portable ones).
    static var accelerated: Bool { cpuKernels.matvec != nil }

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


    /// tanh in place over `count` floats (a multiple of 8, 32-byte aligned).
    @inline(__always)
    static func tanh(_ v: UnsafeMutablePointer<Float>, count: Int) {
        if let fast = cpuKernels.tanh {
            fast(v, count)
        } else {
            tanhPortable(v, count: count)
        }
    }

    /// The logistic sigmoid in place over `count` floats (a multiple of 8, 32-byte aligned).
    @inline(__always)
    static func sigmoid(_ v: UnsafeMutablePointer<Float>, count: Int) {
        if let fast = cpuKernels.sigmoid {
            fast(v, count)
        } else {
            sigmoidPortable(v, count: count)
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


    /// True when batches of streams can use the packed GEMM kernel (AVX2+FMA only).
    static var hasPackedGEMM: Bool { cpuKernels.pack16 != nil && cpuKernels.gemm_packed != nil }

    /// Copies `rows` rows (stride `ws`) into panels of 16 rows for `gemmPacked` (see
    /// `rk_pack16_fn`). Returns false, writing nothing, without the packed kernels.
    @discardableResult
    static func pack16(rows: Int, cols: Int, w: UnsafePointer<Float>, ws: Int, into dst: UnsafeMutablePointer<Float>) -> Bool {
        guard let pack = cpuKernels.pack16 else { return false }
        pack(rows, cols, w, ws, dst)
        return true
    }

    /// out[b*os + r] = (one fused multiply-add chain over the packed row r) · x_b + bias[r] (see
    /// `rk_gemm_packed_fn`). Returns false, writing nothing, without the packed kernels.
    @inline(__always)
    @discardableResult
    static func gemmPacked(
        rows: Int, cols: Int, packed: UnsafePointer<Float>, x: UnsafePointer<Float>, xStride: Int, n: Int,
        bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int
    ) -> Bool {
        guard let gemm = cpuKernels.gemm_packed else { return false }
        gemm(rows, cols, packed, x, xStride, n, bias, out, outStride)
        return true
    }

    /// Adler-32 of `len` bytes continuing from `adler` with the SIMD kernel, or nil when this
    /// CPU has none (zlib then verifies the checksum itself).
    static var adler32: ((UInt32, UnsafePointer<UInt8>?, Int) -> UInt32)? {
        guard let f = cpuKernels.adler32 else { return nil }
        return { a, p, n in f(a, p, n) }
    }
}
