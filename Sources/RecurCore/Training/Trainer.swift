#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fine-tunes a model (design document §3.3): the output head by default, optionally the
/// top k feedback layers or everything, with SGD/Adam/AdamW or a closed-form ridge fit.
///
/// Training never changes the model it starts from: `fit` returns a new `Model`, and
/// sessions on the original keep running (from other threads too). A cancelled run, or
/// one whose loss or weights become non-finite, throws and returns nothing; the weights
/// after the last completed epoch stay available as `lastGoodModel()`.
public final class Trainer {
    public let base: Model
    public let config: TrainerConfig
    private var lastGoodParameters: [Float]?
    /// Tests only: train scope `head` through the general engine instead of the feature cache.
    var forceEngine = false

    public init(model: Model, config: TrainerConfig = TrainerConfig()) throws(RecurError) {
        try config.validate(layers: model.config.layers.count)
        base = model
        self.config = config
    }

    /// The model after the last epoch that completed with finite loss (nil before any).
    public func lastGoodModel() throws(RecurError) -> Model? {
        guard let p = lastGoodParameters else { return nil }
        return try Model(config: base.config, parameters: p, labels: base.labels, metadata: base.metadata)
    }

    /// Trains on `data` and returns the new model. `progress` is called after every epoch
    /// (and every mini-batch when `progressEveryBatch`); returning false cancels.
    public func fit(_ data: TrainingData, progress: ((TrainingProgress) -> Bool)? = nil) throws(RecurError) -> Model {
        let mc = base.config
        try data.validate(inputSize: mc.inputSize, outputSize: mc.outputSize, loss: config.loss)
        lastGoodParameters = nil
        var params = base.parameters().map { Double($0) }
        let engine = Engine(mc)
        let first = config.firstTrainableLayer(layers: mc.layers.count)
        let offset = engine.trainableOffset(firstLayer: first)
        let starts = data.starts

        if config.scope == .head && !forceEngine {
            let feats = try Features(model: base, data: data)
            defer { feats.free() }
            if config.optimizer == .ridge {
                try ridge(feats, data: data, params: &params, engine: engine)
                let model = try finish(params)
                let e = try evaluateFeatures(feats, model: model, data: data)
                _ = progress?(TrainingProgress(epoch: 1, epochs: 1, step: 1, loss: e.loss, metric: e.accuracy ?? e.rmse ?? 0, endOfEpoch: true))
                return model
            }
            try headLoop(feats, data: data, params: &params, engine: engine, progress: progress)
            return try finish(params)
        }

        try trainLoop(sequences: data.sequenceCount, params: &params, offset: offset, progress: progress) {
            (batch, params, grad) throws(RecurError) in
            for i in offset..<grad.count { grad[i] = 0 }
            return grad.withUnsafeMutableBufferPointer { gp in
                engine.batch(
                    params: params, data: data, starts: starts, sequences: batch, loss: config.loss,
                    grad: gp.baseAddress, firstLayer: first, bptt: config.bpttSteps)
            }
        }
        return try finish(params)
    }

    /// The epoch loop shared by both paths: shuffle, mini-batches, `gradient` (fills the
    /// trainable suffix of `grad` with the summed-loss gradient and returns the sums),
    /// normalise/clip/step, progress and cancel, last-good snapshot after each epoch.
    private func trainLoop(
        sequences n: Int, params: inout [Double], offset: Int, progress: ((TrainingProgress) -> Bool)?,
        afterUpdate: ([Double]) -> Void = { _ in },
        gradient: (ArraySlice<Int>, [Double], inout [Double]) throws(RecurError) -> Engine.Sums
    ) throws(RecurError) {
        var opt = Optimizer(config: config, count: params.count - offset)
        var grad = [Double](repeating: 0, count: params.count)
        var order = Array(0..<n)
        var rng = SeededGenerator(seed: config.seed)
        var step = 0
        for epoch in 1...config.epochs {
            if config.shuffle { rng.shuffle(&order) }
            var epochSums = Engine.Sums()
            var b = 0
            while b < order.count {
                let batch = order[b..<min(b + config.batchSize, order.count)]
                b += config.batchSize
                let sums = try gradient(batch, params, &grad)
                epochSums.add(sums)
                try update(&params, grad: &grad, offset: offset, terms: sums.terms, optimizer: &opt, batchLoss: sums.loss)
                afterUpdate(params)
                step += 1
                if config.progressEveryBatch, let progress, !progress(report(epoch, step, sums, end: false)) {
                    throw cancelled(epoch, step)
                }
            }
            lastGoodParameters = params.map { Float($0) }
            if let progress, !progress(report(epoch, step, epochSums, end: true)) {
                throw cancelled(epoch, step)
            }
        }
    }

