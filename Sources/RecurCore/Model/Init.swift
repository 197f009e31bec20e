// Models from scratch: seeded initial parameters the way PyTorch initialises its modules.

extension ModelConfig {
    /// The bound of the uniform initial values of each tensor, in canonical order (see
    /// `tensorSpecs`): PyTorch's defaults. Every parameter of a recurrent layer (nn.RNN,
    /// nn.GRU, nn.LSTM: weights, both biases, an LSTM's projection) is U(−1/√H, 1/√H) with H the
    /// layer's size; the head (nn.Linear) is U(−1/√fan_in, 1/√fan_in) with fan_in its input width
    /// (kaiming_uniform with a = √5 for the weight, the same bound for the bias). A plain feedback
    /// layer's single bias stands for nn.RNN's bias_ih + bias_hh and takes one draw of the same
    /// bound.
    public var initBounds: [(count: Int, bound: Float)] {
        var out: [(count: Int, bound: Float)] = []
        var t = 0
        let specs = tensorSpecs
        for layer in layers {
            let b = 1 / Float(layer.size).squareRoot()
            let n = layer.kind == .elman ? 3 : (layer.projSize > 0 ? 5 : 4)
            for s in specs[t..<(t + n)] { out.append((s.count, b)) }
            t += n
        }
        let hb = 1 / Float(lastLayerSize).squareRoot()
        for s in specs[t...] { out.append((s.count, hb)) }
        return out
    }
}

extension Model {
    /// A new model of `config` with initial parameters drawn from `seed` as PyTorch initialises
    /// the same modules (`ModelConfig.initBounds`): one SplitMix64 stream
    /// (`SeededGenerator`) over the parameters in canonical order, each value the top 24 bits
    /// of a draw mapped to [−bound, bound) with one float multiply — the same bits on every
    /// machine and in `recur.Model.new` (Python reproduces the stream in its tests). An int8
    /// config quantises the drawn weights.
    public static func initialized(
        config: ModelConfig, seed: UInt64, labels: [String] = [], metadata: [(key: String, value: String)] = []
    ) throws(RecurError) -> Model {
        try config.validate()
        let n = config.parameterCount
        let p = try AlignedBuffer.allocate(floats: n)
        defer { AlignedBuffer.free(p) }
        var rng = SeededGenerator(seed: seed)
        var k = 0
        for (count, bound) in config.initBounds {
            for _ in 0..<count {
                p[k] = rng.uniform(bound)
                k += 1
            }
        }
        return try Model(config: config, parameters: UnsafeBufferPointer(start: p, count: n), labels: labels, metadata: metadata)
    }
}
