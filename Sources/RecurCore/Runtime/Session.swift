import CRecurKernels

/// Recurrent state of `batchSize` independent streams of one model.
///
/// A session is used by one thread at a time (it may move between threads). It holds a
/// strong reference to its model. Stepping allocates nothing.
public final class Session {
    public let model: Model
    public let batchSize: Int

    // Per stream, per layer: z[l] = [x_l padded | h_l padded] (layout[l].stride floats), then the
    // cell state c_l (sizePad floats) for an LSTM layer (`LayerLayout.stateBlock`).
    @usableFromInline let state: UnsafeMutablePointer<Float>
    @usableFromInline let streamStride: Int
    @usableFromInline let layerOffsets: [Int]  // offset of z[l] inside one stream
    /// The next state of every stream and layer, computed before anything is committed
    /// ([stream][layer] blocks: h (recurPad), then c for LSTM), so a step that would overflow
    /// leaves the state unchanged.
    @usableFromInline let next: UnsafeMutablePointer<Float>
    @usableFromInline let nextOffsets: [Int]  // offset of layer l inside one stream's block
    let nextStride: Int
    let stateFloats: Int
    /// Gated layers: each stream's gate pre-activations and intermediates (`gateStride` floats,
    /// the most any layer needs; see `LayerLayout.make`).
    @usableFromInline let gates: UnsafeMutablePointer<Float>
    @usableFromInline let gateStride: Int
    /// int8 models: the activations quantised to int16 by the int8 kernel, one widest row
    /// per thread (`scratchStride` apart).
    @usableFromInline var qscratch: UnsafeMutablePointer<Int16>?
    @usableFromInline var scratchStride: Int = 0
    /// Helper threads (nil with one thread): see `setThreads`.
    var pool: OpaquePointer? = nil
    /// Threads one step uses (1 = the caller only; the default).
    public private(set) var threads: Int = 1
    /// Tests: how the pool splits jobs (Kernels/CPU/pool.c), kept across `setThreads`.
    enum PoolMode: Int32 {
        case adaptive = 0  // RK_POOL_ADAPTIVE: split while it pays
        case always = 1  // RK_POOL_ALWAYS: every job across the workers
        case never = 2  // RK_POOL_NEVER: every job on the caller, as one part
    }
    var poolMode: PoolMode = .adaptive {
        didSet { if let p = pool { rk_pool_set_mode(p, poolMode.rawValue) } }
    }
    /// Tests and benchmarks: pooled jobs so far, those the caller ran alone, parts the helpers ran.
    var poolStats: (runs: UInt64, solo: UInt64, helperParts: UInt64) {
        var r: UInt64 = 0, s: UInt64 = 0, h: UInt64 = 0
        rk_pool_stats(pool, &r, &s, &h)
        return (r, s, h)
    }
    /// Products smaller than this many multiply-adds stay on the calling thread: below about
    /// 10 µs of work a fork-join costs more than half the product saves (a 32 x 1024 head, for
    /// one, is faster alone).
    static let parallelThreshold = 1 << 17
    /// Batches of at least this many streams use the packed GEMM kernel on the AVX2 kernels
    /// (the model's packed panels, `Model.packedWeights()`); smaller batches and batch 1 use
    /// the row kernels, which are faster there.
    public static let packedMinBatch = 4
    /// With threads, batches of at least this many streams per thread are split by streams
    /// (each thread steps whole streams through every layer: one fork-join per step) when the
    /// weights fit in a core's L2 cache (`streamSplitMaxWeights` floats, 1 MiB); otherwise, and
    /// for smaller batches, every product is split by rows so each core streams half of the
    /// weights. Measured at 64 streams: stream split ~6% faster at 64-256-10, row split ~6%
    /// faster at 256-1024-32. Either way every output is computed as on one thread.
    static let streamSplitMin = 4
    static let streamSplitMaxWeights = 1 << 18
    /// The model's packed layer weights when this session uses the packed kernel, else nil.
    @usableFromInline let packed: UnsafePointer<Float>?