    private func report(_ epoch: Int, _ step: Int, _ s: Engine.Sums, end: Bool) -> TrainingProgress {
        TrainingProgress(
            epoch: epoch, epochs: config.epochs, step: step, loss: s.loss / Double(max(s.terms, 1)), metric: metric(s),
            endOfEpoch: end)
    }

    private func cancelled(_ epoch: Int, _ step: Int) -> RecurError {
        RecurError(.cancelled, "training cancelled by the progress callback at epoch \(epoch), step \(step); the model is unchanged")
    }

    private func metric(_ s: Engine.Sums) -> Double {
        switch config.loss {
        case .mse: return (s.squaredError / Double(max(s.terms, 1))).squareRoot()
        case .crossEntropy: return Double(s.correct) / Double(max(s.rows, 1))
        case .binaryCrossEntropy: return Double(s.correct) / Double(max(s.terms, 1))
        }
    }

    /// Normalise, clip, step, and check that nothing diverged.
    private func update(
        _ params: inout [Double], grad: inout [Double], offset: Int, terms: Int, optimizer: inout Optimizer, batchLoss: Double
    ) throws(RecurError) {
        let scale = 1 / Double(max(terms, 1))
        guard batchLoss.isFinite else {
            throw RecurError(.diverged, "the training loss became non-finite (\(batchLoss)); the model is unchanged (lower the learning rate or clip gradients)")
        }
        var finite = true
        grad.withUnsafeMutableBufferPointer { g in
            params.withUnsafeMutableBufferPointer { p in
                guard let gb = g.baseAddress, let pb = p.baseAddress else { return }
                let gs = UnsafeMutableBufferPointer(start: gb + offset, count: g.count - offset)
                for i in gs.indices { gs[i] *= scale }
                Optimizer.clip(gs, maxNorm: config.clipNorm)
                let ps = UnsafeMutableBufferPointer(start: pb + offset, count: p.count - offset)
                optimizer.step(ps, gs)
                for x in ps where !x.isFinite || abs(x) > 1e30 {
                    finite = false
                    break
                }
            }
        }
        guard finite else {
            throw RecurError(.diverged, "weights became non-finite during training; the model is unchanged (lower the learning rate or clip gradients)")
        }
    }

    private func finish(_ params: [Double]) throws(RecurError) -> Model {
        let p = params.map { Float($0) }
        for (i, x) in p.enumerated() where !x.isFinite {
            throw RecurError(.diverged, "parameter \(i) overflowed float32; the model is unchanged")
        }
        return try Model(config: base.config, parameters: p, labels: base.labels, metadata: base.metadata)
    }

    // MARK: - Head-only fast path

    /// The frozen body's top-layer state at every target step, computed once per dataset
    /// with the float32 session kernels, padded to 8-float rows.
    struct Features {
        let rows: Int
        let width: Int  // last layer size
        let stride: Int
        let data: UnsafeMutablePointer<Float>
        let rowStart: [Int]  // first feature row of each sequence
        let rowCount: [Int]

