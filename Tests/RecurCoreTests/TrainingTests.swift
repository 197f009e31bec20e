import Testing
@testable import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// Small random data for a model: `n` sequences of lengths 2...maxLen.
func makeData(_ c: ModelConfig, n: Int, maxLen: Int = 6, seed: UInt64, targets kind: String) -> TrainingData {
    var rng = SplitMix(seed)
    var lengths: [Int] = []
    for _ in 0..<n { lengths.append(2 + Int(rng.next() % UInt64(maxLen - 1))) }
    let total = lengths.reduce(0, +)
    let inputs = (0..<(total * c.inputSize)).map { _ in rng.float(-1, 1) }
    let O = c.outputSize
    let targets: TrainingData.Targets
    switch kind {
    case "seqClass": targets = .sequenceClasses((0..<n).map { _ in Int32(rng.next() % UInt64(O)) })
    case "stepClass": targets = .stepClasses((0..<total).map { _ in Int32(rng.next() % UInt64(O)) })
    case "seqValue": targets = .sequenceValues((0..<(n * O)).map { _ in rng.float(-1, 1) })
    case "stepValue": targets = .stepValues((0..<(total * O)).map { _ in rng.float(-1, 1) })
    case "seqBinary": targets = .sequenceValues((0..<(n * O)).map { _ in Float(rng.next() % 2) })
    default: targets = .stepValues((0..<(total * O)).map { _ in Float(rng.next() % 2) })  // stepBinary
    }
    return TrainingData(inputs: inputs, lengths: lengths, targets: targets)
}

/// Loss (mean) of `params` on `data` through the double engine, plus its analytic gradient.
func engineLossAndGrad(_ c: ModelConfig, _ params: [Double], _ data: TrainingData, loss: Loss, first: Int, bptt: Int)
    -> (Double, [Double])
{
    let e = BPTT(c)
    var g = [Double](repeating: 0, count: e.count)
    let sums = g.withUnsafeMutableBufferPointer { gp in
        e.batch(params: params, data: data, starts: data.starts, sequences: Array(0..<data.sequenceCount)[...],
                loss: loss, grad: gp.baseAddress, firstLayer: first, bptt: bptt)
    }
    let n = Double(sums.terms)
    return (sums.loss / n, g.map { $0 / n })
}

@Suite struct GradientTests {
    static let cases: [(String, ModelConfig, Loss, String)] = [
        ("tanh mse per-step", ModelConfig(inputSize: 3, layers: [LayerConfig(size: 4)], outputSize: 2), .mse, "stepValue"),
        ("tanh mse per-seq", ModelConfig(inputSize: 3, layers: [LayerConfig(size: 4)], outputSize: 2), .mse, "seqValue"),
        ("relu ce per-seq", ModelConfig(inputSize: 2, layers: [LayerConfig(size: 5, activation: .relu)], outputSize: 3), .crossEntropy, "seqClass"),
        ("sigmoid ce per-step", ModelConfig(inputSize: 2, layers: [LayerConfig(size: 3, activation: .sigmoid)], outputSize: 4), .crossEntropy, "stepClass"),
        ("identity bce per-step", ModelConfig(inputSize: 3, layers: [LayerConfig(size: 3, activation: .identity)], outputSize: 2), .binaryCrossEntropy, "stepBinary"),
        ("3-layer relu/tanh/sigmoid bce", ModelConfig(inputSize: 2, layers: [LayerConfig(size: 4, activation: .relu), LayerConfig(size: 3),
                                                                            LayerConfig(size: 5, activation: .sigmoid)], outputSize: 2), .binaryCrossEntropy, "seqBinary"),
        ("2-layer tanh ce", ModelConfig(inputSize: 3, layers: [LayerConfig(size: 4), LayerConfig(size: 4)], outputSize: 3), .crossEntropy, "stepClass"),
        ("gru mse per-step", ModelConfig(inputSize: 3, layers: [.gru(4)], outputSize: 2), .mse, "stepValue"),
        ("gru reset-before ce per-seq", ModelConfig(inputSize: 2, layers: [.gru(3, resetBefore: true)], outputSize: 3), .crossEntropy, "seqClass"),
        ("lstm mse per-step", ModelConfig(inputSize: 3, layers: [.lstm(3)], outputSize: 2), .mse, "stepValue"),
        ("lstm proj bce per-step", ModelConfig(inputSize: 2, layers: [.lstm(4, proj: 2)], outputSize: 2), .binaryCrossEntropy, "stepBinary"),
        ("mixed elman/gru/lstm-proj/gru-rb ce", ModelConfig(inputSize: 2, layers: [LayerConfig(size: 3, activation: .relu), .gru(3),
                                                                                 .lstm(4, proj: 3), .gru(2, resetBefore: true)], outputSize: 3), .crossEntropy, "stepClass"),
    ]

