import Testing
@testable import RecurCore

/// Gated layers in checkpoints and adapters: format 1.1 with "requires" markers, exact round
/// trips in every storage type, and the schema rules of the new layer objects.
@Suite struct CellFormatTests {
    static let mixed = ModelConfig(
        inputSize: 5, layers: [LayerConfig(size: 6, activation: .relu), .gru(7), .lstm(9, proj: 4), .gru(5, resetBefore: true)],
        outputSize: 3, outputTransform: .softmax)

    @Test(arguments: [WeightDType.f32, .f16, .i8])
    func roundTripIsExact(_ dtype: WeightDType) throws {
        var c = Self.mixed
        c.weightDType = dtype == .i8 ? .i8 : .f32
        let m = try randomModel(c, seed: 5, labels: ["a", "b", "c"], metadata: [("k", "v")])
        let bytes = try m.checkpointBytes(dtype: dtype)
        // Version 1.1 and the feature markers.
        #expect(bytes[8] == 1 && bytes[9] == 0 && bytes[10] == 1 && bytes[11] == 0)
        let f = Forge(bytes)
        let req = dtype == .i8 ? #""requires":["i8","gru","lstm"]"# : #""requires":["gru","lstm"]"#
        #expect(f.header.contains(req), "\(f.header.prefix(120))")
        #expect(f.header.contains(#"{"size":6,"activation":"relu"},{"kind":"gru","size":7},{"kind":"lstm","size":9,"proj_size":4},{"kind":"gru_reset_before","size":5}"#))
        #expect(f.header.contains(#""name":"layers.1.bias_rec""#) && f.header.contains(#""name":"layers.2.w_proj","dtype":"\#(dtype.name)","shape":[4,9]"#))
        let back = try CheckpointReader.decode(bytes)
        #expect(back.config.layers == c.layers)
        if dtype == .f16 {
            let want = try m.withWeightDType(.f16).checkpointBytes()
            #expect(try back.checkpointBytes() == want)
        } else {
            #expect(bits(back.parameters()) == bits(m.parameters()))
            #expect(back.fingerprint == m.fingerprint)
            let s1 = try Session(model: m), s2 = try Session(model: back)
            let x = randomInputs(5, seed: 1)
            #expect(bits(try s1.step(x)) == bits(try s2.step(x)))
        }
        // Elman-only files stay version 1.0 with an empty requires.
        let e = try smallBytes()
        #expect(e[10] == 0 && Forge(e).header.hasPrefix(#"{"format":"recur","requires":[],"#))
    }

    /// The body fingerprint sees the kinds: a GRU and a reset-before GRU with the same numbers
    /// are different bodies; an elman body hashes as before.
    @Test func fingerprintsSeeKinds() throws {
        let a = ModelConfig(inputSize: 3, layers: [.gru(4)], outputSize: 2)
        let b = ModelConfig(inputSize: 3, layers: [.gru(4, resetBefore: true)], outputSize: 2)
        let p = randomParameters(a, seed: 1)
        let ma = try Model(config: a, parameters: p), mb = try Model(config: b, parameters: p)
        #expect(ma.bodyFingerprint != mb.bodyFingerprint)
    }

    /// Adapters on gated bodies: saved with the base's kinds, applied bit for bit, refused on a
    /// body of another kind.
    @Test func adaptersOnGatedBodies() throws {
        let m = try randomModel(Self.mixed, seed: 8)
        let tuned = try m.withNewHead(outputs: 4, seed: 3)
        let ad = try tuned.adapterBytes()
        let back = try m.applyingAdapter(ad)
        #expect(back.fingerprint == tuned.fingerprint)
        var other = Self.mixed
        other.layers[1] = .gru(7, resetBefore: true)
        let m2 = try Model(config: other, parameters: m.parameters())
        expectCode(.adapterMismatch) { () throws(RecurError) in _ = try m2.applyingAdapter(ad) }
    }

    static func gruBytes() throws -> [UInt8] {
        try randomModel(ModelConfig(inputSize: 3, layers: [.gru(4)], outputSize: 2), seed: 2).checkpointBytes()
    }

    static func lstmBytes(_ dtype: WeightDType = .f32) throws -> [UInt8] {
        try randomModel(ModelConfig(inputSize: 3, layers: [.lstm(4, proj: 2)], outputSize: 2), seed: 2).checkpointBytes(dtype: dtype)
    }

    /// Schema rules of the new fields (the Python suite runs the full hostile list against both
    /// readers; these pin the Swift statuses).
    @Test func hostileGatedHeaders() throws {
        func check(_ code: RecurError.Code, _ bytes: @autoclosure () throws -> [UInt8], _ edit: (inout Forge) throws -> Void) throws {
            var f = Forge(try bytes())
            try edit(&f)
            expectCode(code, f.header) { () throws(RecurError) in _ = try CheckpointReader.decode(f.bytes()) }
        }
        try check(.badConfig, try Self.gruBytes()) { try $0.replace(#""kind":"gru""#, #""kind":"gru2""#) }
        try check(.badConfig, try Self.gruBytes()) { try $0.replace(#""kind":"gru""#, #""kind":"elman""#) }
        try check(.schema, try Self.gruBytes()) { try $0.replace(#""kind":"gru""#, #""kind":3"#) }
        try check(.schema, try Self.gruBytes()) { try $0.replace(#""kind":"gru","size":4"#, #""kind":"gru","size":4,"activation":"tanh""#) }
        try check(.schema, try Self.gruBytes()) { try $0.replace(#""kind":"gru","size":4"#, #""kind":"gru","size":4,"proj_size":2"#) }
        try check(.schema, try Self.gruBytes()) { try $0.replace(#""requires":["gru"]"#, #""requires":[]"#) }
        try check(.schema, try Self.gruBytes()) { try $0.replace(#""requires":["gru"]"#, #""requires":["gru","gru"]"#) }
        try check(.schema, try Self.gruBytes()) { try $0.replace(#""requires":["gru"]"#, #""requires":["gru","lstm"]"#) }
        try check(.unsupportedFeature, try Self.gruBytes()) { try $0.replace(#""requires":["gru"]"#, #""requires":["gru","peephole"]"#) }
        try check(.shapeMismatch, try Self.gruBytes()) { try $0.replace(#""shape":[12,3]"#, #""shape":[4,9]"#) }
        try check(.unexpectedTensor, try Self.gruBytes()) { try $0.replace(#""name":"layers.0.bias_rec""#, #""name":"layers.0.bias""#) }
        try check(.badConfig, try Self.lstmBytes()) { try $0.replace(#""proj_size":2"#, #""proj_size":4"#) }
        try check(.badConfig, try Self.lstmBytes()) { try $0.replace(#""proj_size":2"#, #""proj_size":9"#) }
        try check(.badConfig, try Self.lstmBytes()) { try $0.replace(#""proj_size":2"#, #""proj_size":0"#) }
        // Without proj_size the layer is 4 wide: every tensor after w_in has another shape.
        try check(.shapeMismatch, try Self.lstmBytes()) { try $0.replace(#","proj_size":2"#, "") }
    }
}
