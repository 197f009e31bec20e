import Testing

#if canImport(Glibc)
import Glibc
#endif
@testable import RecurCore

/// An independent double-precision reference of every layer kind, written from PyTorch's
/// documented equations (torch.nn.RNN / GRU / LSTM), not from the engine's layout.
struct CellReference {
    struct Layer {
        let kind: LayerKind
        let activation: Activation
        let H: Int, I: Int, R: Int, P: Int
        var wi: [[Double]] = [], wh: [[Double]] = [], bi: [Double] = [], bh: [Double] = [], wp: [[Double]] = []
    }
    let config: ModelConfig
    var layers: [Layer] = []
    var wo: [[Double]] = [], bo: [Double] = []
    var h: [[Double]]
    var c: [[Double]]

    init(config: ModelConfig, parameters p: [Float]) {
        self.config = config
        var rd = ParameterReader(p)
        for (l, lc) in config.layers.enumerated() {
            let I = config.layerInputSize(l), H = lc.size, R = lc.outputWidth, G = lc.kind.gates
            var L = Layer(kind: lc.kind, activation: lc.activation, H: H, I: I, R: R, P: lc.projSize)
            L.wi = rd.matrix(G * H, I)
            L.wh = rd.matrix(G * H, R)
            if lc.kind == .elman {
                L.bi = rd.vector(H)
                L.bh = [Double](repeating: 0, count: H)
            } else {
                L.bi = rd.vector(G * H)
                L.bh = rd.vector(G * H)
                if lc.projSize > 0 { L.wp = rd.matrix(lc.projSize, H) }
            }
            layers.append(L)
        }
        wo = rd.matrix(config.outputSize, config.lastLayerSize)
        bo = rd.vector(config.outputSize)
        h = config.layers.map { [Double](repeating: 0, count: $0.outputWidth) }
        c = config.layers.map { $0.kind == .lstm ? [Double](repeating: 0, count: $0.size) : [] }
    }

    static func sig(_ v: Double) -> Double { 1 / (1 + Glibc.exp(-v)) }

    static func matvec(_ m: [[Double]], _ v: [Double], rows: Range<Int>) -> [Double] {
        rows.map { r in zip(m[r], v).reduce(0.0) { $0 + $1.0 * $1.1 } }
    }