        init(model: Model, data d: TrainingData) throws(RecurError) {
            let perStep = d.targets.perStep
            let H = model.config.lastLayerSize
            width = H
            stride = Kernels.pad8(H)
            var starts: [Int] = []
            var counts: [Int] = []
            var r = 0
            for n in d.lengths {
                starts.append(r)
                let c = perStep ? n : 1
                counts.append(c)
                r += c
            }
            rows = r
            rowStart = starts
            rowCount = counts
            let (total, o) = r.multipliedReportingOverflow(by: stride)
            guard !o else { throw RecurError(.outOfMemory, "feature matrix too large") }
            data = try AlignedBuffer.allocate(floats: total)
            // Sequences in groups of up to 32 streams of one batch session (longest first, so a
            // group's lengths are close): the batched kernel gives each stream the bits of a
            // batch-1 session. A stream whose sequence ended is reset and fed zeros.
            let I = model.config.inputSize
            let group = min(32, max(1, d.lengths.count))
            let session: Session
            let xb: UnsafeMutablePointer<Float>
            do {
                session = try Session(model: model, batchSize: group)
                xb = try AlignedBuffer.allocate(floats: group * I)
            } catch {
                AlignedBuffer.free(data)
                throw error
            }
            defer { AlignedBuffer.free(xb) }
            let L = model.layout.count - 1
            let top = session.layerOffsets[L] + model.layout[L].inputPad
            var firstStep: [Int] = []
            var acc = 0
            for n in d.lengths {
                firstStep.append(acc)
                acc += n
            }
            let order = d.lengths.indices.sorted { d.lengths[$0] > d.lengths[$1] || (d.lengths[$0] == d.lengths[$1] && $0 < $1) }
            var overflowed = false
            d.inputs.withUnsafeBufferPointer { xp in
                guard let xin = xp.baseAddress else { return }
                var g0 = 0
                while g0 < order.count && !overflowed {
                    let members = Array(order[g0..<min(g0 + group, order.count)])
                    session.reset()
                    xb.update(repeating: 0, count: group * I)
                    let steps = members.map { d.lengths[$0] }.max() ?? 0
                    for t in 0..<steps {
                        for (b, s) in members.enumerated() where t < d.lengths[s] {
                            (xb + b * I).update(from: xin + (firstStep[s] + t) * I, count: I)
                        }
                        if !session.stepUnchecked(xb, nil) {
                            overflowed = true
                            break
                        }
                        for (b, s) in members.enumerated() where t < d.lengths[s] {
                            let n = d.lengths[s]
                            if perStep || t == n - 1 {
                                let row = starts[s] + (perStep ? t : 0)
                                (data + row * stride).update(from: session.state + b * session.streamStride + top, count: H)
                            }
                            if t == n - 1 {
                                (xb + b * I).update(repeating: 0, count: I)
                                (session.state + b * session.streamStride).update(repeating: 0, count: session.streamStride)
                            }
                        }
                    }
                    g0 += group
                }
            }
            if overflowed {
                AlignedBuffer.free(data)
                throw RecurError(.nonFiniteState, "the frozen body overflows float32 on this data (features would be Inf/NaN)")
            }
        }

        func free() { AlignedBuffer.free(data) }
    }

    private func headLoop(
        _ feats: Features, data: TrainingData, params: inout [Double], engine: Engine,
        progress: ((TrainingProgress) -> Bool)?
    ) throws(RecurError) {
        let O = base.config.outputSize
        let hs = feats.stride
        let H = feats.width
        let offset = engine.headW
        let w = try AlignedBuffer.allocate(floats: O * hs + Kernels.pad8(O))  // float head weights, then bias
        let gw = try AlignedBuffer.allocate(floats: O * hs + Kernels.pad8(O))
        // One sequence's rows at a time: their outputs z and float dz.
        let maxRows = max(1, feats.rowCount.max() ?? 1)
        let zb = try AlignedBuffer.allocate(floats: maxRows * O)
        let db = try AlignedBuffer.allocate(floats: maxRows * O)
        defer {
            AlignedBuffer.free(w)
            AlignedBuffer.free(gw)
            AlignedBuffer.free(zb)
            AlignedBuffer.free(db)
        }
        func loadHead(_ p: [Double]) {
            for o in 0..<O {
                for j in 0..<H { w[o * hs + j] = Float(p[engine.headW + o * H + j]) }
                w[O * hs + o] = Float(p[engine.headB + o])
            }
        }
        loadHead(params)
        var dz = [Double](repeating: 0, count: O)
        var zd = [Double](repeating: 0, count: O)
        let (classes, values) = data.targets.arrays
        try trainLoop(sequences: data.sequenceCount, params: &params, offset: offset, progress: progress, afterUpdate: loadHead) {
            (batch, _, grad) throws(RecurError) in
            gw.update(repeating: 0, count: O * hs + Kernels.pad8(O))
            var sums = Engine.Sums()
            values.withUnsafeBufferPointer { vp in
                for s in batch {
                    let r0 = feats.rowStart[s]
                    let cnt = feats.rowCount[s]
                    let f0 = feats.data + r0 * hs
                    // All rows of the sequence at once: the batched kernel gives each row the
                    // bits of a matrix-vector product.
                    Kernels.gemmBias(rows: O, cols: hs, w: w, stride: hs, x: f0, xStride: hs, n: cnt,
                                     bias: w + O * hs, out: zb, outStride: O)
                    for k in 0..<cnt {
                        let row = r0 + k
                        for o in 0..<O { zd[o] = Double(zb[k * O + o]) }
                        zd.withUnsafeBufferPointer { zp in
                            dz.withUnsafeMutableBufferPointer { dp in
                                guard let zbase = zp.baseAddress else { return }
                                Engine.lossTerm(
                                    config.loss, z: zbase, o: O, classTarget: classes.isEmpty ? 0 : Int(classes[row]),
                                    values: vp.baseAddress.map { $0 + row * O }, dz: dp.baseAddress, sums: &sums)
                            }
                        }
                        for o in 0..<O {
                            let d = Float(dz[o])
                            db[k * O + o] = d
                            gw[O * hs + o] += d
                        }
                    }
                    // gw[o] += Σ_k dz[k][o] f[k]: each element summed in row order exactly as a
                    // per-row axpy, with the gradient rows held in registers.
                    Kernels.accumulateOuter(gw, outputs: O, width: hs, f: f0, rows: cnt, d: db)
                }
            }
            for o in 0..<O {
                for j in 0..<H { grad[engine.headW + o * H + j] = Double(gw[o * hs + j]) }
                grad[engine.headB + o] = Double(gw[O * hs + o])
            }
            return sums
        }
    }