    /// Central finite differences in double precision against the analytic BPTT gradient,
    /// for every parameter, full BPTT, all layers trainable.
    @Test(arguments: 0..<cases.count)
    func bpttGradientMatchesFiniteDifferences(_ i: Int) {
        let (name, c, loss, kind) = Self.cases[i]
        let params = randomParameters(c, seed: UInt64(i + 1), scale: 1.5).map { Double($0) }
        let data = makeData(c, n: 3, seed: UInt64(10 + i), targets: kind)
        let (_, g) = engineLossAndGrad(c, params, data, loss: loss, first: 0, bptt: 0)
        let h = 1e-6
        var worst = 0.0
        for k in 0..<params.count {
            var pp = params, pm = params
            pp[k] += h
            pm[k] -= h
            let fd = (engineLossAndGrad(c, pp, data, loss: loss, first: 0, bptt: 0).0
                - engineLossAndGrad(c, pm, data, loss: loss, first: 0, bptt: 0).0) / (2 * h)
            let err = abs(fd - g[k]) / max(1e-4, abs(fd) + abs(g[k]))
            worst = max(worst, err)
            #expect(abs(fd - g[k]) <= 1e-6 + 1e-5 * abs(fd), "\(name) param \(k): analytic \(g[k]) vs FD \(fd)")
        }
        #expect(worst < 1e-4, "\(name) worst relative error \(worst)")
    }

