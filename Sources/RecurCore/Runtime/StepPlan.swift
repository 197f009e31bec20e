import CRecurKernels

// The step plan: the units of work one step is made of (a matrix product over a layer's rows,
// a layer's activation over the streams, a whole step for a range of streams) and the pool
// entry points that run a share of each on a helper thread.

/// One matrix product of a step: out[b][r] = W_r · x_b + bias[r] for the rows of a layer (or
/// the head) and every stream; with `q` the int8 rows and scales are used instead of `w`.
@usableFromInline
struct RowProduct {
    let rows: Int, cols: Int
    let w: UnsafePointer<Float>, stride: Int
    let x: UnsafePointer<Float>, xStride: Int, n: Int
    let bias: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>, outStride: Int
    let q: UnsafeMutablePointer<Int8>?, split: Int
    let scaleA: UnsafeMutablePointer<Float>?, scaleB: UnsafeMutablePointer<Float>?
    let scratch: UnsafeMutablePointer<Int16>?, scratchStride: Int
    /// The rows in packed panels of 16 (`rk_pack16_fn`) for the packed GEMM kernel, or nil.
    let packed: UnsafePointer<Float>?

    /// Rows of part `part` of `parts` (blocks of 4 rows, or whole panels of 16 with `packed`),
    /// every stream; `worker` picks the int8 scratch row.
    @inline(__always)
    func run(part: Int, parts: Int, worker: Int = 0) {
        if let pk = packed {
            let panels = (rows + 15) / 16
            let r0 = 16 * (panels * part / parts)
            let r1 = min(rows, 16 * (panels * (part + 1) / parts))
            guard r1 > r0 else { return }
            Kernels.gemmPacked(
                rows: r1 - r0, cols: cols, packed: pk + r0 * cols, x: x, xStride: xStride, n: n, bias: bias + r0,
                out: out + r0, outStride: outStride)
            return
        }
        let blocks = (rows + 3) / 4
        let r0 = 4 * (blocks * part / parts)
        let r1 = min(rows, 4 * (blocks * (part + 1) / parts))
        guard r1 > r0 else { return }
        let m = r1 - r0
        if let q, let sa = scaleA, let sb = scaleB, let xq = scratch {
            for b in 0..<n {
                Kernels.matvecI8(
                    rows: m, cols: cols, split: split, q: q + r0 * stride, stride: stride, scaleA: sa + r0, scaleB: sb + r0,
                    x: x + b * xStride, bias: bias + r0, out: out + b * outStride + r0, scratch: xq + worker * scratchStride)
            }
        } else {
            Kernels.gemmBias(
                rows: m, cols: cols, w: w + r0 * stride, stride: stride, x: x, xStride: xStride, n: n,
                bias: bias + r0, out: out + r0, outStride: outStride)
        }
    }
}

/// Activation of one layer's new state for every stream, then its copy into the next layer's
/// input part; streams split across the parts.
@usableFromInline
struct StreamActivation {
    let activation: Activation
    let h: UnsafeMutablePointer<Float>, hStride: Int
    let valid: Int, count: Int
    let copyTo: UnsafeMutablePointer<Float>?, copyStride: Int
    let n: Int

    @inline(__always)
    func run(part: Int, parts: Int) {
        let b0 = n * part / parts
        let b1 = n * (part + 1) / parts
        for b in b0..<b1 {
            let hb = h + b * hStride
            activation.apply(hb, valid: valid, count: count)
            if let copyTo { (copyTo + b * copyStride).update(from: hb, count: valid) }
        }
    }
}

let streamActivationTask: rk_task_fn = { ctx, part, parts, _ in
    guard let ctx else { return }
    ctx.assumingMemoryBound(to: StreamActivation.self).pointee.run(part: Int(part), parts: Int(parts))
}

/// One step of a batch split by streams: part k of n runs streams [B*k/n, B*(k+1)/n) (on any
/// worker, with that worker's int8 scratch row).
struct StreamRangeStep {
    let session: UnsafeMutableRawPointer  // an unretained Session, alive for the call
    let y: UnsafeMutablePointer<Float>?
}

let streamRangeTask: rk_task_fn = { ctx, part, parts, worker in
    guard let ctx else { return }
    let job = ctx.assumingMemoryBound(to: StreamRangeStep.self).pointee
    let s = Unmanaged<Session>.fromOpaque(job.session).takeUnretainedValue()
    let b0 = s.batchSize * Int(part) / Int(parts)
    let b1 = s.batchSize * (Int(part) + 1) / Int(parts)
    s.forward(streams: b0, b1, job.y, worker: Int(worker), rowsOnPool: false)
}

/// The pool's entry point: ctx is a RowProduct.
let rowProductTask: rk_task_fn = { ctx, part, parts, worker in
    guard let ctx else { return }
    ctx.assumingMemoryBound(to: RowProduct.self).pointee.run(part: Int(part), parts: Int(parts), worker: Int(worker))
}