    // MARK: - Ridge

    /// Closed-form least squares of the head on the frozen features:
    /// [W b] = argmin Σ ||W f + b - t||² + λ ||W||² (the bias is not penalised), solved by
    /// Cholesky on the (H+1) x (H+1) normal equations in double precision.
    private func ridge(_ feats: Features, data: TrainingData, params: inout [Double], engine: Engine) throws(RecurError) {
        switch data.targets {
        case .sequenceValues(let v), .stepValues(let v):
            try ridgeSolve(feats, values: v, params: &params, engine: engine)
        case .sequenceClasses, .stepClasses:
            throw RecurError(.invalidArgument, "ridge needs value targets")
        }
    }

    private func ridgeSolve(_ feats: Features, values: [Float], params: inout [Double], engine: Engine) throws(RecurError) {
        let H = feats.width
        let n = H + 1  // features + bias column
        let O = base.config.outputSize
        let hs = feats.stride
        // One Gram matrix of the augmented rows [f, 1, t] gives the normal matrix of [f, 1]
        // and the right-hand sides [f, 1]ᵀ t together: float accumulation over blocks of 64
        // rows in the register-blocked kernel, double across blocks.
        let n2 = n + O
        let s2 = Kernels.pad8(n2)
        let block = 64
        var G2 = [Double](repeating: 0, count: n2 * n2)
        let aug = try AlignedBuffer.allocate(floats: block * s2)
        defer { AlignedBuffer.free(aug) }
        values.withUnsafeBufferPointer { vp in
            G2.withUnsafeMutableBufferPointer { gp in
                guard let g = gp.baseAddress, let v = vp.baseAddress else { return }
                var r0 = 0
                while r0 < feats.rows {
                    let rows = min(block, feats.rows - r0)
                    for k in 0..<rows {
                        let row = aug + k * s2
                        row.update(from: feats.data + (r0 + k) * hs, count: H)
                        row[H] = 1
                        (row + n).update(from: v + (r0 + k) * O, count: O)
                    }
                    Kernels.gramUpper(aug, rows: rows, n: n2, stride: s2, g: g, ld: n2)
                    r0 += rows
                }
            }
        }
        var G = [Double](repeating: 0, count: n * n)
        var R = [Double](repeating: 0, count: n * O)
        for i in 0..<n {
            for j in i..<n { G[i * n + j] = G2[i * n2 + j] }
            for o in 0..<O { R[i * O + o] = G2[i * n2 + n + o] }
        }
        G[H * n + H] = Double(feats.rows)
        for i in 0..<n {
            for j in 0..<i { G[i * n + j] = G[j * n + i] }
        }
        for j in 0..<H { G[j * n + j] += config.weightDecay }
        // Cholesky G = L Lᵀ.
        for j in 0..<n {
            var d = G[j * n + j]
            for k in 0..<j { d -= G[j * n + k] * G[j * n + k] }
            guard d > 1e-12 * max(1, abs(G[j * n + j])) else {
                throw RecurError(.singular, "the ridge system is singular (feature \(j) is constant or collinear); set a positive weight decay (the ridge λ)")
            }
            let ljj = d.squareRoot()
            G[j * n + j] = ljj
            for i in (j + 1)..<max(n, j + 1) {
                var s = G[i * n + j]
                for k in 0..<j { s -= G[i * n + k] * G[j * n + k] }
                G[i * n + j] = s / ljj
            }
        }
        // Solve for each output.
        var y = [Double](repeating: 0, count: n)
        for o in 0..<O {
            for i in 0..<n {
                var s = R[i * O + o]
                for k in 0..<i { s -= G[i * n + k] * y[k] }
                y[i] = s / G[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = y[i]
                for k in (i + 1)..<max(n, i + 1) { s -= G[k * n + i] * y[k] }
                y[i] = s / G[i * n + i]
            }
            for j in 0..<H { params[engine.headW + o * H + j] = y[j] }
            params[engine.headB + o] = y[H]
        }
    }

    // MARK: - Evaluation

    /// Loss (the trainer's loss) and accuracy or RMSE of `model` on `data`.
    public func evaluate(_ model: Model, on data: TrainingData) throws(RecurError) -> Evaluation {
        try Trainer.evaluate(model, on: data, loss: config.loss)
    }

    public static func evaluate(_ model: Model, on data: TrainingData, loss: Loss) throws(RecurError) -> Evaluation {
        try data.validate(inputSize: model.config.inputSize, outputSize: model.config.outputSize, loss: loss)
        let feats = try Features(model: model, data: data)
        defer { feats.free() }
        let t = try Trainer(model: model, config: { var c = TrainerConfig(); c.loss = loss; return c }())
        return try t.evaluateFeatures(feats, model: model, data: data)
    }

    private func evaluateFeatures(_ feats: Features, model: Model, data: TrainingData) throws(RecurError) -> Evaluation {
        let O = model.config.outputSize
        let hs = feats.stride
        let z = try AlignedBuffer.allocate(floats: Kernels.pad8(O))
        let xq = try AlignedBuffer.allocate(int16: hs)
        defer {
            AlignedBuffer.free(z)
            AlignedBuffer.free(xq)
        }
        var zd = [Double](repeating: 0, count: O)
        var sums = Engine.Sums()
        let w = model.weights + model.headOffset
        let b = model.weights + model.headBiasOffset
        let (classes, values) = data.targets.arrays
        values.withUnsafeBufferPointer { vp in
            for r in 0..<feats.rows {
                if let q = model.qweights, let sc = model.qscales {
                    let qs = sc + model.headScaleOffset
                    Kernels.matvecI8(rows: O, cols: hs, split: hs, q: q + model.headOffset, stride: model.headStride,
                                     scaleA: qs, scaleB: qs, x: feats.data + r * hs, bias: b, out: z, scratch: xq)
                } else {
                    Kernels.matvecBias(rows: O, cols: hs, w: w, stride: model.headStride, x: feats.data + r * hs, bias: b, out: z)
                }
                for o in 0..<O { zd[o] = Double(z[o]) }
                zd.withUnsafeBufferPointer { zp in
                    guard let zb = zp.baseAddress else { return }
                    Engine.lossTerm(
                        config.loss, z: zb, o: O, classTarget: classes.isEmpty ? 0 : Int(classes[r]),
                        values: vp.baseAddress.map { $0 + r * O }, dz: nil, sums: &sums)
                }
            }
        }
        let mean = sums.loss / Double(max(sums.terms, 1))
        switch config.loss {
        case .crossEntropy:
            return Evaluation(loss: mean, accuracy: Double(sums.correct) / Double(max(sums.rows, 1)), rmse: nil, count: sums.rows)
        case .binaryCrossEntropy:
            return Evaluation(loss: mean, accuracy: Double(sums.correct) / Double(max(sums.terms, 1)), rmse: nil, count: sums.rows)
        case .mse:
            return Evaluation(loss: mean, accuracy: nil, rmse: (sums.squaredError / Double(max(sums.terms, 1))).squareRoot(), count: sums.rows)
        }
    }
}