    /// A session of `batchSize` streams (1...65536), state zero.
    public init(model: Model, batchSize: Int = 1) throws(RecurError) {
        guard (1...ModelLimits.maxBatch).contains(batchSize) else {
            throw RecurError(.invalidArgument, "batch size \(batchSize) is outside 1...\(ModelLimits.maxBatch)")
        }
        let packed = batchSize >= Session.packedMinBatch ? try model.packedWeights() : nil
        var offsets: [Int] = []
        var nextOffsets: [Int] = []
        var per = 0
        var nextPer = 0
        for lay in model.layout {
            offsets.append(per)
            per += lay.stateBlock
            nextOffsets.append(nextPer)
            nextPer += lay.nextBlock
        }
        let gateStride = model.layout.map { $0.gateFloats }.max() ?? 0
        let (total, overflow) = per.multipliedReportingOverflow(by: batchSize)
        let (nextTotal, overflow2) = nextPer.multipliedReportingOverflow(by: batchSize)
        let (gateTotal, overflow3) = gateStride.multipliedReportingOverflow(by: batchSize)
        guard !overflow && !overflow2 && !overflow3 else { throw RecurError(.outOfMemory, "session state too large") }
        self.model = model
        self.batchSize = batchSize
        self.packed = packed
        self.streamStride = per
        self.layerOffsets = offsets
        self.stateFloats = total
        self.nextOffsets = nextOffsets
        self.nextStride = nextPer
        self.gateStride = gateStride
        self.state = try AlignedBuffer.allocate(floats: total)
        do {
            self.next = try AlignedBuffer.allocate(floats: nextTotal)
        } catch {
            AlignedBuffer.free(self.state)
            throw error
        }
        do {
            self.gates = try AlignedBuffer.allocate(floats: gateTotal)
        } catch {
            AlignedBuffer.free(self.state)
            AlignedBuffer.free(self.next)
            throw error
        }
        if model.qweights != nil {
            let widest = max(model.headStride, model.layout.flatMap { $0.products.map { $0.cols } }.max() ?? 0)
            do {
                self.qscratch = try AlignedBuffer.allocate(int16: widest)
                self.scratchStride = widest
            } catch {
                AlignedBuffer.free(self.state)
                AlignedBuffer.free(self.next)
                AlignedBuffer.free(self.gates)
                throw error
            }
        } else {
            self.qscratch = nil
        }
    }

    deinit {
        AlignedBuffer.free(state)
        AlignedBuffer.free(next)
        AlignedBuffer.free(gates)
        if let q = qscratch { AlignedBuffer.free(q) }
        if let p = pool { rk_pool_free(p) }
    }

    /// Splits each step across `n` threads (1...16): the caller plus n - 1 helper threads owned
    /// by this session. Results are bit-identical to one thread: products are split by rows
    /// (each row summed as before; batch activations by streams), or, for batches of at least
    /// `streamSplitMin` streams per thread on models within `streamSplitMaxWeights`, each
    /// thread steps whole streams. The split only happens while it pays: when the machine has
    /// more runnable threads than CPUs, or the helpers are late or preempted, the caller runs the
    /// step alone (Kernels/CPU/pool.c; bench/load_bench.c measures it). Helpers spin for up to
    /// about a millisecond after each step waiting for the next one, less while they arrive late,
    /// then sleep; they end when the session is freed or the setting goes back to 1. On error the
    /// setting is unchanged.
    public func setThreads(_ n: Int) throws(RecurError) {
        guard (1...ModelLimits.maxThreads).contains(n) else {
            throw RecurError(.invalidArgument, "threads \(n) is outside 1...\(ModelLimits.maxThreads)")
        }
        if n == threads { return }
        var newScratch: UnsafeMutablePointer<Int16>? = nil
        if qscratch != nil {
            newScratch = try AlignedBuffer.allocate(int16: scratchStride * n)
        }
        var newPool: OpaquePointer? = nil
        if n > 1 {
            guard let p = rk_pool_create(Int32(n - 1)) else {
                if let s = newScratch { AlignedBuffer.free(s) }
                throw RecurError(.outOfMemory, "cannot start \(n - 1) helper thread(s)")
            }
            rk_pool_set_mode(p, poolMode.rawValue)
            newPool = p
        }
        if let p = pool { rk_pool_free(p) }
        pool = newPool
        if let s = newScratch {
            if let old = qscratch { AlignedBuffer.free(old) }
            qscratch = s
        }
        threads = n
    }