    /// Truncated BPTT computes the exact gradient of the loss with the state detached at
    /// every k-th step: finite differences with the boundary states frozen agree.
    @Test(arguments: [1, 2, 3], [false, true])
    func truncatedBPTTMatchesDetachedFiniteDifferences(_ k: Int, _ gated: Bool) {
        let c = gated
            ? ModelConfig(inputSize: 2, layers: [.lstm(3, proj: 2), .gru(3)], outputSize: 2)
            : ModelConfig(inputSize: 2, layers: [LayerConfig(size: 3), LayerConfig(size: 3, activation: .sigmoid)], outputSize: 2)
        let params = randomParameters(c, seed: 5, scale: 1.5).map { Double($0) }
        // One sequence of 7 steps with per-step targets.
        var data = makeData(c, n: 1, maxLen: 2, seed: 6, targets: "stepValue")
        var rng = SplitMix(9)
        data = TrainingData(inputs: (0..<14).map { _ in rng.float(-1, 1) }, lengths: [7],
                            targets: .stepValues((0..<14).map { _ in rng.float(-1, 1) }))
        let e = BPTT(c)
        // Boundary states from the unperturbed parameters.
        var frozen: [[[Double]]] = []
        params.withUnsafeBufferPointer { pp in
            data.inputs.withUnsafeBufferPointer { xp in
                _ = e.sequence(params: pp.baseAddress!, x: xp.baseAddress!, T: 7, loss: .mse, targetAt: { _ in true },
                               classAt: { _ in 0 }, valuesAt: { _ in nil }, grad: nil, firstLayer: 0, bptt: 0,
                               statesOut: { t, prev in if t > 0 && t % k == 0 { frozen.append(prev) } })
            }
        }
        func lossWith(_ p: [Double], grad: UnsafeMutablePointer<Double>?) -> Loss.Sums {
            p.withUnsafeBufferPointer { pp in
                data.inputs.withUnsafeBufferPointer { xp in
                    guard case .stepValues(let v) = data.targets else { return Loss.Sums() }
                    return v.withUnsafeBufferPointer { vp in
                        e.sequence(params: pp.baseAddress!, x: xp.baseAddress!, T: 7, loss: .mse, targetAt: { _ in true },
                                   classAt: { _ in 0 }, valuesAt: { vp.baseAddress! + $0 * 2 }, grad: grad, firstLayer: 0,
                                   bptt: k, frozenStates: frozen)
                    }
                }
            }
        }
        var g = [Double](repeating: 0, count: e.count)
        let sums = g.withUnsafeMutableBufferPointer { lossWith(params, grad: $0.baseAddress) }
        let h = 1e-6
        for i in 0..<params.count {
            var pp = params, pm = params
            pp[i] += h
            pm[i] -= h
            let fd = (lossWith(pp, grad: nil).loss - lossWith(pm, grad: nil).loss) / (2 * h)
            #expect(abs(fd - g[i]) <= 1e-6 + 1e-5 * abs(fd), "k=\(k) param \(i): \(g[i]) vs \(fd)")
        }
        #expect(sums.terms == 14)
        // k >= T is full BPTT: same gradient as bptt 0.
        if k == 3 {
            let full = engineLossAndGrad(c, params, data, loss: .mse, first: 0, bptt: 0).1
            let long = engineLossAndGrad(c, params, data, loss: .mse, first: 0, bptt: 7).1
            #expect(full == long)
        }
    }

    /// The double engine's forward pass of gated layers is the session's (to float rounding):
    /// BPTT trains the model the runtime runs.
    @Test func bpttForwardEqualsTheSession() throws {
        let c = GradientTests.cases[11].1
        let model = try randomModel(c, seed: 2)
        let data = makeData(c, n: 1, maxLen: 9, seed: 3, targets: "stepClass")
        let e = BPTT(c)
        let p = model.parameters().map { Double($0) }
        var tops: [[Double]] = []
        p.withUnsafeBufferPointer { pp in
            data.inputs.withUnsafeBufferPointer { xp in
                let T = data.lengths[0]
                var state = c.layers.map { [Double](repeating: 0, count: $0.stateWidth) }
                var cache = BPTT.Cache()
                for t in 0..<T {
                    var input = (0..<c.inputSize).map { Double(xp[t * c.inputSize + $0]) }
                    for l in c.layers.indices {
                        e.forward(l, pp.baseAddress!, input, &state[l], cache: &cache)
                        input = cache.h
                    }
                    tops.append(state.flatMap { $0 })
                }
            }
        }
        let s = try Session(model: model)
        for t in 0..<data.lengths[0] {
            _ = try s.step(Array(data.inputs[(t * c.inputSize)..<((t + 1) * c.inputSize)]))
            let h = s.hidden()
            for i in 0..<h.count { #expect(close(h[i], tops[t][i], rel: 1e-5, abs: 1e-6), "step \(t) state \(i)") }
        }
    }

    /// Frozen layers get no gradient; trainable ones get the full-model gradient.
    @Test func scopesMaskTheGradient() {
        let c = GradientTests.cases[6].1
        let params = randomParameters(c, seed: 3).map { Double($0) }
        let data = makeData(c, n: 3, seed: 4, targets: "stepClass")
        let e = BPTT(c)
        let all = engineLossAndGrad(c, params, data, loss: .crossEntropy, first: 0, bptt: 0).1
        let top1 = engineLossAndGrad(c, params, data, loss: .crossEntropy, first: 1, bptt: 0).1
        let head = engineLossAndGrad(c, params, data, loss: .crossEntropy, first: 2, bptt: 0).1
        let t1 = e.trainableOffset(firstLayer: 1), hd = e.trainableOffset(firstLayer: 2)
        #expect(top1[..<t1].allSatisfy { $0 == 0 } && Array(top1[t1...]) == Array(all[t1...]))
        #expect(head[..<hd].allSatisfy { $0 == 0 } && Array(head[hd...]) == Array(all[hd...]))
    }
}

func trainConfig(_ f: (inout TrainerConfig) -> Void) -> TrainerConfig {
    var c = TrainerConfig()
    f(&c)
    return c
}

@Suite struct TrainerTests {
    /// A learnable task: the target is a fixed function of the last inputs.
    static func teacherData(_ c: ModelConfig, n: Int, seed: UInt64, perStep: Bool) throws -> TrainingData {
        let teacher = try randomModel(c, seed: 999)
        var rng = SplitMix(seed)
        var lengths: [Int] = []
        var inputs: [Float] = []
        var values: [Float] = []
        for _ in 0..<n {
            let T = 3 + Int(rng.next() % 6)
            lengths.append(T)
            let xs = (0..<(T * c.inputSize)).map { _ in rng.float(-1, 1) }
            inputs += xs
            let ys = try Session(model: teacher).run(xs)
            values += perStep ? ys : Array(ys.suffix(c.outputSize))
        }
        return TrainingData(inputs: inputs, lengths: lengths, targets: perStep ? .stepValues(values) : .sequenceValues(values))
    }

