import Testing

#if canImport(Glibc)
import Glibc
#endif
@testable import RecurCore

@Suite struct ReferenceTests {
    static let shapes: [(String, ModelConfig)] = [
        ("design-doc 10-20-5", ModelConfig(inputSize: 10, layers: [LayerConfig(size: 20)], outputSize: 5)),
        ("3-layer relu/tanh/sigmoid",
         ModelConfig(inputSize: 7, layers: [LayerConfig(size: 13, activation: .relu), LayerConfig(size: 9, activation: .tanh),
                                            LayerConfig(size: 16, activation: .sigmoid)], outputSize: 4)),
        ("1-1-1", ModelConfig(inputSize: 1, layers: [LayerConfig(size: 1)], outputSize: 1)),
        ("identity + softmax", ModelConfig(inputSize: 33, layers: [LayerConfig(size: 31, activation: .identity)], outputSize: 6, outputTransform: .softmax)),
        ("2-layer sigmoid head", ModelConfig(inputSize: 12, layers: [LayerConfig(size: 64), LayerConfig(size: 40, activation: .relu)], outputSize: 9, outputTransform: .sigmoid)),
        ("64-256-10", ModelConfig(inputSize: 64, layers: [LayerConfig(size: 256)], outputSize: 10)),
    ]

    @Test(arguments: 0..<shapes.count)
    func matchesDoubleReference(_ index: Int) throws {
        let (name, config) = Self.shapes[index]
        let params = randomParameters(config, seed: UInt64(100 + index), scale: 1.5)
        let model = try Model(config: config, parameters: params)
        let session = try Session(model: model)
        var ref = ReferenceNet(config: config, parameters: params)
        var worst = 0.0
        for t in 0..<25 {
            let x = randomInputs(config.inputSize, seed: UInt64(1000 * index + t), scale: 2)
            let y = try session.step(x)
            let r = ref.step(x)
            for o in 0..<config.outputSize {
                worst = max(worst, abs(Double(y[o]) - r[o]) / max(abs(r[o]), 1e-3))
                #expect(close(y[o], r[o]), "\(name) step \(t) output \(o): \(y[o]) vs \(r[o])")
            }
        }
        // Hidden state too.
        let h = session.hidden()
        let hr = ref.h.flatMap { $0 }
        for i in 0..<h.count { #expect(close(h[i], hr[i]), "\(name) hidden \(i)") }
    }

    @Test func runEqualsRepeatedStep() throws {
        let config = Self.shapes[1].1
        let model = try randomModel(config, seed: 7)
        let a = try Session(model: model)
        let b = try Session(model: model)
        let steps = 17
        let xs = randomInputs(steps * config.inputSize, seed: 8)
        let ys = try a.run(xs)
        var stepped: [Float] = []
        for t in 0..<steps {
            stepped += try b.step(Array(xs[(t * config.inputSize)..<((t + 1) * config.inputSize)]))
        }
        #expect(bits(ys) == bits(stepped))
        #expect(bits(a.hidden()) == bits(b.hidden()))
        // Last-only output mode.
        let c = try Session(model: model)
        var last = [Float](repeating: 0, count: config.outputSize)
        try xs.withUnsafeBufferPointer { xp in
            try last.withUnsafeMutableBufferPointer { yp in try c.run(xp, steps: steps, yp) }
        }
        #expect(bits(last) == bits(Array(ys.suffix(config.outputSize))))
    }

    /// A batch equals separate sessions: bit for bit below `Session.packedMinBatch` streams or
    /// on the portable kernels; to float rounding with the packed GEMM kernel (AVX2, 4+ streams).
    @Test(arguments: [1, 3, 4, 8, 64])
    func batchEqualsSeparateSessions(_ batch: Int) throws {
        let config = ModelConfig(inputSize: 10, layers: [LayerConfig(size: 20), LayerConfig(size: 11, activation: .relu)], outputSize: 5, outputTransform: .softmax)
        let model = try randomModel(config, seed: 11)
        let batched = try Session(model: model, batchSize: batch)
        let exact = batch < Session.packedMinBatch || !Kernels.hasPackedGEMM
        #expect((batched.packed != nil) == !exact)
        let singles = try (0..<batch).map { _ in try Session(model: model) }
        var worst: Float = 0
        for t in 0..<12 {
            let x = randomInputs(batch * config.inputSize, seed: UInt64(500 + t))
            if t == 6 && batch > 1 {
                try batched.reset(stream: 1)
                singles[1].reset()
            }
            let y = try batched.step(x)
            for b in 0..<batch {
                let ys = try singles[b].step(Array(x[(b * 10)..<((b + 1) * 10)]))
                let yb = Array(y[(b * 5)..<((b + 1) * 5)])
                if exact {
                    #expect(bits(yb) == bits(ys), "stream \(b) step \(t)")
                } else {
                    for i in 0..<5 { worst = max(worst, abs(yb[i] - ys[i])) }
                }
            }
        }
        #expect(worst <= 2e-6, "batch \(batch): max |batched - single| = \(worst)")
    }

    /// Whatever the kernel, a stream's results depend only on its own inputs and state (not on
    /// the other streams), repeat bit for bit, and are the same in any batch of 4 or more.
    @Test func batchStreamsAreIndependentAndRepeatable() throws {
        let config = ModelConfig(inputSize: 12, layers: [LayerConfig(size: 40)], outputSize: 6)
        let model = try randomModel(config, seed: 13)
        let sizes = [4, 4, 9, 64]
        let sessions = try sizes.map { try Session(model: model, batchSize: $0) }
        for t in 0..<8 {
            let shared = randomInputs(12, seed: UInt64(900 + t))  // stream 2's inputs everywhere
            var outs: [[Float]] = []
            var first: [Float] = []
            for (k, s) in sessions.enumerated() {
                // The first two sessions get the same inputs; the others different ones.
                var x = randomInputs(s.batchSize * 12, seed: UInt64(k < 2 ? 1900 + t : 2900 + 100 * k + t))
                for i in 0..<12 { x[24 + i] = shared[i] }
                let y = try s.step(x)
                if k == 0 { first = y }
                if k == 1 { #expect(bits(y) == bits(first), "step \(t): same inputs, same bits") }
                outs.append(Array(y[12..<18]))
            }
            for k in 1..<outs.count { #expect(bits(outs[k]) == bits(outs[0]), "step \(t): batch \(sizes[k]) stream 2") }
        }
    }

    @Test func snapshotContinuity() throws {
        let config = Self.shapes[1].1
        let model = try randomModel(config, seed: 21)
        let s = try Session(model: model)
        let xs = randomInputs(30 * config.inputSize, seed: 22)
        func chunk(_ t: Int) -> [Float] { Array(xs[(t * config.inputSize)..<((t + 1) * config.inputSize)]) }
        for t in 0..<10 { _ = try s.step(chunk(t)) }
        let snap = s.snapshot()
        var first: [Float] = []
        for t in 10..<20 { first += try s.step(chunk(t)) }
        try s.restore(snapshot: snap)
        var second: [Float] = []
        for t in 10..<20 { second += try s.step(chunk(t)) }
        #expect(bits(first) == bits(second))
        // Clone carries the state too.
        try s.restore(snapshot: snap)
        let c = try s.clone()
        var third: [Float] = []
        for t in 10..<20 { third += try c.step(chunk(t)) }
        #expect(bits(third) == bits(first))
    }

    @Test func snapshotBoundToModelBody() throws {
        let config = Self.shapes[0].1
        let m1 = try randomModel(config, seed: 1)
        let s1 = try Session(model: m1)
        _ = try s1.step(randomInputs(10, seed: 2))
        let snap = s1.snapshot()
        // Another body (other weights) and another shape are rejected; state unchanged.
        let m2 = try randomModel(config, seed: 3)
        let s2 = try Session(model: m2)
        _ = try s2.step(randomInputs(10, seed: 4))
        let before = s2.hidden()
        expectCode(.stateMismatch) { () throws(RecurError) in try s2.restore(snapshot: snap) }
        #expect(bits(s2.hidden()) == bits(before))
        let m3 = try randomModel(ModelConfig(inputSize: 10, layers: [LayerConfig(size: 21)], outputSize: 5), seed: 1)
        let s3 = try Session(model: m3)
        expectCode(.stateMismatch) { () throws(RecurError) in try s3.restore(snapshot: snap) }
        // Batch size mismatch.
        let sb = try Session(model: m1, batchSize: 2)
        expectCode(.stateMismatch) { () throws(RecurError) in try sb.restore(snapshot: snap) }
        // Same body, different head: accepted.
        var p = m1.parameters()
        p[p.count - 1] += 1
        let m4 = try Model(config: config, parameters: p)
        let s4 = try Session(model: m4)
        try s4.restore(snapshot: snap)
        #expect(bits(s4.hidden()) == bits(s1.hidden()))
        // Corruption is caught by the CRC; truncation by the length.
        var bad = snap
        bad[40] ^= 0x01
        expectCode(.corruptPayload) { () throws(RecurError) in try s1.restore(snapshot: bad) }
        expectCode(.lengthMismatch) { () throws(RecurError) in try s1.restore(snapshot: Array(snap.dropLast())) }
    }

    @Test func nonFiniteInputLeavesStateUnchanged() throws {
        let config = Self.shapes[0].1
        let model = try randomModel(config, seed: 5)
        let s = try Session(model: model)
        _ = try s.step(randomInputs(10, seed: 6))
        let before = s.hidden()
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = randomInputs(10, seed: 7)
            x[3] = bad
            expectCode(.nonFiniteInput) { () throws(RecurError) in _ = try s.step(x) }
            var xs = randomInputs(30, seed: 8)
            xs[25] = bad
            expectCode(.nonFiniteInput) { () throws(RecurError) in _ = try s.run(xs) }
            #expect(bits(s.hidden()) == bits(before))
        }
        var h = before
        h[0] = .nan
        expectCode(.nonFiniteInput) { () throws(RecurError) in
            try h.withUnsafeBufferPointer { (p) throws(RecurError) in try s.setHidden(p) }
        }
        #expect(bits(s.hidden()) == bits(before))
    }

    @Test func setHiddenIsInitialState() throws {
        let config = Self.shapes[1].1
        let params = randomParameters(config, seed: 31)
        let model = try Model(config: config, parameters: params)
        let s = try Session(model: model)
        var ref = ReferenceNet(config: config, parameters: params)
        let h0 = randomInputs(config.stateSize, seed: 32, scale: 0.5)
        try h0.withUnsafeBufferPointer { (p) throws(RecurError) in try s.setHidden(p) }
        var k = 0
        for l in 0..<config.layers.count {
            for i in 0..<config.layers[l].size {
                ref.h[l][i] = Double(h0[k])
                k += 1
            }
        }
        #expect(bits(s.hidden()) == bits(h0))
        for t in 0..<5 {
            let x = randomInputs(config.inputSize, seed: UInt64(40 + t))
            let y = try s.step(x)
            let r = ref.step(x)
            for o in 0..<y.count { #expect(close(y[o], r[o])) }
        }
    }

    @Test func invalidConfigsRejected() throws {
        let bad: [ModelConfig] = [
            ModelConfig(inputSize: 0, layers: [LayerConfig(size: 2)], outputSize: 1),
            ModelConfig(inputSize: 2, layers: [], outputSize: 1),
            ModelConfig(inputSize: 2, layers: [LayerConfig(size: 0)], outputSize: 1),
            ModelConfig(inputSize: 2, layers: [LayerConfig(size: 65537)], outputSize: 1),
            ModelConfig(inputSize: 2, layers: [LayerConfig(size: 2)], outputSize: 0),
            ModelConfig(inputSize: 2, layers: Array(repeating: LayerConfig(size: 2), count: 65), outputSize: 1),
        ]
        for c in bad {
            expectCode(.badConfig, "\(c)") { () throws(RecurError) in _ = try Model(config: c, parameters: []) }
        }
        let c = ModelConfig(inputSize: 2, layers: [LayerConfig(size: 2)], outputSize: 1)
        expectCode(.lengthMismatch) { () throws(RecurError) in _ = try Model(config: c, parameters: [1, 2]) }
        var p = randomParameters(c, seed: 1)
        p[4] = .nan
        expectCode(.nonFiniteWeight) { () throws(RecurError) in _ = try Model(config: c, parameters: p) }
        let ok = randomParameters(c, seed: 1)
        expectCode(.badLabel) { () throws(RecurError) in _ = try Model(config: c, parameters: ok, labels: ["a", "b"]) }
        expectCode(.badLabel) { () throws(RecurError) in _ = try Model(config: c, parameters: ok, labels: [""]) }
        expectCode(.badLabel) { () throws(RecurError) in _ = try Model(config: c, parameters: ok, labels: ["a\nb"]) }
        expectCode(.badMetadata) { () throws(RecurError) in _ = try Model(config: c, parameters: ok, metadata: [("", "v")]) }
        expectCode(.badMetadata) { () throws(RecurError) in _ = try Model(config: c, parameters: ok, metadata: [("k", "1"), ("k", "2")]) }
        expectCode(.invalidArgument) { () throws(RecurError) in _ = try Session(model: Model(config: c, parameters: ok), batchSize: 0) }
    }
}

/// Sessions split across threads give the bits of one thread (f32 and int8; batch 1 and 5:
/// products split by rows, batch activations by streams; batch 24: whole streams per thread on
/// the small model, rows on the large one whose weights exceed `Session.streamSplitMaxWeights`),
/// and the setting can change between steps.
@Suite struct ThreadTests {
    /// Each pool policy: every job split across the workers (ALWAYS), every job on the caller as
    /// one part (NEVER, what a busy machine gets), and the adaptive default.
    @Test(arguments: [(WeightDType.f32, false), (.i8, false), (.f32, true), (.i8, true)], [Session.PoolMode.always, .never, .adaptive])
    func threadedStepsAreBitIdentical(_ kind: (WeightDType, Bool), _ mode: Session.PoolMode) throws {
        let (dtype, large) = kind
        let config = ModelConfig(
            inputSize: 40, layers: [LayerConfig(size: large ? 520 : 200), LayerConfig(size: 130, activation: .relu)], outputSize: 7,
            outputTransform: .softmax, weightDType: dtype)
        let model = try Model(config: config, parameters: randomParameters(config, seed: 4, scale: large ? 0.1 : 0.2))
        #expect((model.weightCount > Session.streamSplitMaxWeights) == large)
        for batch in large ? [1, 24] : [1, 5, 24] {
            let one = try Session(model: model, batchSize: batch)
            let many = try Session(model: model, batchSize: batch)
            many.poolMode = mode
            try many.setThreads(2)
            #expect(many.threads == 2)
            let steps = large ? 8 : 40  // the large model only adds the row split of a batch
            for t in 0..<steps {
                if t == steps / 4 { try many.setThreads(3) }
                if t == steps / 2 { try many.setThreads(1) }
                if t == 3 * steps / 4 { try many.setThreads(2) }
                let x = randomInputs(batch * config.inputSize, seed: UInt64(t))
                #expect(bits(try one.step(x)) == bits(try many.step(x)), "batch \(batch) step \(t)")
            }
            #expect(bits(one.hidden()) == bits(many.hidden()))
            // run() too
            let xs = randomInputs((large ? 4 : 30) * batch * config.inputSize, seed: 99)
            #expect(bits(try one.run(xs)) == bits(try many.run(xs)))
            let st = many.poolStats
            if mode == .never { #expect(st.helperParts == 0 && st.solo == st.runs) }
            if mode == .always { #expect(st.solo == 0) }
        }
    }

    /// With every CPU kept busy by other processes, a 2-thread session runs (nearly) every job
    /// alone instead of waiting for helpers the scheduler does not run, and still gives the bits
    /// of one thread.
    @Test func threadedSessionGoesSoloOnABusyMachine() throws {
        let config = ModelConfig(inputSize: 64, layers: [LayerConfig(size: 512)], outputSize: 10)
        let model = try Model(config: config, parameters: randomParameters(config, seed: 8, scale: 0.05))
        let one = try Session(model: model)
        let two = try Session(model: model)
        try two.setThreads(2)
        var busy: [pid_t] = []
        let cpus = max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        for _ in 0..<cpus {
            var pid: pid_t = 0
            let args = ["/bin/sh", "-c", "while :; do :; done"]
            var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            defer { for a in argv { free(a) } }
            #expect(posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0)
            busy.append(pid)
        }
        defer {
            for p in busy {
                kill(p, SIGKILL)
                var st: Int32 = 0
                waitpid(p, &st, 0)
            }
        }
        var ts = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        nanosleep(&ts, nil)
        let before = two.poolStats
        for t in 0..<1000 {
            let x = randomInputs(config.inputSize, seed: UInt64(t % 17))
            let a = try one.step(x), b = try two.step(x)
            if t % 100 == 0 { #expect(bits(a) == bits(b)) }
        }
        let after = two.poolStats
        let runs = after.runs - before.runs, solo = after.solo - before.solo
        #expect(runs >= 1000)
        #expect(Double(solo) >= 0.9 * Double(runs), "solo \(solo) of \(runs) pooled jobs under load")
    }

    @Test func threadSettingIsChecked() throws {
        let model = try randomModel(smallConfig, seed: 1)
        let s = try Session(model: model)
        for bad in [0, -1, 17, 1000] {
            expectCode(.invalidArgument) { () throws(RecurError) in try s.setThreads(bad) }
        }
        #expect(s.threads == 1)
        try s.setThreads(16)
        #expect(s.threads == 16)
        _ = try s.step(randomInputs(smallConfig.inputSize, seed: 1))
        try s.setThreads(1)
        #expect(s.threads == 1)
        // Many sessions with helpers created and freed (the helpers end with them).
        for _ in 0..<50 {
            let t = try Session(model: model)
            try t.setThreads(2)
            _ = try t.step(randomInputs(smallConfig.inputSize, seed: 2))
        }
    }
}