    mutating func step(_ x: [Float]) -> [Double] {
        var input = x.map { Double($0) }
        for l in layers.indices {
            let L = layers[l], H = L.H
            let hp = h[l]
            var out: [Double]
            switch L.kind {
            case .elman:
                let a = CellReference.matvec(L.wi, input, rows: 0..<H), b = CellReference.matvec(L.wh, hp, rows: 0..<H)
                out = (0..<H).map { ReferenceNet.act(L.activation, a[$0] + b[$0] + L.bi[$0]) }
            case .gru, .gruResetBefore:
                let gi = CellReference.matvec(L.wi, input, rows: 0..<(3 * H))
                let ghRZ = CellReference.matvec(L.wh, hp, rows: 0..<(2 * H))
                let r = (0..<H).map { CellReference.sig(gi[$0] + L.bi[$0] + ghRZ[$0] + L.bh[$0]) }
                let z = (0..<H).map { CellReference.sig(gi[H + $0] + L.bi[H + $0] + ghRZ[H + $0] + L.bh[H + $0]) }
                var n = [Double](repeating: 0, count: H)
                if L.kind == .gru {
                    let ghn = CellReference.matvec(L.wh, hp, rows: (2 * H)..<(3 * H))
                    for i in 0..<H { n[i] = Glibc.tanh(gi[2 * H + i] + L.bi[2 * H + i] + r[i] * (ghn[i] + L.bh[2 * H + i])) }
                } else {
                    let rh = (0..<H).map { r[$0] * hp[$0] }
                    let ghn = CellReference.matvec(L.wh, rh, rows: (2 * H)..<(3 * H))
                    for i in 0..<H { n[i] = Glibc.tanh(gi[2 * H + i] + L.bi[2 * H + i] + ghn[i] + L.bh[2 * H + i]) }
                }
                out = (0..<H).map { (1 - z[$0]) * n[$0] + z[$0] * hp[$0] }
            case .lstm:
                let gi = CellReference.matvec(L.wi, input, rows: 0..<(4 * H))
                let gh = CellReference.matvec(L.wh, hp, rows: 0..<(4 * H))
                func pre(_ g: Int, _ i: Int) -> Double { gi[g * H + i] + L.bi[g * H + i] + gh[g * H + i] + L.bh[g * H + i] }
                var cn = [Double](repeating: 0, count: H)
                var hn = [Double](repeating: 0, count: H)
                for i in 0..<H {
                    let ig = CellReference.sig(pre(0, i)), fg = CellReference.sig(pre(1, i))
                    let gg = Glibc.tanh(pre(2, i)), og = CellReference.sig(pre(3, i))
                    cn[i] = fg * c[l][i] + ig * gg
                    hn[i] = og * Glibc.tanh(cn[i])
                }
                c[l] = cn
                out = L.P > 0 ? CellReference.matvec(L.wp, hn, rows: 0..<L.P) : hn
            }
            h[l] = out
            input = out
        }
        var y = (0..<config.outputSize).map { o in bo[o] + zip(wo[o], input).reduce(0.0) { $0 + $1.0 * $1.1 } }
        switch config.outputTransform {
        case .none: break
        case .sigmoid: y = y.map { CellReference.sig($0) }
        case .softmax:
            let m = y.max() ?? 0
            let e = y.map { Glibc.exp($0 - m) }
            let s = e.reduce(0, +)
            y = e.map { $0 / s }
        }
        return y
    }

    /// The raw state in the engine's documented order: per layer h, then c for LSTM.
    var raw: [Double] { layers.indices.flatMap { h[$0] + c[$0] } }

    mutating func setRaw(_ v: [Float]) {
        var rd = ParameterReader(v)
        for l in layers.indices {
            h[l] = rd.vector(h[l].count)
            c[l] = rd.vector(c[l].count)
        }
    }
}

@Suite struct CellTests {
    static let shapes: [(String, ModelConfig)] = [
        ("gru 16-64-10", ModelConfig(inputSize: 16, layers: [.gru(64)], outputSize: 10)),
        ("lstm 16-64-10", ModelConfig(inputSize: 16, layers: [.lstm(64)], outputSize: 10, outputTransform: .softmax)),
        ("gru reset-before 7-13-3", ModelConfig(inputSize: 7, layers: [.gru(13, resetBefore: true)], outputSize: 3)),
        ("lstm proj 5-20(6)-4", ModelConfig(inputSize: 5, layers: [.lstm(20, proj: 6)], outputSize: 4, outputTransform: .sigmoid)),
        ("mixed elman/gru/lstm/lstm-proj/gru-rb",
         ModelConfig(inputSize: 9, layers: [LayerConfig(size: 11, activation: .relu), .gru(17), .lstm(24, proj: 10), .lstm(8),
                                            .gru(12, resetBefore: true)], outputSize: 6, outputTransform: .softmax)),
        ("1-1-1 gru, 1-2(1) lstm", ModelConfig(inputSize: 1, layers: [.gru(1), .lstm(2, proj: 1)], outputSize: 1)),
    ]

    /// The shapes cover both GRU layouts (a small GRU's single fused product and a large GRU's
    /// three products), so neither loses its parity tests when `fuseLimit` moves.
    @Test func shapesCoverBothGRULayouts() throws {
        var fused = 0, split = 0
        for (_, config) in Self.shapes {
            let model = try Model(config: config, parameters: randomParameters(config, seed: 1, scale: 1))
            for lay in model.layout where lay.kind == .gru { if lay.fusedN { fused += 1 } else { split += 1 } }
        }
        #expect(fused >= 2 && split >= 1, "fused \(fused), split \(split)")
    }