    static let config = ModelConfig(inputSize: 4, layers: [LayerConfig(size: 16)], outputSize: 3)

    @Test(arguments: ["sgd", "sgd-momentum", "sgd-nesterov", "adam", "adamw"])
    func lossDecreasesForEachOptimizer(_ name: String) throws {
        let data = try Self.teacherData(Self.config, n: 64, seed: 1, perStep: true)
        let model = try randomModel(Self.config, seed: 2)
        for scope in [TrainingScope.head, .all] {
            let cfg = trainConfig {
                $0.optimizer = name.hasPrefix("sgd") ? .sgd : (name == "adam" ? .adam : .adamw)
                $0.learningRate = name.hasPrefix("sgd") ? 0.1 : 0.01
                $0.momentum = name == "sgd" ? 0 : 0.9
                $0.nesterov = name == "sgd-nesterov"
                $0.weightDecay = name == "adamw" ? 0.01 : 0
                $0.epochs = 15
                $0.batchSize = 8
                $0.scope = scope
            }
            let t = try Trainer(model: model, config: cfg)
            var losses: [Double] = []
            let trained = try t.fit(data) { p in
                losses.append(p.loss)
                return true
            }
            let before = try t.evaluate(model, on: data).loss
            let after = try t.evaluate(trained, on: data).loss
            #expect(losses.count == 15)
            #expect(after < 0.6 * before, "\(name) \(scope): loss \(before) -> \(after)")
            #expect(losses.last! < losses.first!)
        }
    }