    /// One matrix product of a step, on this thread or split by rows across the pool.
    @inline(__always)
    func product(_ job: inout RowProduct) {
        if let p = pool, job.rows >= 8, job.rows &* job.cols &* job.n >= Session.parallelThreshold {
            withUnsafeMutablePointer(to: &job) { rk_pool_run(p, rowProductTask, UnsafeMutableRawPointer($0), rk_pool_parts(p)) }
        } else {
            job.run(part: 0, parts: 1)
        }
    }

    /// A new session with the same model, batch size and a copy of the state (one thread).
    public func clone() throws(RecurError) -> Session {
        let s = try Session(model: model, batchSize: batchSize)
        s.state.update(from: state, count: stateFloats)
        return s
    }

    public var inputSize: Int { model.config.inputSize }
    public var outputSize: Int { model.config.outputSize }

    /// Zero the state of every stream.
    public func reset() {
        state.update(repeating: 0, count: stateFloats)
    }

    /// Zero the state of one stream.
    public func reset(stream: Int) throws(RecurError) {
        guard stream >= 0 && stream < batchSize else {
            throw RecurError(.indexOutOfRange, "stream \(stream) out of range (batch size \(batchSize))")
        }
        (state + stream * streamStride).update(repeating: 0, count: streamStride)
    }

    // MARK: - Stepping

    /// Advances every stream by one step. `x` holds batch x input floats ([stream][input]);
    /// `y`, if given, receives batch x output floats. Non-finite input is rejected with the
    /// state unchanged.
    public func step(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>?) throws(RecurError) {
        let nIn = batchSize * inputSize
        guard x.count == nIn, let xp = x.baseAddress else {
            throw RecurError(.lengthMismatch, "x has \(x.count) floats; expected batch \(batchSize) x input \(inputSize) = \(nIn)")
        }
        var yp: UnsafeMutablePointer<Float>? = nil
        if let y {
            let nOut = batchSize * outputSize
            guard y.count == nOut, let base = y.baseAddress else {
                throw RecurError(.lengthMismatch, "y has \(y.count) floats; expected batch \(batchSize) x output \(outputSize) = \(nOut)")
            }
            yp = base
        }
        guard Kernels.allFinite(xp, nIn) else {
            throw RecurError(.nonFiniteInput, "x contains NaN or Inf (state unchanged)")
        }
        guard stepUnchecked(xp, yp) else {
            throw RecurError(.nonFiniteState, "this step overflows float32 (the state or output would become Inf/NaN); the state is unchanged")
        }
    }

    /// Runs `steps` steps. `xs` is [step][stream][input]. `ys` receives every step's output
    /// ([step][stream][output], count steps x batch x output) or only the last step's
    /// (count batch x output); nil skips the head. All inputs are checked first.
    public func run(
        _ xs: UnsafeBufferPointer<Float>, steps: Int, _ ys: UnsafeMutableBufferPointer<Float>?
    ) throws(RecurError) {
        let perStepIn = batchSize * inputSize
        let perStepOut = batchSize * outputSize
        guard steps >= 0 else { throw RecurError(.invalidArgument, "negative step count") }
        let (nIn, o1) = perStepIn.multipliedReportingOverflow(by: steps)
        guard !o1, xs.count == nIn else {
            throw RecurError(.lengthMismatch, "xs has \(xs.count) floats; expected steps \(steps) x batch \(batchSize) x input \(inputSize)")
        }
        if steps == 0 { return }
        guard let xp = xs.baseAddress else { throw RecurError(.nullPointer, "xs is NULL") }
        var yp: UnsafeMutablePointer<Float>? = nil
        var allSteps = false
        if let ys {
            let (nAll, o2) = perStepOut.multipliedReportingOverflow(by: steps)
            if !o2 && ys.count == nAll {
                allSteps = true
            } else if ys.count != perStepOut {
                throw RecurError(.lengthMismatch, "ys has \(ys.count) floats; expected steps x batch x output = \(o2 ? -1 : nAll) (every step) or batch x output = \(perStepOut) (last step)")
            }
            yp = ys.baseAddress
        }
        guard Kernels.allFinite(xp, nIn) else {
            throw RecurError(.nonFiniteInput, "xs contains NaN or Inf (state unchanged)")
        }
        for t in 0..<steps {
            let out: UnsafeMutablePointer<Float>?
            if let yp {
                out = allSteps ? yp + t * perStepOut : (t == steps - 1 ? yp : nil)
            } else {
                out = nil
            }
            guard stepUnchecked(xp + t * perStepIn, out) else {
                throw RecurError(.nonFiniteState, "step \(t) of \(steps) overflows float32 (the state or output would become Inf/NaN); the state is that after step \(t - 1)")
            }
        }
    }

