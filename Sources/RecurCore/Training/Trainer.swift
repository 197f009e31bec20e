#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fine-tunes a model (docs/DESIGN.md §3.3): the output head by default, optionally the
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
    /// Tests only: train scope `head` through BPTT instead of the feature cache.
    var forceBPTT = false

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
        let bptt = BPTT(mc)
        let first = config.firstTrainableLayer(layers: mc.layers.count)
        let offset = bptt.trainableOffset(firstLayer: first)
        let starts = data.starts

        if config.scope == .head && !forceBPTT {
            let feats = try Features(model: base, data: data)
            defer { feats.free() }
            if config.optimizer == .ridge {
                try ridge(feats, data: data, params: &params, bptt: bptt)
                let model = try finish(params)
                let e = try evaluateFeatures(feats, model: model, data: data)
                _ = progress?(TrainingProgress(epoch: 1, epochs: 1, step: 1, loss: e.loss, metric: e.accuracy ?? e.rmse ?? 0, endOfEpoch: true))
                return model
            }
            try headLoop(feats, data: data, params: &params, bptt: bptt, progress: progress)
            return try finish(params)
        }

        try trainLoop(sequences: data.sequenceCount, params: &params, offset: offset, progress: progress) {
            (batch, params, grad) throws(RecurError) in
            for i in offset..<grad.count { grad[i] = 0 }
            return grad.withUnsafeMutableBufferPointer { gp in
                bptt.batch(
                    params: params, data: data, starts: starts, sequences: batch, loss: config.loss,
                    grad: gp.baseAddress, firstLayer: first, bptt: config.bpttSteps)
            }
        }
        return try finish(params)
    }

    /// The epoch loop shared by both paths: shuffle, mini-batches, `gradient` (fills the
    /// trainable suffix of `grad` with the summed-loss gradient and returns the sums),
    /// normalise/clip/step, progress and cancel, last-good snapshot after each epoch.
    func trainLoop(
        sequences n: Int, params: inout [Double], offset: Int, progress: ((TrainingProgress) -> Bool)?,
        afterUpdate: ([Double]) -> Void = { _ in },
        gradient: (ArraySlice<Int>, [Double], inout [Double]) throws(RecurError) -> Loss.Sums
    ) throws(RecurError) {
        var opt = Optimizer(config: config, count: params.count - offset)
        var grad = [Double](repeating: 0, count: params.count)
        var order = Array(0..<n)
        var rng = SeededGenerator(seed: config.seed)
        var step = 0
        for epoch in 1...config.epochs {
            if config.shuffle { rng.shuffle(&order) }
            var epochSums = Loss.Sums()
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

    private func report(_ epoch: Int, _ step: Int, _ s: Loss.Sums, end: Bool) -> TrainingProgress {
        TrainingProgress(
            epoch: epoch, epochs: config.epochs, step: step, loss: s.loss / Double(max(s.terms, 1)), metric: metric(s),
            endOfEpoch: end)
    }

    private func cancelled(_ epoch: Int, _ step: Int) -> RecurError {
        RecurError(.cancelled, "training cancelled by the progress callback at epoch \(epoch), step \(step); the model is unchanged")
    }

    private func metric(_ s: Loss.Sums) -> Double {
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

    func finish(_ params: [Double]) throws(RecurError) -> Model {
        let p = params.map { Float($0) }
        for (i, x) in p.enumerated() where !x.isFinite {
            throw RecurError(.diverged, "parameter \(i) overflowed float32; the model is unchanged")
        }
        return try Model(config: base.config, parameters: p, labels: base.labels, metadata: base.metadata)
    }
}