    @Test func headFastPathEqualsBPTT() throws {
        let data = try Self.teacherData(Self.config, n: 20, seed: 3, perStep: true)
        let model = try randomModel(Self.config, seed: 4)
        for loss in [Loss.mse] {
            let cfg = trainConfig { $0.loss = loss; $0.epochs = 3; $0.batchSize = 5; $0.learningRate = 0.05 }
            let fast = try Trainer(model: model, config: cfg).fit(data)
            let slow = try Trainer(model: model, config: cfg)
            slow.forceBPTT = true
            let ref = try slow.fit(data)
            let a = fast.parameters(), b = ref.parameters()
            var worst: Float = 0
            for i in 0..<a.count { worst = max(worst, abs(a[i] - b[i])) }
            #expect(worst < 1e-5, "fast head path differs from the double engine by \(worst)")
        }
        // Classification too.
        let cdata = makeData(Self.config, n: 20, seed: 5, targets: "stepClass")
        let cfg = trainConfig { $0.loss = .crossEntropy; $0.epochs = 2; $0.batchSize = 4 }
        let fast = try Trainer(model: model, config: cfg).fit(cdata)
        let slow = try Trainer(model: model, config: cfg)
        slow.forceBPTT = true
        let ref = try slow.fit(cdata)
        #expect(zip(fast.parameters(), ref.parameters()).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func ridgeEqualsNormalEquations() throws {
        let c = ModelConfig(inputSize: 3, layers: [LayerConfig(size: 6)], outputSize: 2)
        let data = try Self.teacherData(c, n: 30, seed: 7, perStep: true)
        let model = try randomModel(c, seed: 8)
        let lambda = 0.1
        let trained = try Trainer(model: model, config: trainConfig { $0.optimizer = .ridge; $0.loss = .mse; $0.weightDecay = lambda }).fit(data)
        // Independent solution: features from fresh sessions, normal equations by Gaussian
        // elimination in double.
        var rows: [[Double]] = []
        var start = 0
        for T in data.lengths {
            let s = try Session(model: model)
            for t in 0..<T {
                _ = try s.step(Array(data.inputs[((start + t) * 3)..<((start + t + 1) * 3)]))
                rows.append(s.hidden().map { Double($0) } + [1])
            }
            start += T
        }
        guard case .stepValues(let y) = data.targets else { return }
        let n = 7
        let p = trained.parameters()
        let headW = p.count - 2 * 7
        for o in 0..<2 {
            var A = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
            for r in 0..<rows.count {
                for i in 0..<n {
                    for j in 0..<n { A[i][j] += rows[r][i] * rows[r][j] }
                    A[i][n] += rows[r][i] * Double(y[r * 2 + o])
                }
            }
            for i in 0..<6 { A[i][i] += lambda }
            for col in 0..<n {  // Gauss-Jordan with partial pivoting
                let piv = (col..<n).max { abs(A[$0][col]) < abs(A[$1][col]) }!
                A.swapAt(col, piv)
                for r in 0..<n where r != col {
                    let f = A[r][col] / A[col][col]
                    for k in col...n { A[r][k] -= f * A[col][k] }
                }
            }
            for j in 0..<6 {
                let w = A[j][n] / A[j][j]
                #expect(abs(Double(p[headW + o * 6 + j]) - w) < 1e-4 * max(1, abs(w)), "w[\(o)][\(j)]")
            }
            let b = A[6][n] / A[6][6]
            #expect(abs(Double(p[headW + 12 + o]) - b) < 1e-4 * max(1, abs(b)))
        }
        // Singular without the penalty when a feature is constant: a clear error.
        let zeroBody = ModelConfig(inputSize: 1, layers: [LayerConfig(size: 2)], outputSize: 1)
        let zp = [Float](repeating: 0, count: zeroBody.parameterCount)
        let zm = try Model(config: zeroBody, parameters: zp)
        let zd = TrainingData(inputs: [1, 2, 3], lengths: [3], targets: .stepValues([1, 2, 3]))
        expectCode(.singular) { () throws(RecurError) in
            _ = try Trainer(model: zm, config: trainConfig { $0.optimizer = .ridge }).fit(zd)
        }
    }

