/// Loss and accuracy or RMSE of a model on data (the feature pass, then the head row by row).
extension Trainer {
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

    func evaluateFeatures(_ feats: Features, model: Model, data: TrainingData) throws(RecurError) -> Evaluation {
        let O = model.config.outputSize
        let hs = feats.stride
        let z = try AlignedBuffer.allocate(floats: Kernels.pad8(O))
        let xq = try AlignedBuffer.allocate(int16: hs)
        defer {
            AlignedBuffer.free(z)
            AlignedBuffer.free(xq)
        }
        var zd = [Double](repeating: 0, count: O)
        var sums = Loss.Sums()
        let (classes, values) = data.targets.arrays
        values.withUnsafeBufferPointer { vp in
            for r in 0..<feats.rows {
                model.headRaw(feats.data + r * hs, into: z, scratch: xq)
                for o in 0..<O { zd[o] = Double(z[o]) }
                zd.withUnsafeBufferPointer { zp in
                    guard let zb = zp.baseAddress else { return }
                    Loss.term(
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
