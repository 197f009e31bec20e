import Testing
@testable import RecurCore

/// int8 weights: canonical quantisation, models, checkpoints, adapters, hostile int8 files.
@Suite struct QuantTests {
    static func i8(_ c: ModelConfig) -> ModelConfig {
        var c = c
        c.weightDType = .i8
        return c
    }

    /// Quantising the dequantised row gives back exactly the same codes and scale, for rows
    /// of every magnitude (tiny, subnormal, huge, zero, one value).
    @Test func quantisationIsAProjection() {
        var rng = SplitMix(7)
        let magnitudes: [Float] = [0, Float(bitPattern: 7), 1e-38, 1e-20, 1e-3, 0.05, 1, 3.7, 1e10, 1e36, 3e38]
        var rows = 0
        for m in magnitudes {
            for n in [1, 2, 7, 64, 300] {
                for _ in 0..<20 {
                    var w = (0..<n).map { _ in rng.float(-1, 1) * m }
                    var codes = [Int8](repeating: 0, count: n)
                    let s = w.withUnsafeMutableBufferPointer { wp in
                        codes.withUnsafeMutableBufferPointer { Quant.quantiseRow(wp.baseAddress!, n, codes: $0.baseAddress) }
                    }
                    let deq = w
                    var codes2 = [Int8](repeating: 0, count: n)
                    let s2 = w.withUnsafeMutableBufferPointer { wp in
                        codes2.withUnsafeMutableBufferPointer { Quant.quantiseRow(wp.baseAddress!, n, codes: $0.baseAddress) }
                    }
                    #expect(s2.bitPattern == s.bitPattern, "scale m=\(m) n=\(n)")
                    #expect(codes2 == codes)
                    #expect(bits(w) == bits(deq))
                    #expect(codes.allSatisfy { $0 >= -127 })
                    if s > 0 && s.isNormal { #expect(codes.contains { abs(Int($0)) == 127 }) }
                    rows += 1
                }
            }
        }
        #expect(rows == magnitudes.count * 5 * 20)
    }

    /// An int8 model computes the network of its dequantised parameters (checked against the
    /// double-precision reference) up to the int16 rounding of the activations inside the
    /// kernel (relative 1/65534 of the largest activation), and those parameters are within
    /// half a quantisation step of the originals.
    @Test(arguments: 0..<ReferenceTests.shapes.count)
    func int8ModelMatchesDoubleReferenceOfDequantised(_ index: Int) throws {
        let (name, config) = ReferenceTests.shapes[index]
        let params = randomParameters(config, seed: UInt64(200 + index), scale: 1.5)
        let model = try Model(config: Self.i8(config), parameters: params)
        #expect(model.config.weightDType == .i8)
        #expect(model.qweights != nil)
        let deq = model.parameters()
        // Every weight within half a quantisation step of its original; biases exact.
        var off = 0
        for s in config.tensorSpecs {
            if s.isMatrix {
                let cols = s.shape[1]
                for r in 0..<s.shape[0] {
                    let row = params[(off + r * cols)..<(off + (r + 1) * cols)]
                    let step = (row.map { abs($0) }.max() ?? 0) / 127
                    for c in 0..<cols { #expect(abs(deq[off + r * cols + c] - params[off + r * cols + c]) <= step * 0.5001 + 1e-30) }
                }
            } else {
                #expect(bits(Array(deq[off..<(off + s.count)])) == bits(Array(params[off..<(off + s.count)])))
            }
            off += s.count
        }
        let session = try Session(model: model)
        var ref = ReferenceNet(config: config, parameters: deq)
        for t in 0..<25 {
            let x = randomInputs(config.inputSize, seed: UInt64(5000 * index + t), scale: 2)
            let y = try session.step(x)
            let r = ref.step(x)
            for o in 0..<config.outputSize {
                #expect(close(y[o], r[o], rel: 2e-4, abs: 2e-4), "\(name) step \(t) output \(o): \(y[o]) vs \(r[o])")
            }
        }
        // Batch sessions give each stream the bits of a batch-1 session.
        let b = try Session(model: model, batchSize: 3)
        let one = try Session(model: model)
        for t in 0..<5 {
            let xs = randomInputs(3 * config.inputSize, seed: UInt64(77 + t))
            let yb = try b.step(xs)
            let y0 = try one.step(Array(xs[0..<config.inputSize]))
            #expect(bits(Array(yb[0..<config.outputSize])) == bits(y0))
        }
    }

    @Test func checkpointRoundTripIsExact() throws {
        let configs = [
            ModelConfig(inputSize: 10, layers: [LayerConfig(size: 20)], outputSize: 5, outputTransform: .softmax),
            ModelConfig(inputSize: 7, layers: [LayerConfig(size: 13, activation: .relu), LayerConfig(size: 9)], outputSize: 4),
            ModelConfig(inputSize: 64, layers: [LayerConfig(size: 128)], outputSize: 8),
        ]
        for (i, c) in configs.enumerated() {
            let f32 = try randomModel(c, seed: UInt64(i), labels: (0..<c.outputSize).map { "c\($0)" })
            // Saving an f32 model as i8 quantises in the file only.
            let bytes = try f32.checkpointBytes(dtype: .i8)
            #expect(f32.config.weightDType == .f32)
            let back = try CheckpointReader.decode(bytes)
            let q = try f32.withWeightDType(.i8)
            #expect(back.config.weightDType == .i8)
            #expect(bits(back.parameters()) == bits(q.parameters()))
            #expect(back.fingerprint == q.fingerprint)
            #expect(try back.checkpointBytes() == bytes)
            #expect(try q.checkpointBytes() == bytes)
            let header = Forge(bytes).header
            #expect(header.contains(#""requires":["i8"]"#))
            #expect(header.contains(#""name":"layers.0.w_in.scale","dtype":"f32""#))
            // Outputs are those of the quantised model.
            let s1 = try Session(model: back), s2 = try Session(model: q)
            for t in 0..<10 {
                let x = randomInputs(c.inputSize, seed: UInt64(t))
                #expect(bits(try s1.step(x)) == bits(try s2.step(x)))
            }
            // int8 files are about a quarter of the raw float32 bytes (headers aside).
            if c.inputSize == 64 {
                #expect(Double(bytes.count) < 0.28 * Double(4 * c.parameterCount), "\(bytes.count) vs \(4 * c.parameterCount)")
            }
            // Back to f32 keeps the dequantised values.
            #expect(bits(try back.withWeightDType(.f32).parameters()) == bits(back.parameters()))
        }
    }

    @Test func adapterOfInt8ModelRoundTrips() throws {
        let c = Self.i8(ModelConfig(inputSize: 4, layers: [LayerConfig(size: 16)], outputSize: 3))
        let base = try Model(config: c, parameters: randomParameters(c, seed: 3))
        let tuned = try base.withNewHead(outputs: 3, seed: 11)
        let bytes = try tuned.adapterBytes()
        #expect(Forge(bytes).header.contains(#""head.weight.scale""#))
        let back = try base.applyingAdapter(bytes)
        #expect(back.fingerprint == tuned.fingerprint)
        #expect(back.config.weightDType == .i8)
    }

    /// Hostile int8 files: each gets its specific status.
    @Test func hostileInt8Files() throws {
        let good = try randomModel(smallConfig, seed: 5).checkpointBytes(dtype: .i8)
        #expect((try? CheckpointReader.decode(good)) != nil)
        // Raw payload layout of the small 3-4-2 model: w_in codes (12 B), w_in.scale (16 B) ...
        func edit(_ f: (inout [UInt8]) -> Void) throws -> [UInt8] {
            var fo = Forge(good)
            var raw = try fo.raw()
            f(&raw)
            try fo.setRaw(raw)
            return fo.bytes()
        }
        func scaleBits(_ raw: [UInt8], _ r: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[12 + $1 * 4 + r]) << (8 * UInt32($1)) }
        }
        func setScale(_ raw: inout [UInt8], _ r: Int, _ v: UInt32) {
            for k in 0..<4 { raw[12 + k * 4 + r] = UInt8((v >> (8 * UInt32(k))) & 0xFF) }
        }
        let cases: [(String, RecurError.Code, [UInt8])] = [
            ("negative scale", RecurError.Code.corruptPayload, try edit { setScale(&$0, 2, scaleBits($0, 2) | 0x8000_0000) }),
            ("NaN scale", .nonFiniteWeight, try edit { setScale(&$0, 0, 0x7FC0_0000) }),
            ("Inf scale", .nonFiniteWeight, try edit { setScale(&$0, 3, 0x7F80_0000) }),
            ("huge scale overflows", .nonFiniteWeight, try edit { setScale(&$0, 0, Float(1e37).bitPattern) }),
            ("code -128", .corruptPayload, try edit { $0[0] = 0x80 }),
            ("all codes of a row shrunk", .corruptPayload, try edit { for c in 0..<3 { $0[c] = UInt8(bitPattern: Int8(truncatingIfNeeded: Int8(bitPattern: $0[c]) / 2)) } }),
            ("requires missing", .schema, try { var f = Forge(good); try f.replace(#""requires":["i8"]"#, #""requires":[]"#); return f.bytes() }()),
            ("requires twice", .schema, try { var f = Forge(good); try f.replace(#""requires":["i8"]"#, #""requires":["i8","i8"]"#); return f.bytes() }()),
            ("i8 required by an f32 file", .schema, try { var f = Forge(try randomModel(smallConfig, seed: 5).checkpointBytes()); try f.replace(#""requires":[]"#, #""requires":["i8"]"#); return f.bytes() }()),
            ("scale tensor renamed", .unexpectedTensor, try { var f = Forge(good); try f.replace(#""name":"head.weight.scale""#, #""name":"head.weight.scalx""#); return f.bytes() }()),
            ("scale of a bias", .unexpectedTensor, try { var f = Forge(good); try f.replace(#""name":"head.weight.scale""#, #""name":"head.bias.scale""#); return f.bytes() }()),
            ("scale tensor of wrong shape", .shapeMismatch, try { var f = Forge(good); try f.replace(#""name":"layers.0.w_in.scale","dtype":"f32","shape":[4]"#, #""name":"layers.0.w_in.scale","dtype":"f32","shape":[2,2]"#); return f.bytes() }()),
        ]
        for (name, code, bytes) in cases {
            do {
                _ = try CheckpointReader.decode(bytes)
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.code == code, "\(name): \(error)")
            }
        }
    }
}