    /// The step itself: inputs already validated. No allocation, no bounds checks.
    /// Computes every stream's next state (and the outputs) first; commits only if all of
    /// it is finite. Returns false, with the state untouched, if the step would overflow.
    @inline(__always)
    @discardableResult
    func stepUnchecked(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>?) -> Bool {
        let lay = model.layout
        let nIn = inputSize
        let nLayers = lay.count
        let B = batchSize
        // x into z[0]'s input part of every stream (the input parts are scratch, not state).
        for b in 0..<B {
            Kernels.copy(x + b * nIn, into: state + b * streamStride, count: nIn)
        }
        let pool = self.pool  // read once (a class var: each read is an exclusivity check)
        if let p = pool, B >= Session.streamSplitMin * threads, model.weightCount <= Session.streamSplitMaxWeights {
            // Enough streams: each thread steps its own streams through every layer and the
            // head (one fork-join per step; every output is computed exactly as on one thread).
            var job = StreamRangeStep(session: Unmanaged.passUnretained(self).toOpaque(), y: y)
            withUnsafeMutablePointer(to: &job) { rk_pool_run(p, streamRangeTask, UnsafeMutableRawPointer($0), rk_pool_parts(p)) }
        } else {
            forward(streams: 0, B, y, worker: 0, rowsOnPool: pool != nil)
        }
        // Bounded activations (tanh, sigmoid) cannot overflow; relu/identity stacks can.
        guard Kernels.allFinite(next, batchSize * nextStride),
            y.map({ Kernels.allFinite($0, batchSize * outputSize) }) ?? true
        else { return false }
        for b in 0..<batchSize {
            let s = state + b * streamStride
            let nx = next + b * nextStride
            for l in 0..<nLayers {
                let L = lay[l]
                Kernels.copy(nx + nextOffsets[l], into: s + layerOffsets[l] + L.inputPad, count: L.recur)
                if L.kind == .lstm {
                    Kernels.copy(nx + nextOffsets[l] + L.recurPad, into: s + layerOffsets[l] + L.stride, count: L.size)
                }
            }
        }
        return true
    }

