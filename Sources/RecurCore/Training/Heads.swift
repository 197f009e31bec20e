/// Replacing or extending the output head for a new task (docs/DESIGN.md §3.3 step 2).
extension Model {
    /// A copy of this model whose head is replaced by a new one with `outputs` outputs,
    /// initialised from `seed` the way PyTorch initialises `nn.Linear`
    /// (weights and bias uniform in ±1/sqrt(fan_in)). The body is shared bit for bit.
    public func withNewHead(
        outputs: Int, labels: [String] = [], transform: OutputTransform? = nil, seed: UInt64 = 0
    ) throws(RecurError) -> Model {
        guard (1...ModelLimits.maxWidth).contains(outputs) else {
            throw RecurError(.badConfig, "new head size \(outputs) is outside 1...\(ModelLimits.maxWidth)")
        }
        var c = config
        c.outputSize = outputs
        if let transform { c.outputTransform = transform }
        let H = config.lastLayerSize
        var p = parameters()
        p.removeLast(config.outputSize * (H + 1))
        var rng = SeededGenerator(seed: seed)
        let bound = 1 / Float(H).squareRoot()
        for _ in 0..<(outputs * H) { p.append(rng.uniform(bound)) }
        for _ in 0..<outputs { p.append(rng.uniform(bound)) }
        return try Model(config: c, parameters: p, labels: labels, metadata: metadata)
    }

    /// A copy of this model whose head gains `newClasses` outputs: the old rows (and
    /// labels) are kept as they are, the new rows are initialised like `nn.Linear` from
    /// `seed`. If the model has labels, exactly `newClasses` new labels are required.
    public func extendingHead(newClasses: Int, labels newLabels: [String] = [], seed: UInt64 = 0) throws(RecurError) -> Model {
        guard newClasses >= 1 && config.outputSize + newClasses <= ModelLimits.maxWidth else {
            throw RecurError(.badConfig, "cannot add \(newClasses) classes to a head of \(config.outputSize)")
        }
        if !labels.isEmpty && newLabels.count != newClasses {
            throw RecurError(.badLabel, "the model has labels: give \(newClasses) labels for the new classes (got \(newLabels.count))")
        }
        if labels.isEmpty && !newLabels.isEmpty {
            throw RecurError(.badLabel, "the model has no labels; new classes cannot be labelled alone")
        }
        var c = config
        c.outputSize += newClasses
        let H = config.lastLayerSize
        let old = parameters()
        let headStart = old.count - config.outputSize * (H + 1)
        var p = Array(old[..<headStart])
        p += old[headStart..<(headStart + config.outputSize * H)]
        var rng = SeededGenerator(seed: seed)
        let bound = 1 / Float(H).squareRoot()
        for _ in 0..<(newClasses * H) { p.append(rng.uniform(bound)) }
        p += old[(headStart + config.outputSize * H)...]
        for _ in 0..<newClasses { p.append(rng.uniform(bound)) }
        return try Model(config: c, parameters: p, labels: labels + newLabels, metadata: metadata)
    }
}
