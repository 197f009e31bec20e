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

/// The fields of a `LayerLayout` the elementwise part reads (a few words, where the layout with
/// its products is a few hundred bytes to copy into every job).
@usableFromInline
struct UpdateShape {
    let kind: LayerKind
    let activation: Activation
    let size: Int, sizePad: Int, inputPad: Int, stride: Int, recur: Int, recurPad: Int, proj: Int

    @inline(__always)
    init(_ L: LayerLayout) {
        kind = L.kind
        activation = L.activation
        size = L.size
        sizePad = L.sizePad
        inputPad = L.inputPad
        stride = L.stride
        recur = L.recur
        recurPad = L.recurPad
        proj = L.proj
    }
}

/// The elementwise part of one layer's step for every stream (streams split across the parts):
/// the activation (elman) or the gate nonlinearities and cell arithmetic (GRU, LSTM), then the
/// copy of the new output into the next layer's input. Phases: see `Session.forward`.
@usableFromInline
struct LayerUpdate {
    let layout: UpdateShape
    let phase: Int
    let z: UnsafeMutablePointer<Float>, zStride: Int  // state: x | h (prev) [| c (prev)]
    let next: UnsafeMutablePointer<Float>, nextStride: Int  // new h [| new c]
    let gates: UnsafeMutablePointer<Float>, gateStride: Int
    let copyTo: UnsafeMutablePointer<Float>?, copyStride: Int
    let n: Int

    @inline(__always)
    func run(part: Int, parts: Int) {
        let b0 = n * part / parts
        let b1 = n * (part + 1) / parts
        let L = layout
        let hp = L.sizePad, H = L.size
        for b in b0..<b1 {
            let nx = next + b * nextStride
            let g = gates + b * gateStride
            let hPrev = UnsafePointer(z + b * zStride + L.inputPad)
            switch L.kind {
            case .elman:
                L.activation.apply(nx, valid: H, count: hp)
            case .gru:
                // r, z = σ(.); n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = n + z ⊙ (h − n)
                Kernels.sigmoid(g, count: 2 * hp)
                Kernels.addProduct(g + 2 * hp, g, g + 3 * hp, into: g + 2 * hp, count: hp)
                Kernels.tanh(g + 2 * hp, count: hp)
                Kernels.blend(g + 2 * hp, g + hp, hPrev, into: nx, count: hp)
            case .gruResetBefore:
                if phase == 0 {
                    // r, z = σ(.); v = r ⊙ h (the input of W_hn)
                    Kernels.sigmoid(g, count: 2 * hp)
                    Kernels.multiply(g, hPrev, into: g + 4 * hp, count: hp)
                    continue
                }
                // n = tanh(W_in x + b_in + W_hn v + b_hn); h' = n + z ⊙ (h − n)
                Kernels.add(g + 2 * hp, g + 3 * hp, into: g + 2 * hp, count: hp)
                Kernels.tanh(g + 2 * hp, count: hp)
                Kernels.blend(g + 2 * hp, g + hp, hPrev, into: nx, count: hp)
            case .lstm:
                if phase == 1 { break }  // projected: only the copy below
                // i, f, o = σ(.), g = tanh(.); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c')
                let cPrev = UnsafePointer(z + b * zStride + L.stride)
                Kernels.sigmoid(g, count: 2 * hp)
                Kernels.tanh(g + 2 * hp, count: hp)
                Kernels.sigmoid(g + 3 * hp, count: hp)
                Kernels.cell(g + hp, cPrev, g, g + 2 * hp, into: nx + L.recurPad, count: hp)
                Kernels.copy(nx + L.recurPad, into: g + 2 * hp, count: hp)
                Kernels.tanh(g + 2 * hp, count: hp)
                Kernels.multiply(g + 3 * hp, g + 2 * hp, into: L.proj > 0 ? g + 4 * hp : nx, count: hp)
                if L.proj > 0 { continue }  // the projection product writes h', then phase 1 copies
            }
            if let copyTo { Kernels.copy(nx, into: copyTo + b * copyStride, count: L.recur) }
        }
    }
}

let layerUpdateTask: rk_task_fn = { ctx, part, parts, _ in
    guard let ctx else { return }
    ctx.assumingMemoryBound(to: LayerUpdate.self).pointee.run(part: Int(part), parts: Int(parts))
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