    /// Every kind against the double reference: outputs and the raw state (h and c) at every
    /// step, from a random nonzero initial state (biases random too, so b_hn is nonzero).
    @Test(arguments: 0..<shapes.count)
    func matchesDoubleReference(_ index: Int) throws {
        let (name, config) = Self.shapes[index]
        let params = randomParameters(config, seed: UInt64(300 + index), scale: 1.5)
        let model = try Model(config: config, parameters: params)
        let session = try Session(model: model)
        var ref = CellReference(config: config, parameters: params)
        #expect(session.hiddenCount == config.stateSize)
        let h0 = randomInputs(config.stateSize, seed: UInt64(77 + index), scale: 0.8)
        try h0.withUnsafeBufferPointer { try session.setHidden($0) }
        ref.setRaw(h0)
        #expect(bits(session.hidden()) == bits(h0))
        var worst = 0.0
        for t in 0..<40 {
            let x = randomInputs(config.inputSize, seed: UInt64(1000 * index + t), scale: 2)
            let y = try session.step(x)
            let r = ref.step(x)
            let scale = max(r.map { abs($0) }.max() ?? 0, 1e-6)
            for o in 0..<config.outputSize {
                worst = max(worst, abs(Double(y[o]) - r[o]) / scale)
                #expect(close(y[o], r[o]), "\(name) step \(t) output \(o): \(y[o]) vs \(r[o])")
            }
            let hs = session.hidden(), hr = ref.raw
            for i in 0..<hs.count { #expect(close(hs[i], hr[i], rel: 1e-5, abs: 2e-6), "\(name) step \(t) state \(i): \(hs[i]) vs \(hr[i])") }
        }
        #expect(worst < 1e-5, "\(name): worst output error \(worst) of the step's largest output")
        print("parity \(name) [\(KernelSet.name)]: worst output error \(worst) of the largest output over 40 steps")
    }

    /// A 10,000-step stream stays within 1e-5 of the reference (relative to the output scale).
    @Test(arguments: [3, 4])
    func longStreams(_ index: Int) throws {
        let (name, config) = Self.shapes[index]
        let params = randomParameters(config, seed: 9, scale: 1)
        let session = try Session(model: try Model(config: config, parameters: params))
        var ref = CellReference(config: config, parameters: params)
        var worst = 0.0
        for t in 0..<10_000 {
            let x = randomInputs(config.inputSize, seed: UInt64(t % 97), scale: 1)
            let y = try session.step(x)
            let r = ref.step(x)
            let scale = max(r.map { abs($0) }.max() ?? 0, 1e-6)
            for o in 0..<config.outputSize { worst = max(worst, abs(Double(y[o]) - r[o]) / scale) }
        }
        #expect(worst < 1e-5, "\(name): worst error \(worst) over 10,000 steps")
        print("parity \(name) [\(KernelSet.name)]: worst output error \(worst) of the largest output over 10,000 steps")
    }

    /// run() equals repeated step(); a batch equals separate sessions (bit for bit below the
    /// packed-kernel batch size, to float rounding from it); clone and snapshots carry h and c.
    @Test(arguments: [0, 1, 3, 4])
    func runBatchCloneSnapshot(_ index: Int) throws {
        let (_, config) = Self.shapes[index]
        let model = try randomModel(config, seed: 21)
        let steps = 13
        let xs = randomInputs(steps * config.inputSize, seed: 5)
        let a = try Session(model: model), b = try Session(model: model)
        let ys = try a.run(xs)
        var stepped: [Float] = []
        for t in 0..<steps { stepped += try b.step(Array(xs[(t * config.inputSize)..<((t + 1) * config.inputSize)])) }
        #expect(bits(ys) == bits(stepped))
        #expect(bits(a.hidden()) == bits(b.hidden()))
        let c = try a.clone()
        #expect(bits(c.hidden()) == bits(a.hidden()))
        let snap = a.snapshot()
        #expect(snap.count == a.snapshotSize && a.snapshotSize == 32 + 4 * config.stateSize + 4)
        let x = randomInputs(config.inputSize, seed: 99)
        let y1 = try a.step(x)
        try a.restore(snapshot: snap)
        #expect(bits(try a.step(x)) == bits(y1))
        #expect(bits(try c.step(x)) == bits(y1))
        for B in [2, 3, 5, 8] {
            let batch = try Session(model: model, batchSize: B)
            let singles = try (0..<B).map { _ in try Session(model: model) }
            let exact = B < Session.packedMinBatch || !Kernels.hasPackedGEMM
            for t in 0..<6 {
                let xb = randomInputs(B * config.inputSize, seed: UInt64(40 + t))
                let yb = try batch.step(xb)
                for s in 0..<B {
                    let ys = try singles[s].step(Array(xb[(s * config.inputSize)..<((s + 1) * config.inputSize)]))
                    let got = Array(yb[(s * config.outputSize)..<((s + 1) * config.outputSize)])
                    if exact {
                        #expect(bits(got) == bits(ys), "batch \(B) stream \(s) step \(t)")
                    } else {
                        for o in 0..<config.outputSize { #expect(abs(got[o] - ys[o]) <= 1e-5 * max(1, abs(ys[o])), "batch \(B) stream \(s)") }
                    }
                }
                if t == 3 {  // per-stream reset
                    try batch.reset(stream: 1)
                    try singles[1].reset()
                }
            }
        }
    }

    /// int8 models: every gate matrix quantised per row; outputs match the double reference of
    /// the dequantised weights within the int16-activation error, AVX2 and portable alike.
    @Test(arguments: [0, 1, 4])
    func int8MatchesDequantisedReference(_ index: Int) throws {
        var (name, config) = Self.shapes[index]
        config.weightDType = .i8
        let model = try Model(config: config, parameters: randomParameters(config, seed: 31, scale: 1))
        let deq = model.parameters()
        let session = try Session(model: model)
        var ref = CellReference(config: config, parameters: deq)
        var worst = 0.0
        for t in 0..<30 {
            let x = randomInputs(config.inputSize, seed: UInt64(t), scale: 1)
            let y = try session.step(x)
            let r = ref.step(x)
            let scale = max(r.map { abs($0) }.max() ?? 1, 1e-3)
            for o in 0..<config.outputSize { worst = max(worst, abs(Double(y[o]) - r[o]) / scale) }
        }
        #expect(worst < 2e-2, "\(name) int8: worst error \(worst) of the largest output")
        print("parity \(name) int8 [\(KernelSet.name)]: worst output error \(worst) of the largest output")
        // Canonical: converting the dequantised values back gives the same int8 model.
        let again = try Model(config: config, parameters: deq)
        #expect(again.fingerprint == model.fingerprint)
    }

    /// Threads give the bits of one thread for every kind (jobs always split, and always alone),
    /// row split (batch 1, 5) and stream split (batch 24), float32 and int8.
    @Test(arguments: [WeightDType.f32, .i8], [Session.PoolMode.always, .never])
    func threadedStepsAreBitIdentical(_ dtype: WeightDType, _ mode: Session.PoolMode) throws {
        let config = ModelConfig(inputSize: 64, layers: [.gru(256), .lstm(144, proj: 64), .gru(96, resetBefore: true)],
                                 outputSize: 5, weightDType: dtype)
        let model = try Model(config: config, parameters: randomParameters(config, seed: 12, scale: 0.5))
        for batch in [1, 5, 24] {
            let one = try Session(model: model, batchSize: batch)
            let two = try Session(model: model, batchSize: batch)
            two.poolMode = mode
            try two.setThreads(2)
            for t in 0..<12 {
                let x = randomInputs(batch * config.inputSize, seed: UInt64(t))
                #expect(bits(try one.step(x)) == bits(try two.step(x)), "batch \(batch) step \(t)")
            }
            #expect(bits(one.hidden()) == bits(two.hidden()))
            if mode == .always { #expect(two.poolStats.helperParts + two.poolStats.runs > 0) }
        }
    }

    /// Training every scope of gated bodies: head (the cached-feature path equals the double
    /// engine), top 1 (only the top layer and head change), all with truncated BPTT (the loss
    /// falls on a teacher's data).
    @Test(arguments: [0, 1, 3])
    func trainingEveryScope(_ index: Int) throws {
        let c = [ModelConfig(inputSize: 3, layers: [.gru(8)], outputSize: 2),
                 ModelConfig(inputSize: 3, layers: [.lstm(8)], outputSize: 2),
                 ModelConfig(inputSize: 3, layers: [.gru(6, resetBefore: true), .lstm(8, proj: 4)], outputSize: 2),
                 ModelConfig(inputSize: 3, layers: [.lstm(6, proj: 3), .gru(5)], outputSize: 2)][index]
        let data = try TrainerTests.teacherData(c, n: 16, seed: 4, perStep: true)
        let model = try randomModel(c, seed: 7)
        let e = BPTT(c)
        let p0 = model.parameters()
        var cfg = TrainerConfig()
        cfg.epochs = 3
        cfg.batchSize = 4
        cfg.learningRate = 0.05
        let fast = try Trainer(model: model, config: cfg).fit(data)
        let slow = try Trainer(model: model, config: cfg)
        slow.forceBPTT = true
        let ref = try slow.fit(data)
        #expect(zip(fast.parameters(), ref.parameters()).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(bits(Array(fast.parameters()[..<e.headW])) == bits(Array(p0[..<e.headW])))
        if c.layers.count > 1 {
            cfg.scope = .top(1)
            let top = try Trainer(model: model, config: cfg).fit(data).parameters()
            let l1 = e.layerW[1]
            #expect(bits(Array(top[..<l1])) == bits(Array(p0[..<l1])) && top[l1..<e.headW] != p0[l1..<e.headW])
        }
        cfg.scope = .all
        cfg.bpttSteps = 3
        cfg.epochs = 30
        cfg.learningRate = 0.01
        var losses: [Double] = []
        let trained = try Trainer(model: model, config: cfg).fit(data) { p in
            losses.append(p.loss)
            return true
        }
        #expect(losses.last! < 0.7 * losses.first!, "loss \(losses.first!) -> \(losses.last!)")
        #expect(trained.config == c)
    }

    /// Configs are checked: projection only on LSTM and smaller than the layer; gated layers
    /// keep their own activations.
    @Test func configRules() throws {
        func bad(_ layers: [LayerConfig]) {
            expectCode(.badConfig, "\(layers)") { () throws(RecurError) in
                try ModelConfig(inputSize: 3, layers: layers, outputSize: 2).validate()
            }
        }
        bad([.lstm(8, proj: 8)])
        bad([.lstm(8, proj: 9)])
        bad([LayerConfig(kind: .gru, size: 8, projSize: 2)])
        bad([LayerConfig(kind: .gru, size: 8, activation: .relu)])
        bad([LayerConfig(kind: .elman, size: 4, projSize: 1)])
        let c = ModelConfig(inputSize: 3, layers: [.lstm(8, proj: 5), .gru(4)], outputSize: 2)
        try c.validate()
        #expect(c.layerInputSize(1) == 5 && c.lastLayerSize == 4 && c.stateSize == 5 + 8 + 4)
        #expect(c.parameterCount == (32 * 3 + 32 * 5 + 32 + 32 + 5 * 8) + (12 * 5 + 12 * 4 + 12 + 12) + (2 * 4 + 2))
    }
}