    @Test func scopesChangeOnlyWhatTheyShould() throws {
        let c = ModelConfig(inputSize: 4, layers: [LayerConfig(size: 8), LayerConfig(size: 8, activation: .relu)], outputSize: 3)
        let data = try Self.teacherData(c, n: 24, seed: 9, perStep: false)
        let model = try randomModel(c, seed: 10)
        let e = BPTT(c)
        let p0 = model.parameters()
        let head = try Trainer(model: model, config: trainConfig { $0.epochs = 3; $0.learningRate = 0.01 }).fit(data).parameters()
        #expect(bits(Array(head[..<e.headW])) == bits(Array(p0[..<e.headW])), "head-only training changed the body")
        #expect(head[e.headW...] != p0[e.headW...])
        let top1 = try Trainer(model: model, config: trainConfig { $0.epochs = 3; $0.learningRate = 0.01; $0.scope = .top(1) }).fit(data).parameters()
        let l1 = e.layerW[1]
        #expect(bits(Array(top1[..<l1])) == bits(Array(p0[..<l1])), "top-1 training changed layer 0")
        #expect(top1[l1..<e.headW] != p0[l1..<e.headW])
        #expect(top1[e.headW...] != p0[e.headW...])
        let all = try Trainer(model: model, config: trainConfig { $0.epochs = 2; $0.scope = .all; $0.bpttSteps = 2 }).fit(data).parameters()
        #expect(all[..<l1] != p0[..<l1])
        // The original model is untouched.
        #expect(bits(model.parameters()) == bits(p0))
    }

    @Test func sameSeedSameBitsDifferentSeedDifferent() throws {
        let data = try Self.teacherData(Self.config, n: 30, seed: 11, perStep: true)
        let model = try randomModel(Self.config, seed: 12)
        for scope in [TrainingScope.head, .all] {
            func run(_ seed: UInt64) throws -> [Float] {
                try Trainer(model: model, config: trainConfig { $0.seed = seed; $0.epochs = 3; $0.scope = scope; $0.batchSize = 4 }).fit(data).parameters()
            }
            #expect(bits(try run(1)) == bits(try run(1)))
            #expect(bits(try run(1)) != bits(try run(2)))
        }
        let a = try model.withNewHead(outputs: 5, seed: 3), b = try model.withNewHead(outputs: 5, seed: 3)
        #expect(bits(a.parameters()) == bits(b.parameters()))
    }

    @Test func cancelAndDivergenceChangeNothing() throws {
        let data = try Self.teacherData(Self.config, n: 20, seed: 13, perStep: true)
        let model = try randomModel(Self.config, seed: 14)
        let p0 = model.parameters()
        let session = try Session(model: model)
        let y0 = try session.step([0.1, 0.2, 0.3, 0.4])
        for scope in [TrainingScope.head, .all] {
            let t = try Trainer(model: model, config: trainConfig { $0.epochs = 5; $0.scope = scope })
            var calls = 0
            expectCode(.cancelled) { () throws(RecurError) in
                _ = try t.fit(data) { p in
                    calls += 1
                    return p.epoch < 2
                }
            }
            #expect(calls == 2)
            #expect(try t.lastGoodModel() != nil)  // the weights after epoch 2 can be taken explicitly
            // Per-batch progress with cancel on the first batch.
            let tb = try Trainer(model: model, config: trainConfig { $0.progressEveryBatch = true; $0.scope = scope })
            expectCode(.cancelled) { () throws(RecurError) in _ = try tb.fit(data) { _ in false } }
            // A learning rate that explodes.
            let td = try Trainer(model: model, config: trainConfig { $0.optimizer = .sgd; $0.learningRate = 1e30; $0.scope = scope })
            expectCode(.diverged) { () throws(RecurError) in _ = try td.fit(data) }
        }
        #expect(bits(model.parameters()) == bits(p0))
        session.reset()
        #expect(bits(try session.step([0.1, 0.2, 0.3, 0.4])) == bits(y0))
    }

    @Test func inferenceRunsWhileTraining() async throws {
        let model = try randomModel(Self.config, seed: 22)
        let xs = randomInputs(4 * 300, seed: 23)
        let expected = try Session(model: model).run(xs)
        let data = try Self.teacherData(Self.config, n: 40, seed: 24, perStep: true)
        let reader = Task.detached { () -> Bool in
            var same = true
            for _ in 0..<20 {
                guard let s = try? Session(model: model), let y = try? s.run(xs) else { return false }
                same = same && bits(y) == bits(expected)
            }
            return same
        }
        let t = try Trainer(model: model, config: trainConfig { $0.scope = .all; $0.epochs = 5 })
        _ = try t.fit(data)
        #expect(await reader.value)
        #expect(bits(try Session(model: model).run(xs)) == bits(expected))
    }

