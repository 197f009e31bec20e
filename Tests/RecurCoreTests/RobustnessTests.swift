import Testing
@testable import RecurCore

/// Numeric robustness: huge and denormal inputs, long streams and overflowing networks never
/// leave NaN or Inf in the state.
@Suite struct RobustnessTests {
    static func stateIsFinite(_ s: Session) -> Bool { s.hidden().allSatisfy { $0.isFinite } }

    @Test(arguments: Activation.allCases)
    func hugeAndDenormalInputs(_ act: Activation) throws {
        let c = ModelConfig(inputSize: 6, layers: [LayerConfig(size: 16, activation: act), LayerConfig(size: 8, activation: act)],
                            outputSize: 4, outputTransform: .softmax)
        let m = try randomModel(c, seed: 3)
        let s = try Session(model: m)
        var rejected = 0
        for t in 0..<2000 {
            let v: Float = t % 3 == 0 ? 1e30 : (t % 3 == 1 ? -1e30 : Float(bitPattern: 0x0001_16C2))
            let x = [Float](repeating: v, count: 6).enumerated().map { $0.offset % 2 == 0 ? $0.element : -$0.element }
            let before = s.hidden()
            do {
                let y = try s.step(x)
                #expect(y.allSatisfy { $0.isFinite })
            } catch {
                #expect(error.code == .nonFiniteState)
                #expect(bits(s.hidden()) == bits(before), "a rejected step changed the state")
                rejected += 1
            }
            #expect(Self.stateIsFinite(s))
        }
        if act == .tanh || act == .sigmoid {
            #expect(rejected == 0, "bounded activations never overflow")
        }
    }

    @Test func longStream() throws {  // 10^6 steps run against the release build in Tests/reliability
        let c = ModelConfig(inputSize: 10, layers: [LayerConfig(size: 20)], outputSize: 5, outputTransform: .sigmoid)
        let m = try randomModel(c, seed: 4)
        let s = try Session(model: m)
        let xs = randomInputs(10 * 1000, seed: 5, scale: 3)
        var ys = [Float](repeating: 0, count: 5)
        for _ in 0..<20 {
            try xs.withUnsafeBufferPointer { xp in
                try ys.withUnsafeMutableBufferPointer { yp in try s.run(xp, steps: 1000, yp) }
            }
        }
        #expect(Self.stateIsFinite(s) && ys.allSatisfy { $0.isFinite })
    }

    @Test func explodingIdentityNetworkStopsCleanly() throws {
        // U = 2 I: the state doubles every step until float32 overflows.
        let c = ModelConfig(inputSize: 1, layers: [LayerConfig(size: 2, activation: .identity)], outputSize: 1)
        let p: [Float] = [1, 1, 2, 0, 0, 2, 0, 0, 1, 1, 0]
        let m = try Model(config: c, parameters: p)
        let s = try Session(model: m)
        var steps = 0
        var failure: RecurError? = nil
        for _ in 0..<1000 {
            do {
                _ = try s.step([1])
                steps += 1
            } catch {
                failure = error
                break
            }
        }
        #expect(failure?.code == .nonFiniteState)
        #expect(steps > 100 && steps < 200)
        #expect(Self.stateIsFinite(s))
        // Whole-sequence run stops at the overflowing step with the state of the step before.
        let r = try Session(model: m)
        expectCode(.nonFiniteState) { () throws(RecurError) in _ = try r.run([Float](repeating: 1, count: 300)) }
        #expect(Self.stateIsFinite(r) && r.hidden().allSatisfy { $0 > 1e37 })
        // Batch: one stream overflowing rejects the step for all, state unchanged.
        let b = try Session(model: m, batchSize: 2)
        var hb: [Float] = [3e38, 3e38, 0, 0]
        try hb.withUnsafeBufferPointer { (p) throws(RecurError) in try b.setHidden(p) }
        expectCode(.nonFiniteState) { () throws(RecurError) in _ = try b.step([1, 1]) }
        #expect(bits(b.hidden()) == bits(hb))
        hb[0] = 1
    }

    @Test func denormalWeightsAndZeroModels() throws {
        let c = ModelConfig(inputSize: 3, layers: [LayerConfig(size: 5)], outputSize: 2, outputTransform: .softmax)
        let tiny = try Model(config: c, parameters: [Float](repeating: Float(bitPattern: 0x0001_16C2), count: c.parameterCount))
        let zero = try Model(config: c, parameters: [Float](repeating: 0, count: c.parameterCount))
        for m in [tiny, zero] {
            let s = try Session(model: m)
            let y = try s.run(randomInputs(3 * 100, seed: 6, scale: 1e30))
            #expect(y.allSatisfy { $0.isFinite } && Self.stateIsFinite(s))
        }
    }
}
