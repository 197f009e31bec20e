import CRecurAPI
import Testing
@testable import Recur
@testable import RecurCore
import RecurTestSupport

#if canImport(Glibc)
import Glibc
#endif

// These tests drive the exported C entry points directly (the same symbols C and
// Python call), with the C types of include/recur.h.

func lastError() -> String { String(cString: Recur.recur_last_error_message()) }

/// The repository root (Tests/RecurTests/CABITests.swift -> ../..).
let repoRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

func readText(_ path: String) -> String {
    guard let f = fopen(path, "r") else { return "" }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// Builds the design document's 10-20-5 FeedbackNet through the C API.
func makeCModel(layers: [UInt32] = [20], acts: [Int32]? = nil, labels: [String]? = nil,
                transform: Int32 = RECUR_OUTPUT_NONE) throws -> OpaquePointer {
    var cfg = Recur.defaultModelConfig()
    cfg.input_size = 10
    cfg.output_size = 5
    cfg.num_layers = UInt32(layers.count)
    cfg.output_transform = transform
    var out: OpaquePointer? = nil
    var n = 0
    let cLabels = labels?.map { strdup($0) }
    defer { cLabels?.forEach { free($0) } }
    let keys = [strdup("author"), strdup("note")]
    let values = [strdup("tests"), strdup("ünïcode")]
    defer { (keys + values).forEach { free($0) } }
    let st: Int32 = layers.withUnsafeBufferPointer { lp in
        cfg.layer_sizes = lp.baseAddress
        return (acts ?? []).withUnsafeBufferPointer { ap in
            cfg.activations = acts == nil ? nil : ap.baseAddress
            let lab = cLabels.map { $0.map { UnsafePointer<CChar>($0) } }
            return withOptionalArray(lab) { labp in
                cfg.labels = labp
                let kk = keys.map { UnsafePointer<CChar>($0) }
                let vv = values.map { UnsafePointer<CChar>($0) }
                return kk.withUnsafeBufferPointer { kp in
                    vv.withUnsafeBufferPointer { vp in
                        cfg.num_metadata = 2
                        cfg.metadata_keys = kp.baseAddress
                        cfg.metadata_values = vp.baseAddress
                        guard Recur.recur_model_config_num_params(&cfg, &n) == RECUR_OK else { return -999 }
                        let params = randomInputs(n, seed: 77, scale: 0.4)
                        return Recur.recur_model_create(&cfg, params, params.count, &out)
                    }
                }
            }
        }
    }
    #expect(st == RECUR_OK, "\(lastError())")
    guard let m = out else { throw RecurError(.invalidArgument, "create failed: \(lastError())") }
    return m
}

func withOptionalArray<R>(_ a: [UnsafePointer<CChar>?]?, _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

@Suite struct CABITests {
    @Test func statusCodesMatchHeader() {
        let header = readText(repoRoot + "/include/recur.h")
        #expect(!header.isEmpty)
        var found = 0
        for line in header.split(separator: "\n") where line.hasPrefix("#define RECUR_E_") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 3, let v = Int32(parts[2].drop { $0 == "(" }.prefix { $0 == "-" || $0.isNumber }) else { continue }
            let name = String(parts[1])
            guard let code = RecurError.Code(rawValue: v) else {
                Issue.record("header code \(name) = \(v) has no Swift case")
                continue
            }
            #expect(code.name == name)
            found += 1
        }
        #expect(found == RecurError.Code.allCases.count)
        // Every code has a status string naming it.
        for c in RecurError.Code.allCases {
            #expect(String(cString: Recur.recur_status_string(c.rawValue)).hasPrefix(c.name + ":"))
        }
        #expect(String(cString: Recur.recur_status_string(RECUR_OK)).hasPrefix("RECUR_OK"))
        #expect(String(cString: Recur.recur_status_string(-12345)).hasPrefix("RECUR_E_UNKNOWN"))
    }

    @Test func versions() {
        #expect(String(cString: Recur.recur_version_string()) == RECUR_VERSION_STRING)
        #expect(Recur.recur_version_number() == UInt32(RECUR_VERSION_MAJOR * 1_000_000 + RECUR_VERSION_MINOR * 1000 + RECUR_VERSION_PATCH))
        #expect(Recur.recur_abi_version() == UInt32(RECUR_ABI_VERSION))
        #expect(Int(RECUR_MAX_LAYERS) == ModelLimits.maxLayers)
        #expect(Int(RECUR_MAX_WIDTH) == ModelLimits.maxWidth)
        #expect(Int(RECUR_MAX_BATCH) == ModelLimits.maxBatch)
        #expect(RECUR_FORMAT_VERSION_MAJOR == Int32(CheckpointFormat.versionMajor))
        // Each Swift enum case has the value of the C macro of the same name (a table keyed by the
        // name, so swapping two raw values or two macros fails).
        let acts: [String: Int32] = ["tanh": RECUR_ACT_TANH, "relu": RECUR_ACT_RELU, "sigmoid": RECUR_ACT_SIGMOID, "identity": RECUR_ACT_IDENTITY]
        #expect(acts.count == Activation.allCases.count)
        for a in Activation.allCases { #expect(acts[a.name] == a.rawValue, "\(a.name)") }
        let transforms: [String: Int32] = ["none": RECUR_OUTPUT_NONE, "softmax": RECUR_OUTPUT_SOFTMAX, "sigmoid": RECUR_OUTPUT_SIGMOID]
        #expect(transforms.count == OutputTransform.allCases.count)
        for t in OutputTransform.allCases { #expect(transforms[t.name] == t.rawValue, "\(t.name)") }
        let dtypes: [String: Int32] = ["f32": RECUR_DTYPE_F32, "f16": RECUR_DTYPE_F16, "i8": RECUR_DTYPE_I8]
        #expect(dtypes.count == WeightDType.allCases.count)
        for d in WeightDType.allCases { #expect(dtypes[d.name] == d.rawValue, "\(d.name)") }
        let losses: [String: Int32] = ["mse": RECUR_LOSS_MSE, "cross_entropy": RECUR_LOSS_CROSS_ENTROPY, "binary_cross_entropy": RECUR_LOSS_BINARY_CROSS_ENTROPY]
        for l in Loss.allCases { #expect(losses[l.name] == l.rawValue, "\(l.name)") }
        #expect(RecurVersion.string == RECUR_VERSION_STRING)
        #expect(RecurVersion.major == Int(RECUR_VERSION_MAJOR) && RecurVersion.minor == Int(RECUR_VERSION_MINOR) && RecurVersion.patch == Int(RECUR_VERSION_PATCH))
    }

    @Test func introspectionAndSaveLoad() throws {
        let m = try makeCModel(layers: [20, 7], acts: [RECUR_ACT_RELU, RECUR_ACT_SIGMOID], labels: ["a", "b", "c", "d", "e"],
                               transform: RECUR_OUTPUT_SOFTMAX)
        defer { Recur.recur_model_free(m) }
        var n = 0
        #expect(Recur.recur_model_input_size(m, &n) == RECUR_OK && n == 10)
        #expect(Recur.recur_model_output_size(m, &n) == RECUR_OK && n == 5)
        #expect(Recur.recur_model_num_layers(m, &n) == RECUR_OK && n == 2)
        #expect(Recur.recur_model_state_size(m, &n) == RECUR_OK && n == 27)
        #expect(Recur.recur_model_num_params(m, &n) == RECUR_OK && n == (20 * 10 + 400 + 20) + (7 * 20 + 49 + 7) + (5 * 7 + 5))
        var act: Int32 = -1
        #expect(Recur.recur_model_layer(m, 1, &n, &act) == RECUR_OK && n == 7 && act == RECUR_ACT_SIGMOID)
        #expect(Recur.recur_model_layer(m, 2, &n, &act) == RECUR_E_INDEX_OUT_OF_RANGE)
        #expect(Recur.recur_model_output_transform(m, &act) == RECUR_OK && act == RECUR_OUTPUT_SOFTMAX)
        #expect(Recur.recur_model_weight_dtype(m, &act) == RECUR_OK && act == RECUR_DTYPE_F32)
        var s: UnsafePointer<CChar>? = nil
        #expect(Recur.recur_model_label(m, 4, &s) == RECUR_OK && String(cString: s!) == "e")
        #expect(Recur.recur_model_label(m, 5, &s) == RECUR_E_INDEX_OUT_OF_RANGE)
        #expect(Recur.recur_model_metadata(m, "note", &s) == RECUR_OK && String(cString: s!) == "ünïcode")
        #expect(Recur.recur_model_metadata(m, "missing", &s) == RECUR_E_NOT_FOUND)
        var k: UnsafePointer<CChar>? = nil
        #expect(Recur.recur_model_num_metadata(m, &n) == RECUR_OK && n == 2)
        #expect(Recur.recur_model_metadata_at(m, 0, &k, &s) == RECUR_OK && String(cString: k!) == "author")

        // Save to memory: size query, then write; load back; bit-identical params.
        var size = 0
        #expect(Recur.recur_model_save_memory(m, nil, nil, 0, &size) == RECUR_E_BUFFER_TOO_SMALL)
        #expect(size > 40)
        var buf = [UInt8](repeating: 0, count: size)
        var written = 0
        #expect(Recur.recur_model_save_memory(m, nil, &buf, size - 1, &written) == RECUR_E_BUFFER_TOO_SMALL)
        #expect(Recur.recur_model_save_memory(m, nil, &buf, size, &written) == RECUR_OK && written == size)
        var m2: OpaquePointer? = nil
        #expect(Recur.recur_model_load_memory(buf, buf.count, nil, &m2) == RECUR_OK)
        defer { Recur.recur_model_free(m2) }
        var np = 0
        _ = Recur.recur_model_num_params(m, &np)
        var p1 = [Float](repeating: 0, count: np), p2 = p1
        #expect(Recur.recur_model_get_params(m, &p1, np) == RECUR_OK)
        #expect(Recur.recur_model_get_params(m2, &p2, np) == RECUR_OK)
        #expect(bits(p1) == bits(p2))
        #expect(Recur.recur_model_get_params(m2, &p2, np - 1) == RECUR_E_LENGTH_MISMATCH)

        // Save to a file (f16), load with explicit options.
        var opts = Recur.recur_save_default_options()
        opts.weight_dtype = RECUR_DTYPE_F16
        let path = tempDir() + "/m.recur"
        #expect(Recur.recur_model_save(m, path, &opts) == RECUR_OK, "\(lastError())")
        var lo = Recur.recur_load_default_options()
        var m3: OpaquePointer? = nil
        #expect(Recur.recur_model_load(path, &lo, &m3) == RECUR_OK, "\(lastError())")
        #expect(Recur.recur_model_weight_dtype(m3, &act) == RECUR_OK && act == RECUR_DTYPE_F16)
        Recur.recur_model_free(m3)
        // Limits from the options struct apply.
        lo.max_file_size = 10
        #expect(Recur.recur_model_load(path, &lo, &m3) == RECUR_E_FILE_TOO_LARGE && m3 == nil)
        #expect(lastError().contains("max_file_size"))
        lo = Recur.recur_load_default_options()
        lo.struct_size = 4
        #expect(Recur.recur_model_load(path, &lo, &m3) == RECUR_E_INVALID_ARGUMENT)
        lo = Recur.recur_load_default_options()
        lo.flags = 0x80
        #expect(Recur.recur_model_load(path, &lo, &m3) == RECUR_E_INVALID_ARGUMENT)
        opts.compression_level = 0
        #expect(Recur.recur_model_save(m, path, &opts) == RECUR_E_INVALID_ARGUMENT)
    }

    @Test func sessionMisuse() throws {
        let m = try makeCModel()
        var s: OpaquePointer? = nil
        #expect(Recur.recur_session_create(m, &s) == RECUR_OK)
        defer { Recur.recur_session_free(s) }
        var x = [Float](repeating: 0.1, count: 10)
        var y = [Float](repeating: 0, count: 5)
        // NULLs
        #expect(Recur.recur_session_step(nil, x, 10, &y, 5) == RECUR_E_NULL_POINTER)
        #expect(Recur.recur_session_step(s, nil, 10, &y, 5) == RECUR_E_NULL_POINTER)
        #expect(Recur.recur_session_step(s, x, 10, nil, 5) == RECUR_E_NULL_POINTER)
        #expect(Recur.recur_session_step(s, x, 10, nil, 0) == RECUR_OK)  // head skipped
        #expect(Recur.recur_session_create(m, nil) == RECUR_E_NULL_POINTER)
        var none: OpaquePointer? = s
        #expect(Recur.recur_session_create(nil, &none) == RECUR_E_NULL_POINTER && none == nil)
        // Wrong lengths
        #expect(Recur.recur_session_step(s, x, 9, &y, 5) == RECUR_E_LENGTH_MISMATCH)
        #expect(Recur.recur_session_step(s, x, 10, &y, 4) == RECUR_E_LENGTH_MISMATCH)
        #expect(lastError().contains("expected"))
        #expect(Recur.recur_session_run(s, x, 10, 2, &y, 5) == RECUR_E_LENGTH_MISMATCH)
        #expect(Recur.recur_session_run(s, x, 10, 0, nil, 0) == RECUR_E_LENGTH_MISMATCH)
        #expect(Recur.recur_session_run(s, nil, 0, 0, nil, 0) == RECUR_OK)
        // Wrong handle kinds: a model where a session is expected and vice versa,
        // and a pointer to plain memory.
        #expect(Recur.recur_session_step(m, x, 10, &y, 5) == RECUR_E_BAD_HANDLE)
        #expect(lastError().contains("recur_model handle"))
        var n = 0
        #expect(Recur.recur_model_input_size(s, &n) == RECUR_E_BAD_HANDLE)
        var junk = [UInt64](repeating: 0x1234_5678, count: 4)
        let junkHandle = junk.withUnsafeMutableBytes { OpaquePointer($0.baseAddress!) }
        #expect(Recur.recur_model_num_layers(junkHandle, &n) == RECUR_E_BAD_HANDLE)
        Recur.recur_model_free(junkHandle)  // ignored, no crash
        Recur.recur_session_free(m)  // wrong kind: ignored, model still usable
        #expect(Recur.recur_model_input_size(m, &n) == RECUR_OK)
        // Non-finite input: rejected, state unchanged.
        #expect(Recur.recur_session_step(s, x, 10, &y, 5) == RECUR_OK)
        var h1 = [Float](repeating: 0, count: 20), h2 = h1
        #expect(Recur.recur_session_get_hidden(s, &h1, 20) == RECUR_OK)
        x[2] = .nan
        #expect(Recur.recur_session_step(s, x, 10, &y, 5) == RECUR_E_NONFINITE_INPUT)
        x[2] = .infinity
        #expect(Recur.recur_session_run(s, x, 10, 1, &y, 5) == RECUR_E_NONFINITE_INPUT)
        #expect(Recur.recur_session_get_hidden(s, &h2, 20) == RECUR_OK)
        #expect(bits(h1) == bits(h2))
        #expect(Recur.recur_session_get_hidden(s, &h2, 19) == RECUR_E_LENGTH_MISMATCH)
        // Batch and stream index checks.
        var b: OpaquePointer? = nil
        #expect(Recur.recur_session_create_batch(m, 0, &b) == RECUR_E_INVALID_ARGUMENT && b == nil)
        #expect(Recur.recur_session_create_batch(m, 65537, &b) == RECUR_E_INVALID_ARGUMENT)
        #expect(Recur.recur_session_create_batch(m, 3, &b) == RECUR_OK)
        #expect(Recur.recur_session_batch_size(b, &n) == RECUR_OK && n == 3)
        #expect(Recur.recur_session_reset_stream(b, 3) == RECUR_E_INDEX_OUT_OF_RANGE)
        #expect(Recur.recur_session_reset_stream(b, 2) == RECUR_OK)
        #expect(Recur.recur_session_step(b, x, 10, &y, 5) == RECUR_E_LENGTH_MISMATCH)
        // Snapshots through the C API.
        var size = 0
        #expect(Recur.recur_session_state_size(s, &size) == RECUR_OK)
        var snap = [UInt8](repeating: 0, count: size)
        #expect(Recur.recur_session_get_state(s, &snap, size - 1) == RECUR_E_BUFFER_TOO_SMALL)
        #expect(Recur.recur_session_get_state(s, &snap, size) == RECUR_OK)
        #expect(Recur.recur_session_set_state(b, snap, size) == RECUR_E_STATE_MISMATCH)
        #expect(Recur.recur_session_set_state(s, snap, size - 1) == RECUR_E_LENGTH_MISMATCH)
        #expect(Recur.recur_session_set_state(s, nil, size) == RECUR_E_NULL_POINTER)
        #expect(Recur.recur_session_set_state(s, snap, size) == RECUR_OK)
        Recur.recur_session_free(b)
        // free(NULL) is a no-op.
        Recur.recur_session_free(nil)
        Recur.recur_model_free(nil)
        Recur.recur_model_free(m)
        // The session keeps the model alive after recur_model_free.
        x[2] = 0.3
        #expect(Recur.recur_session_step(s, x, 10, &y, 5) == RECUR_OK)
        var c: OpaquePointer? = nil
        #expect(Recur.recur_session_clone(s, &c) == RECUR_OK)
        var yc = [Float](repeating: 0, count: 5)
        #expect(Recur.recur_session_step(s, x, 10, &y, 5) == RECUR_OK)
        #expect(Recur.recur_session_step(c, x, 10, &yc, 5) == RECUR_OK)
        #expect(bits(y) == bits(yc))
        Recur.recur_session_free(c)
    }

    @Test func createMisuse() {
        var out: OpaquePointer? = nil
        let params = [Float](repeating: 0.1, count: 1000)
        #expect(Recur.recur_model_create(nil, params, 10, &out) == RECUR_E_NULL_POINTER)
        var cfg = Recur.defaultModelConfig()
        #expect(Recur.recur_model_create(&cfg, params, 10, &out) == RECUR_E_BAD_CONFIG)  // no layers
        cfg.num_layers = 1
        #expect(Recur.recur_model_create(&cfg, params, 10, &out) == RECUR_E_NULL_POINTER)  // layer_sizes NULL
        let sizes: [UInt32] = [4]
        let badActs: [Int32] = [9]
        sizes.withUnsafeBufferPointer { sp in
            cfg.layer_sizes = sp.baseAddress
            cfg.input_size = 2
            cfg.output_size = 1
            var n = 0
            #expect(Recur.recur_model_config_num_params(&cfg, &n) == RECUR_OK && n == 4 * 2 + 16 + 4 + 4 + 1)
            #expect(Recur.recur_model_create(&cfg, params, n - 1, &out) == RECUR_E_LENGTH_MISMATCH)
            #expect(Recur.recur_model_create(&cfg, nil, n, &out) == RECUR_E_NULL_POINTER)
            var bad = params
            bad[3] = .infinity
            #expect(Recur.recur_model_create(&cfg, bad, n, &out) == RECUR_E_NONFINITE_WEIGHT)
            #expect(lastError().contains("layers.0.w_in"))
            badActs.withUnsafeBufferPointer { ap in
                cfg.activations = ap.baseAddress
                #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_E_BAD_CONFIG)
            }
            cfg.activations = nil
            cfg.output_transform = 7
            #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_E_BAD_CONFIG)
            cfg.output_transform = 0
            cfg.weight_dtype = 5
            #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_E_BAD_CONFIG)
            cfg.weight_dtype = 0
            cfg.num_metadata = 1
            #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_E_NULL_POINTER)
            cfg.num_metadata = 0
            cfg.struct_size = 3
            #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_E_INVALID_ARGUMENT)
            cfg.struct_size = UInt32(MemoryLayout<recur_model_config>.size)
            #expect(Recur.recur_model_create(&cfg, params, n, nil) == RECUR_E_NULL_POINTER)
            #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_OK)
            Recur.recur_model_free(out)
        }
        // Loading garbage from memory and files.
        let junk = [UInt8](repeating: 7, count: 100)
        #expect(Recur.recur_model_load_memory(junk, junk.count, nil, &out) == RECUR_E_BAD_MAGIC && out == nil)
        #expect(Recur.recur_model_load_memory(nil, 10, nil, &out) == RECUR_E_NULL_POINTER)
        #expect(Recur.recur_model_load_memory(nil, 0, nil, &out) == RECUR_E_TRUNCATED)
        #expect(Recur.recur_model_load(nil, nil, &out) == RECUR_E_NULL_POINTER)
        #expect(Recur.recur_model_load("/nonexistent/x.recur", nil, &out) == RECUR_E_IO)
        #expect(lastError().contains("/nonexistent/x.recur"))
        #expect(Recur.recur_model_load("/tmp", nil, &out) == RECUR_E_NOT_REGULAR_FILE)
    }

    /// Gated kinds through the C config (layer_kinds, proj_sizes, the 0.3.0 fields): created,
    /// introspected per layer, and every bad kind/projection refused with RECUR_E_BAD_CONFIG.
    @Test func gatedKindsThroughTheCConfig() {
        let sizes: [UInt32] = [5, 4], proj: [UInt32] = [0, 2]
        var kinds: [Int32] = [RECUR_LAYER_GRU_RESET_BEFORE, RECUR_LAYER_LSTM]
        var cfg = Recur.defaultModelConfig()
        cfg.input_size = 3
        cfg.output_size = 2
        cfg.num_layers = 2
        sizes.withUnsafeBufferPointer { sp in
            proj.withUnsafeBufferPointer { pp in
                cfg.layer_sizes = sp.baseAddress
                cfg.proj_sizes = pp.baseAddress
                var n = 0
                kinds.withUnsafeBufferPointer { kp in
                    cfg.layer_kinds = kp.baseAddress
                    #expect(Recur.recur_model_config_num_params(&cfg, &n) == RECUR_OK)
                }
                // gru-rb 5 on 3 inputs, lstm 4 (proj 2) on 5, head 2 on 2
                #expect(n == (15 * 3 + 15 * 5 + 30) + (16 * 5 + 16 * 2 + 32 + 2 * 4) + 2 * 2 + 2)
                let params = (0..<n).map { Float(($0 * 7) % 13) / 40 - 0.15 }
                var out: OpaquePointer? = nil
                kinds.withUnsafeBufferPointer { kp in
                    cfg.layer_kinds = kp.baseAddress
                    #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_OK)
                }
                var kind: Int32 = -1, p = 99, floats = 0
                #expect(Recur.recur_model_layer_kind(out, 0, &kind, &p) == RECUR_OK && kind == RECUR_LAYER_GRU_RESET_BEFORE && p == 0)
                #expect(Recur.recur_model_layer_kind(out, 1, &kind, &p) == RECUR_OK && kind == RECUR_LAYER_LSTM && p == 2)
                #expect(Recur.recur_model_layer_kind(out, 2, &kind, &p) == RECUR_E_INDEX_OUT_OF_RANGE)
                #expect(Recur.recur_model_state_floats(out, &floats) == RECUR_OK && floats == 5 + 2 + 4)
                var back = [Float](repeating: 0, count: n)
                #expect(Recur.recur_model_get_params(out, &back, n) == RECUR_OK && back == params)
                Recur.recur_model_free(out)
                for (bad, message) in [([Int32(RECUR_LAYER_GRU), 4], "layer_kinds[1] = 4"), ([-1, RECUR_LAYER_LSTM], "layer_kinds[0] = -1")] {
                    kinds = bad
                    kinds.withUnsafeBufferPointer { kp in
                        cfg.layer_kinds = kp.baseAddress
                        #expect(Recur.recur_model_create(&cfg, params, n, &out) == RECUR_E_BAD_CONFIG && out == nil)
                        #expect(lastError().contains(message), "\(lastError())")
                    }
                }
            }
        }
        // A projection on a GRU, one as large as the layer, an activation on a gated layer.
        for (k, p, act, message) in [(RECUR_LAYER_GRU, UInt32(2), RECUR_ACT_TANH, "proj"), (RECUR_LAYER_LSTM, 4, RECUR_ACT_TANH, "proj"),
                                     (RECUR_LAYER_LSTM, 0, RECUR_ACT_RELU, "activation")] {
            let one: [UInt32] = [4], pr: [UInt32] = [p], kk: [Int32] = [k], aa: [Int32] = [act]
            var c = Recur.defaultModelConfig()
            c.input_size = 3
            c.output_size = 2
            c.num_layers = 1
            var n = 0
            one.withUnsafeBufferPointer { sp in pr.withUnsafeBufferPointer { pp in kk.withUnsafeBufferPointer { kp in aa.withUnsafeBufferPointer { ap in
                c.layer_sizes = sp.baseAddress
                c.proj_sizes = pp.baseAddress
                c.layer_kinds = kp.baseAddress
                c.activations = ap.baseAddress
                #expect(Recur.recur_model_config_num_params(&c, &n) == RECUR_E_BAD_CONFIG)
                #expect(lastError().lowercased().contains(message), "\(lastError())")
            } } } }
        }
    }

    /// While no field has been appended, the deprecated by-value defaults return exactly the
    /// version-1 layout. When a field is appended this fails: then freeze those functions to a
    /// copy of the version-1 struct (include/recur.h, "ABI evolution").
    @Test func byValueDefaultsAreTheVersion1Layout() {
        #expect(StructSizes.v1Frozen)
        #expect(StructSizes.loadOptions == 48 && StructSizes.modelConfig == 72 && StructSizes.saveOptions == 12)
        #expect(StructSizes.trainerConfig == 104 && StructSizes.dataset == 72)
    }

    /// The append-only reader on a struct that has grown since version 1 (what a future library
    /// sees from a program built today): only the caller's bytes are read (the struct ends at a
    /// page the test made unreadable), newer fields take their defaults, a larger struct is
    /// accepted only with a zero tail.
    @Test func sizedStructReaderReadsOnlyTheCallersBytes() throws {
        struct Grown { var struct_size: UInt32; var a: Int32; var b: Double; var c: Int64 }  // v1 = 16 bytes
        let defaults = Grown(struct_size: 0, a: 1, b: 2, c: 3)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let mem = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mem != MAP_FAILED else {
            Issue.record("mmap failed")
            return
        }
        defer { munmap(mem, 2 * page) }
        #expect(mprotect(mem + page, page, PROT_NONE) == 0)
        let v1 = mem + page - 16  // a 16-byte version-1 struct ending at the guard page
        v1.storeBytes(of: UInt32(16), as: UInt32.self)
        v1.storeBytes(of: Int32(-7), toByteOffset: 4, as: Int32.self)
        v1.storeBytes(of: Double(0.5), toByteOffset: 8, as: Double.self)
        let r = try readSized(v1.assumingMemoryBound(to: Grown.self), defaults: defaults, v1Size: 16, type: "grown", initName: "grown_init")
        #expect(r.a == -7 && r.b == 0.5 && r.c == 3 && r.struct_size == 16)
        // Too small, garbage and over-long sizes.
        v1.storeBytes(of: UInt32(12), as: UInt32.self)
        #expect(throws: RecurError.self) { _ = try readSized(v1.assumingMemoryBound(to: Grown.self), defaults: defaults, v1Size: 16, type: "grown", initName: "grown_init") }
        v1.storeBytes(of: UInt32.max, as: UInt32.self)
        #expect(throws: RecurError.self) { _ = try readSized(v1.assumingMemoryBound(to: Grown.self), defaults: defaults, v1Size: 16, type: "grown", initName: "grown_init") }
        // A newer caller: 40 bytes, zero tail accepted, a set tail byte refused.
        let newer = mem + page - 40
        newer.initializeMemory(as: UInt8.self, repeating: 0, count: 40)
        newer.storeBytes(of: UInt32(40), as: UInt32.self)
        newer.storeBytes(of: Int64(9), toByteOffset: 16, as: Int64.self)
        let n = try readSized(newer.assumingMemoryBound(to: Grown.self), defaults: defaults, v1Size: 16, type: "grown", initName: "grown_init")
        #expect(n.c == 9 && n.a == 0)
        newer.storeBytes(of: UInt8(1), toByteOffset: 39, as: UInt8.self)
        do {
            _ = try readSized(newer.assumingMemoryBound(to: Grown.self), defaults: defaults, v1Size: 16, type: "grown", initName: "grown_init")
            Issue.record("a set byte past the struct was accepted")
        } catch {
            #expect(error.code == .invalidArgument && error.message.contains("byte 39"))
        }
        // init writes exactly `size` bytes: defaults, zero tail, struct_size = size.
        newer.initializeMemory(as: UInt8.self, repeating: 0xEE, count: 40)
        #expect(initSized(newer.assumingMemoryBound(to: Grown.self), 40, defaults: defaults, v1Size: 16, type: "grown") == RECUR_OK)
        let g = newer.load(as: Grown.self)
        #expect(g.struct_size == 40 && g.a == 1 && g.b == 2 && g.c == 3)
        #expect((24..<40).allSatisfy { newer.load(fromByteOffset: $0, as: UInt8.self) == 0 })
        #expect(initSized(v1.assumingMemoryBound(to: Grown.self), 16, defaults: defaults, v1Size: 16, type: "grown") == RECUR_OK)
        #expect(v1.load(fromByteOffset: 4, as: Int32.self) == 1)
    }

    @Test func lastErrorIsThreadLocal() {
        var out: OpaquePointer? = nil
        _ = Recur.recur_model_load("/nonexistent/from-this-thread.recur", nil, &out)
        #expect(lastError().contains("from-this-thread"))
        // A second pthread (certainly not this thread) fails with its own message and reports it.
        final class Mailbox { var message = "" }
        let box = Mailbox()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            var o: OpaquePointer? = nil
            _ = Recur.recur_model_load("/nonexistent/from-the-other-thread.recur", nil, &o)
            Unmanaged<Mailbox>.fromOpaque(arg).takeUnretainedValue().message = String(cString: Recur.recur_last_error_message())
            return nil
        }, Unmanaged.passUnretained(box).toOpaque())
        #expect(rc == 0)
        pthread_join(tid, nil)
        #expect(box.message.contains("from-the-other-thread"))
        // This thread's message is the one it had (a process-wide buffer would now hold the other's).
        #expect(lastError().contains("from-this-thread"))
        #expect(!lastError().contains("other-thread"))
    }
}