    /// Layers and head for streams b0..<b1, whose inputs are in place. With `rowsOnPool` each
    /// product is split by rows (and batch activations by streams) across the pool; otherwise
    /// everything runs on this thread, using int8 scratch row `worker`.
    @inline(__always)
    func forward(streams b0: Int, _ b1: Int, _ y: UnsafeMutablePointer<Float>?, worker: Int, rowsOnPool: Bool) {
        let lay = model.layout
        let w = model.weights
        let nLayers = lay.count
        let n = b1 - b0
        guard n > 0 else { return }
        let q8 = model.qweights
        let sc = model.qscales
        // Class `var`s read once (each read of one is a dynamic exclusivity check).
        let scratchStride = self.scratchStride
        let scratch = rowsOnPool ? qscratch : qscratch.map { $0 + worker * scratchStride }
        for l in 0..<nLayers {
            let L = lay[l]
            let z = state + b0 * streamStride + layerOffsets[l]
            let nx = next + b0 * nextStride + nextOffsets[l]
            let gt = gates + b0 * gateStride
            let copyTo = l + 1 < nLayers ? state + b0 * streamStride + layerOffsets[l + 1] : nil
            // One product of the layer for all these streams (split by rows across the pool with
            // `rowsOnPool`); int8 rows have their W and U parts under their own scales.
            func run(_ k: Int) {
                let pr = L.products[k]
                let x: UnsafePointer<Float>, xStride: Int
                switch pr.input {
                case .z(let o): (x, xStride) = (UnsafePointer(z + o), streamStride)
                case .gates(let o): (x, xStride) = (UnsafePointer(gt + o), gateStride)
                }
                let out: UnsafeMutablePointer<Float>, outStride: Int
                switch pr.output {
                case .next(let o): (out, outStride) = (nx + o, nextStride)
                case .gates(let o): (out, outStride) = (gt + o, gateStride)
                }
                var job = RowProduct(
                    rows: pr.rows, cols: pr.cols, w: w + pr.w, stride: pr.stride, x: x, xStride: xStride,
                    n: n, bias: w + pr.bias, out: out, outStride: outStride,
                    q: q8.map { $0 + pr.w }, split: pr.split,
                    scaleA: sc.map { $0 + pr.scaleA }, scaleB: sc.map { $0 + pr.scaleB },
                    scratch: scratch, scratchStride: scratchStride, packed: packed.map { $0 + model.packedOffsets[l][k] })
                if rowsOnPool { product(&job) } else { job.run(part: 0, parts: 1) }
            }
            // The layer's elementwise part for all these streams (split by streams across the
            // pool for large batches).
            func update(phase: Int) {
                var up = LayerUpdate(
                    layout: UpdateShape(L), phase: phase, z: z, zStride: streamStride, next: nx, nextStride: nextStride,
                    gates: gt, gateStride: gateStride, copyTo: copyTo, copyStride: streamStride, n: n)
                if rowsOnPool, let p = pool, n >= 2, n &* L.sizePad &* L.gates >= 4096 {
                    withUnsafeMutablePointer(to: &up) { rk_pool_run(p, layerUpdateTask, UnsafeMutableRawPointer($0), rk_pool_parts(p)) }
                } else {
                    up.run(part: 0, parts: 1)
                }
            }
            switch L.kind {
            case .elman, .gru:
                for k in L.products.indices { run(k) }
                update(phase: 0)
            case .gruResetBefore:
                run(0)
                run(1)
                update(phase: 0)  // r, z; v = r ⊙ h
                run(2)  // W_hn v + b_hn
                update(phase: 1)
            case .lstm:
                run(0)
                update(phase: 0)  // c', and h' (into the gate scratch when projected)
                if L.proj > 0 {
                    run(1)  // h' = W_hr h
                    update(phase: 1)  // the projected h' to the next layer
                }
            }
        }
        if let y {
            let top = next + b0 * nextStride + nextOffsets[nLayers - 1]
            let yb = y + b0 * outputSize
            var job = RowProduct(
                rows: outputSize, cols: model.headStride, w: w + model.headOffset, stride: model.headStride, x: top,
                xStride: nextStride, n: n, bias: w + model.headBiasOffset, out: yb, outStride: outputSize,
                q: q8.map { $0 + model.headOffset }, split: model.headStride,
                scaleA: sc.map { $0 + model.headScaleOffset }, scaleB: sc.map { $0 + model.headScaleOffset },
                scratch: scratch, scratchStride: scratchStride, packed: nil)
            if rowsOnPool { product(&job) } else { job.run(part: 0, parts: 1) }
            for b in 0..<n {
                model.config.outputTransform.apply(yb + b * outputSize, outputSize)
            }
        }
    }

    // MARK: - Array conveniences (allocate; for scripting and tests)

    /// One step from an array; returns batch x output floats.
    public func step(_ x: [Float]) throws(RecurError) -> [Float] {
        var y = [Float](repeating: 0, count: batchSize * outputSize)
        let r: Result<Void, RecurError> = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                do throws(RecurError) { try step(xp, yp); return .success(()) } catch { return .failure(error) }
            }
        }
        try r.get()
        return y
    }

    /// Steps through `xs` ([step][stream][input]); returns every step's outputs.
    public func run(_ xs: [Float]) throws(RecurError) -> [Float] {
        let per = batchSize * inputSize
        guard xs.count % per == 0 else {
            throw RecurError(.lengthMismatch, "xs has \(xs.count) floats, not a multiple of batch x input = \(per)")
        }
        let steps = xs.count / per
        var ys = [Float](repeating: 0, count: steps * batchSize * outputSize)
        let r: Result<Void, RecurError> = xs.withUnsafeBufferPointer { xp in
            ys.withUnsafeMutableBufferPointer { yp in
                do throws(RecurError) { try run(xp, steps: steps, yp); return .success(()) } catch {
                    return .failure(error)
                }
            }
        }
        try r.get()
        return ys
    }
}