    @Test func misuseIsReported() throws {
        let model = try randomModel(Self.config, seed: 15)
        let bad: [TrainerConfig] = [
            trainConfig { $0.learningRate = 0 }, trainConfig { $0.learningRate = .nan }, trainConfig { $0.batchSize = 0 },
            trainConfig { $0.epochs = 0 }, trainConfig { $0.momentum = 1 }, trainConfig { $0.scope = .top(2) },
            trainConfig { $0.nesterov = true }, trainConfig { $0.optimizer = .ridge; $0.scope = .all },
            trainConfig { $0.optimizer = .ridge; $0.loss = .crossEntropy }, trainConfig { $0.weightDecay = -1 },
            trainConfig { $0.clipNorm = .infinity }, trainConfig { $0.bpttSteps = -1 },
        ]
        for c in bad {
            expectCode(.invalidArgument, "\(c)") { () throws(RecurError) in _ = try Trainer(model: model, config: c) }
        }
        let t = try Trainer(model: model)
        let cases: [(TrainingData, RecurError.Code)] = [
            (TrainingData(inputs: [], lengths: [], targets: .stepValues([])), .invalidArgument),
            (TrainingData(inputs: [1, 2, 3], lengths: [1], targets: .sequenceValues([1, 2, 3])), .lengthMismatch),
            (TrainingData(inputs: [1, 2, 3, 4], lengths: [0], targets: .sequenceValues([1, 2, 3])), .invalidArgument),
            (TrainingData(inputs: [1, 2, 3, 4], lengths: [1], targets: .sequenceValues([1, 2])), .lengthMismatch),
            (TrainingData(inputs: [1, 2, .nan, 4], lengths: [1], targets: .sequenceValues([1, 2, 3])), .nonFiniteInput),
            (TrainingData(inputs: [1, 2, 3, 4], lengths: [1], targets: .sequenceClasses([1])), .invalidArgument),  // mse + classes
        ]
        for (d, code) in cases {
            expectCode(code) { () throws(RecurError) in _ = try t.fit(d) }
        }
        let ce = try Trainer(model: model, config: trainConfig { $0.loss = .crossEntropy })
        expectCode(.invalidArgument) { () throws(RecurError) in
            _ = try ce.fit(TrainingData(inputs: [1, 2, 3, 4], lengths: [1], targets: .sequenceClasses([3])))
        }
        expectCode(.invalidArgument) { () throws(RecurError) in
            _ = try ce.fit(TrainingData(inputs: [1, 2, 3, 4], lengths: [1], targets: .sequenceClasses([-1])))
        }
        let bce = try Trainer(model: model, config: trainConfig { $0.loss = .binaryCrossEntropy })
        expectCode(.invalidArgument) { () throws(RecurError) in
            _ = try bce.fit(TrainingData(inputs: [1, 2, 3, 4], lengths: [1], targets: .sequenceValues([0, 1, 2])))
        }
    }

    @Test func newAndExtendedHeads() throws {
        let model = try randomModel(Self.config, seed: 16, labels: ["a", "b", "c"])
        let p0 = model.parameters()
        let e = BPTT(Self.config)
        let fresh = try model.withNewHead(outputs: 5, labels: ["v", "w", "x", "y", "z"], transform: .softmax, seed: 1)
        #expect(fresh.config.outputSize == 5 && fresh.labels.count == 5 && fresh.config.outputTransform == .softmax)
        #expect(fresh.bodyFingerprint == model.bodyFingerprint)
        let fp = fresh.parameters()
        #expect(bits(Array(fp[..<e.headW])) == bits(Array(p0[..<e.headW])))
        let bound: Float = 1 / 4  // 1/sqrt(16)
        #expect(fp[e.headW...].allSatisfy { abs($0) <= bound } && Set(fp[e.headW...]).count > 70)
        let ext = try model.extendingHead(newClasses: 2, labels: ["d", "e"], seed: 2)
        #expect(ext.labels == ["a", "b", "c", "d", "e"])
        let xp = ext.parameters()
        #expect(bits(Array(xp[e.headW..<(e.headW + 48)])) == bits(Array(p0[e.headW..<(e.headW + 48)])))  // old rows
        #expect(bits(Array(xp[(e.headW + 80)..<(e.headW + 83)])) == bits(Array(p0[(e.headW + 48)..<(e.headW + 51)])))  // old biases
        expectCode(.badLabel) { () throws(RecurError) in _ = try model.extendingHead(newClasses: 2, labels: ["d"]) }
        expectCode(.badLabel) { () throws(RecurError) in _ = try model.extendingHead(newClasses: 1, labels: ["a"]) }
        expectCode(.badConfig) { () throws(RecurError) in _ = try model.withNewHead(outputs: 0) }
    }

    @Test func adapterRoundTripAndWrongBase() throws {
        let base = try randomModel(Self.config, seed: 17)
        let data = makeData(Self.config, n: 20, seed: 18, targets: "seqClass")
        let tuned = try Trainer(model: try base.withNewHead(outputs: 3, labels: ["x", "y", "z"], transform: .softmax, seed: 5),
                                config: trainConfig { $0.loss = .crossEntropy; $0.epochs = 3 }).fit(data)
        let bytes = try tuned.adapterBytes()
        #expect(bytes.count < 1000)
        let applied = try base.applyingAdapter(bytes)
        #expect(bits(applied.parameters()) == bits(tuned.parameters()))
        #expect(applied.fingerprint == tuned.fingerprint && applied.labels == ["x", "y", "z"])
        #expect(applied.config == tuned.config)
        let dir = tempDir()
        try tuned.saveAdapter(to: dir + "/user.adapter")
        #expect(bits(try base.applyingAdapter(path: dir + "/user.adapter").parameters()) == bits(tuned.parameters()))
        // Another base (other weights, same shape) is refused; so is a model file.
        let other = try randomModel(Self.config, seed: 99)
        expectCode(.adapterMismatch) { () throws(RecurError) in _ = try other.applyingAdapter(bytes) }
        expectCode(.schema) { () throws(RecurError) in _ = try base.applyingAdapter(try base.checkpointBytes()) }
        expectCode(.schema) { () throws(RecurError) in _ = try CheckpointReader.decode(bytes) }
        // Every truncation of the adapter is rejected.
        for n in stride(from: 0, to: bytes.count, by: 7) {
            expectCode(.truncated) { () throws(RecurError) in _ = try base.applyingAdapter(Array(bytes.prefix(n))) }
        }
    }

    @Test func evaluationMetrics() throws {
        let model = try randomModel(Self.config, seed: 19)
        let data = makeData(Self.config, n: 40, seed: 20, targets: "seqClass")
        let e = try Trainer.evaluate(model, on: data, loss: .crossEntropy)
        #expect(e.count == 40 && e.accuracy != nil && e.rmse == nil)
        // Accuracy by hand: argmax of the step outputs at each sequence end.
        var hits = 0
        var start = 0
        guard case .sequenceClasses(let cls) = data.targets else { return }
        for (s, T) in data.lengths.enumerated() {
            let ys = try Session(model: model).run(Array(data.inputs[(start * 4)..<((start + T) * 4)]))
            let last = Array(ys.suffix(3))
            if last.firstIndex(of: last.max()!) == Int(cls[s]) { hits += 1 }
            start += T
        }
        #expect(abs(e.accuracy! - Double(hits) / 40) < 1e-12)
        let r = try Trainer.evaluate(model, on: try Self.teacherData(Self.config, n: 10, seed: 21, perStep: true), loss: .mse)
        #expect(r.rmse! > 0 && abs(r.rmse! * r.rmse! - r.loss) < 1e-9)
    }
}
