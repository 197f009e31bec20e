/// The header schema of `.recur` containers (docs/FORMAT.md "Validation", steps 7a-7e): the
/// JSON header checked key by key into a plan of tensors and a model config.

/// One tensor of the table after validation.
struct PlannedTensor {
    let name: String
    let dtype: WeightDType
    let count: Int
    let offset: Int  // in the uncompressed payload
    let canonicalOffset: Int  // in the canonical parameter array (a scale: its matrix's)
    let scaleCols: Int  // > 0: this is the per-row scale of an int8 matrix with that many columns
}

/// What the header says, after every schema and limit check.
struct HeaderPlan {
    let config: ModelConfig
    let labels: [String]
    let metadata: [(key: String, value: String)]
    let uncompressedLen: Int
    let tensors: [PlannedTensor]
    /// Floats the tensors fill (all parameters of a model; the head of an adapter).
    let parameterCount: Int
    /// Adapters only: the body fingerprint of the base they belong to.
    let bodyFingerprint: UInt64?
}

/// What a container holds: a whole model (`"format": "recur"`) or a head adapter
/// (`"format": "recur-adapter"`).
enum ContainerKind {
    case model, adapter
    var formatName: String { self == .model ? "recur" : "recur-adapter" }
}

/// Schema check of the parsed header (docs/FORMAT.md "Header").
enum HeaderSchema {
    typealias Object = [(String, JSON)]

    static func object(_ v: JSON?, _ what: String) throws(RecurError) -> Object {
        guard case .object(let o)? = v else { throw RecurError(.schema, "\(what) must be an object") }
        return o
    }

    static func field(_ o: Object, _ key: String) -> JSON? {
        o.first(where: { $0.0 == key })?.1
    }

    /// Rejects keys outside `allowed` unless they start with "x_" (extension namespace).
    static func onlyKeys(_ o: Object, _ allowed: Set<String>, _ what: String) throws(RecurError) {
        for (k, _) in o where !allowed.contains(k) && !k.hasPrefix("x_") {
            throw RecurError(.schema, "unknown key \"\(k)\" in \(what)")
        }
    }

    static func requireKeys(_ o: Object, _ keys: [String], _ what: String) throws(RecurError) {
        for k in keys where field(o, k) == nil {
            throw RecurError(.schema, "\(what) is missing required key \"\(k)\"")
        }
    }

    static func integer(_ v: JSON?, _ what: String, max: Int64 = CheckpointFormat.maxSchemaInteger) throws(RecurError) -> Int {
        switch v {
        case .integer(let n)?:
            guard n >= 0 && n <= max else { throw RecurError(.schema, "\(what) = \(n) is outside 0...\(max)") }
            return Int(n)
        case .nonInteger(let t)?:
            throw RecurError(.schema, "\(what) must be an integer in 0...\(max), got \(t)")
        default:
            throw RecurError(.schema, "\(what) must be an integer")
        }
    }

    static func string(_ v: JSON?, _ what: String) throws(RecurError) -> String {
        guard case .string(let s)? = v else { throw RecurError(.schema, "\(what) must be a string") }
        return s
    }

    static func array(_ v: JSON?, _ what: String) throws(RecurError) -> [JSON] {
        guard case .array(let a)? = v else { throw RecurError(.schema, "\(what) must be an array") }
        return a
    }

    /// One layer object: `{"size", "activation"}` (elman) or `{"kind", "size"}` (gru,
    /// gru_reset_before, lstm; lstm may add `"proj_size"`).
    static func layer(_ v: JSON, _ what: String) throws(RecurError) -> LayerConfig {
        let lo = try object(v, what)
        guard let kv = field(lo, "kind") else {
            try onlyKeys(lo, ["size", "activation"], what)
            try requireKeys(lo, ["size", "activation"], what)
            let size = try integer(field(lo, "size"), "\(what).size")
            let actName = try string(field(lo, "activation"), "\(what).activation")
            guard let act = Activation(name: actName) else {
                throw RecurError(.badConfig, "\(what).activation \"\(printable(actName))\" is not tanh, relu, sigmoid or identity")
            }
            return LayerConfig(size: size, activation: act)
        }
        let kindName = try string(kv, "\(what).kind")
        guard let kind = LayerKind(name: kindName), kind != .elman else {
            throw RecurError(.badConfig, "\(what).kind \"\(printable(kindName))\" is not gru, gru_reset_before or lstm")
        }
        try onlyKeys(lo, kind == .lstm ? ["kind", "size", "proj_size"] : ["kind", "size"], what)
        try requireKeys(lo, ["kind", "size"], what)
        let size = try integer(field(lo, "size"), "\(what).size")
        var proj = 0
        if let pv = field(lo, "proj_size") {
            proj = try integer(pv, "\(what).proj_size")
            guard proj >= 1 && proj < size else {
                throw RecurError(.badConfig, "\(what).proj_size \(proj) must be 1...\(size - 1) (smaller than the layer)")
            }
        }
        return LayerConfig(kind: kind, size: size, projSize: proj)
    }

    static func check(_ root: JSON, options: LoadOptions, payloadLen: Int, kind: ContainerKind = .model) throws(RecurError) -> HeaderPlan {
        let top = try object(root, "header")
        let keys = kind == .model
            ? ["format", "requires", "model", "metadata", "payload", "tensors"]
            : ["format", "requires", "base", "head", "metadata", "payload", "tensors"]
        // The format first, so a head adapter read as a model (or the reverse) says so.
        if case .string(let format)? = field(top, "format"), format != kind.formatName {
            let hint = format == "recur-adapter"
                ? " (this is a head adapter: apply it to its base model with recur_model_apply_adapter, Model.apply_adapter or recur eval --adapter; recur inspect shows its base; docs/FORMAT.md section 9)"
                : format == "recur" ? " (this is a full model, not an adapter)" : ""
            throw RecurError(.schema, "format is \"\(printable(format))\", expected \"\(kind.formatName)\"\(hint)")
        }
        try onlyKeys(top, Set(keys), "header")
        try requireKeys(top, keys, "header")
        _ = try string(field(top, "format"), "format")
        // Known features: "i8" (int8 weight matrices with per-row scales), "gru" and "lstm"
        // (gated layer kinds, format 1.1).
        var features = Set<String>()
        for (i, req) in try array(field(top, "requires"), "requires").enumerated() {
            let name = try string(req, "requires[\(i)]")
            guard CheckpointFormat.features.contains(name) else {
                throw RecurError(.unsupportedFeature, "checkpoint requires feature \"\(printable(name))\" unknown to this reader")
            }
            guard features.insert(name).inserted else { throw RecurError(.schema, "requires lists \"\(name)\" twice") }
        }
        let requiresI8 = features.contains("i8")

        // Payload description.
        let payload = try object(field(top, "payload"), "payload")
        try onlyKeys(payload, ["codec", "filter", "weight_dtype", "uncompressed_len"], "payload")
        try requireKeys(payload, ["codec", "filter", "weight_dtype", "uncompressed_len"], "payload")
        let codec = try string(field(payload, "codec"), "payload.codec")
        guard codec == "zlib" else { throw RecurError(.unsupportedFeature, "payload codec \"\(codec)\" is not supported (only \"zlib\")") }
        let filter = try string(field(payload, "filter"), "payload.filter")
        guard filter == "byteshuffle" else {
            throw RecurError(.unsupportedFeature, "payload filter \"\(filter)\" is not supported (only \"byteshuffle\")")
        }
        let wdName = try string(field(payload, "weight_dtype"), "payload.weight_dtype")
        guard let weightDType = WeightDType(name: wdName) else {
            throw RecurError(.badDType, "payload.weight_dtype \"\(printable(wdName))\" is not f32, f16 or i8")
        }
        guard (weightDType == .i8) == requiresI8 else {
            throw RecurError(.schema, weightDType == .i8
                ? "payload.weight_dtype is i8 but requires does not list \"i8\""
                : "requires lists \"i8\" but payload.weight_dtype is \(weightDType.name)")
        }
        let uncompressed = try integer(field(payload, "uncompressed_len"), "payload.uncompressed_len", max: CheckpointFormat.maxByteInteger)
        guard uncompressed <= options.maxPayloadSize else {
            throw RecurError(.payloadTooLarge, "payload inflates to \(uncompressed) bytes; max_payload_size is \(options.maxPayloadSize)")
        }
        if uncompressed > CheckpointFormat.ratioGraceBytes {
            let (limit, o) = payloadLen.multipliedReportingOverflow(by: options.maxRatio)
            if !o && uncompressed > limit {
                throw RecurError(.ratio, "compression ratio \(uncompressed / max(payloadLen, 1)):1 exceeds max_ratio \(options.maxRatio)")
            }
        }

        // Tensor table.
        let table = try array(field(top, "tensors"), "tensors")
        guard table.count >= 1 && table.count <= options.maxTensors else {
            throw RecurError(.tooManyTensors, "\(table.count) tensors; allowed 1...\(options.maxTensors)")
        }
        struct Entry {
            let name: String
            let dtype: WeightDType
            let shape: [Int]
            let count: Int
            let offset: Int
        }
        var entries: [Entry] = []
        var names = Set<String>()
        var expectedOffset = 0
        for (i, tv) in table.enumerated() {
            let t = try object(tv, "tensors[\(i)]")
            try onlyKeys(t, ["name", "dtype", "shape", "offset", "nbytes"], "tensors[\(i)]")
            try requireKeys(t, ["name", "dtype", "shape", "offset", "nbytes"], "tensors[\(i)]")
            let name = try string(field(t, "name"), "tensors[\(i)].name")
            guard validName(name) else {
                throw RecurError(.badName, "tensors[\(i)].name \"\(printable(name))\" must be 1...\(CheckpointFormat.maxNameBytes) bytes of [a-z0-9_.]")
            }
            guard names.insert(name).inserted else {
                throw RecurError(.duplicateTensor, "tensor \"\(name)\" appears twice")
            }
            let dtName = try string(field(t, "dtype"), "\(name).dtype")
            guard let dtype = WeightDType(name: dtName) else {
                throw RecurError(.badDType, "tensor \(name) has unknown dtype \"\(printable(dtName))\" (f32, f16 or i8)")
            }
            let dims = try array(field(t, "shape"), "\(name).shape")
            guard dims.count >= 1 && dims.count <= CheckpointFormat.maxNDim else {
                throw RecurError(.badShape, "tensor \(name) has \(dims.count) dimensions (allowed 1...\(CheckpointFormat.maxNDim))")
            }
            var shape: [Int] = []
            var product: Int64 = 1
            var overflow = false
            for (k, d) in dims.enumerated() {
                guard case .integer(let n) = d else {
                    throw RecurError(.schema, "\(name).shape[\(k)] must be an integer")
                }
                guard n > 0 else {
                    throw RecurError(.badShape, "tensor \(name) dimension \(k) is \(n) (must be >= 1)")
                }
                let (p, o) = product.multipliedReportingOverflow(by: n)
                if o { overflow = true } else { product = p }
                shape.append(Int(n))
            }
            guard !overflow else {
                throw RecurError(.shapeOverflow, "tensor \(name) shape \(shape) overflows 64-bit element count")
            }
            for (k, n) in shape.enumerated() where n > options.maxDimension {
                throw RecurError(.badShape, "tensor \(name) dimension \(k) is \(n); max_dimension is \(options.maxDimension)")
            }
            guard product <= Int64(options.maxTensorElements) else {
                throw RecurError(.tensorTooLarge, "tensor \(name) has \(product) elements; max_tensor_elements is \(options.maxTensorElements)")
            }
            let count = Int(product)
            let (nbytesExpected, o3) = count.multipliedReportingOverflow(by: dtype.itemSize)
            guard !o3, nbytesExpected <= options.maxPayloadSize else {
                throw RecurError(.tensorTooLarge, "tensor \(name) is larger than max_payload_size")
            }
            let nbytes = try integer(field(t, "nbytes"), "\(name).nbytes", max: CheckpointFormat.maxByteInteger)
            guard nbytes == nbytesExpected else {
                throw RecurError(.sizeMismatch, "tensor \(name): nbytes \(nbytes) != \(count) elements x \(dtype.itemSize)")
            }
            let offset = try integer(field(t, "offset"), "\(name).offset", max: CheckpointFormat.maxByteInteger)
            guard offset == expectedOffset else {
                throw RecurError(.badOffsets, "tensor \(name) starts at offset \(offset); expected \(expectedOffset) (tensors must be contiguous from 0 in table order)")
            }
            expectedOffset += nbytes  // each <= maxPayloadSize and count <= 65536: no overflow
            entries.append(Entry(name: name, dtype: dtype, shape: shape, count: count, offset: offset))
        }
        guard expectedOffset == uncompressed else {
            throw RecurError(.sizeMismatch, "tensors cover \(expectedOffset) bytes; payload.uncompressed_len is \(uncompressed)")
        }

        // Model config (an adapter splits it into the base body and the head).
        var bodyFingerprint: UInt64? = nil
        let model: Object
        if kind == .model {
            model = try object(field(top, "model"), "model")
        } else {
            let b = try object(field(top, "base"), "base")
            try onlyKeys(b, ["body_fingerprint", "input_size", "layers"], "base")
            try requireKeys(b, ["body_fingerprint", "input_size", "layers"], "base")
            let fpText = try string(field(b, "body_fingerprint"), "base.body_fingerprint")
            guard fpText.utf8.count == 16, let fp = UInt64(fpText, radix: 16) else {
                throw RecurError(.schema, "base.body_fingerprint must be 16 hex digits")
            }
            bodyFingerprint = fp
            let h = try object(field(top, "head"), "head")
            try onlyKeys(h, ["output_size", "output_transform", "labels"], "head")
            model = b.filter { $0.0 != "body_fingerprint" } + h
        }
        try onlyKeys(model, ["input_size", "layers", "output_size", "output_transform", "labels"], "model")
        try requireKeys(model, ["input_size", "layers", "output_size", "output_transform"], "model")
        let inputSize = try integer(field(model, "input_size"), "model.input_size")
        let outputSize = try integer(field(model, "output_size"), "model.output_size")
        let layersJSON = try array(field(model, "layers"), "model.layers")
        guard layersJSON.count >= 1 && layersJSON.count <= ModelLimits.maxLayers else {
            throw RecurError(.badConfig, "model has \(layersJSON.count) layers (allowed 1...\(ModelLimits.maxLayers))")
        }
        var layers: [LayerConfig] = []
        for (i, lv) in layersJSON.enumerated() {
            layers.append(try layer(lv, "model.layers[\(i)]"))
        }
        // A gated kind and its feature go together (so a reader that predates the kind refuses
        // the file at `requires`, and no file lists a feature it does not use).
        for f in ["gru", "lstm"] {
            let used = layers.contains { $0.kind.feature == f }
            guard used == features.contains(f) else {
                throw RecurError(.schema, used
                    ? "the model has \(f) layers but requires does not list \"\(f)\""
                    : "requires lists \"\(f)\" but the model has no \(f) layer")
            }
        }
        let otName = try string(field(model, "output_transform"), "model.output_transform")
        guard let transform = OutputTransform(name: otName) else {
            throw RecurError(.badConfig, "model.output_transform \"\(printable(otName))\" is not none, softmax or sigmoid")
        }
        let config = ModelConfig(
            inputSize: inputSize, layers: layers, outputSize: outputSize, outputTransform: transform,
            weightDType: weightDType)
        try config.validate()

        var labels: [String] = []
        if let lv = field(model, "labels") {
            let arr = try array(lv, "model.labels")
            guard arr.count == outputSize else {
                throw RecurError(.badConfig, "model has \(arr.count) labels for output_size \(outputSize)")
            }
            for (i, l) in arr.enumerated() {
                guard case .string(let s) = l else { throw RecurError(.badLabel, "model.labels[\(i)] must be a string") }
                labels.append(s)
            }
            try Model.validate(labels: labels, outputSize: outputSize)
        }

        let metaObj: Object
        do throws(RecurError) {
            metaObj = try object(field(top, "metadata"), "metadata")
        } catch {
            throw RecurError(.badMetadata, "metadata must be an object of strings")
        }
        guard metaObj.count <= ModelLimits.maxMetadataEntries else {
            throw RecurError(.badMetadata, "\(metaObj.count) metadata entries (max \(ModelLimits.maxMetadataEntries))")
        }
        var metadata: [(key: String, value: String)] = []
        for (k, v) in metaObj {
            guard case .string(let s) = v else {
                throw RecurError(.badMetadata, "metadata \"\(printable(k))\" must be a string")
            }
            metadata.append((key: k, value: s))
        }
        try Model.validate(metadata: metadata)

        // Exact tensor set derived from the config (the head alone for an adapter, with
        // offsets relative to the head).
        let specs = kind == .model ? config.tensorSpecs : config.tensorSpecs.filter { $0.name.hasPrefix("head.") }
        // int8 files add one f32 scale per row of every weight matrix: "<matrix>.scale" [rows].
        var expected: [String: (spec: TensorSpec, canonicalOffset: Int, scaleCols: Int)] = [:]
        var off = 0
        var allSpecs: [TensorSpec] = []
        for s in specs {
            expected[s.name] = (s, off, 0)
            allSpecs.append(s)
            if weightDType == .i8 && s.isMatrix {
                let sc = TensorSpec(name: s.name + ".scale", shape: [s.shape[0]], isMatrix: false)
                expected[sc.name] = (sc, off, s.shape[1])
                allSpecs.append(sc)
            }
            off += s.count
        }
        var planned: [PlannedTensor] = []
        for e in entries {
            guard let ex = expected[e.name] else {
                throw RecurError(.unexpectedTensor, "tensor \(e.name) is not part of this model config")
            }
            guard e.shape == ex.spec.shape else {
                throw RecurError(.shapeMismatch, "tensor \(e.name) has shape \(e.shape); the config requires \(ex.spec.shape)")
            }
            let want: WeightDType = ex.spec.isMatrix ? weightDType : .f32
            guard e.dtype == want else {
                throw RecurError(.dtypeMismatch, "tensor \(e.name) is \(e.dtype.name); expected \(want.name)")
            }
            planned.append(PlannedTensor(
                name: e.name, dtype: e.dtype, count: e.count, offset: e.offset, canonicalOffset: ex.canonicalOffset,
                scaleCols: ex.scaleCols))
        }
        for s in allSpecs where !names.contains(s.name) {
            throw RecurError(.missingTensor, "tensor \(s.name) is missing")
        }
        return HeaderPlan(
            config: config, labels: labels, metadata: metadata, uncompressedLen: uncompressed, tensors: planned,
            parameterCount: off, bodyFingerprint: bodyFingerprint)
    }

    static func validName(_ s: String) -> Bool {
        let u = s.utf8
        guard u.count >= 1 && u.count <= CheckpointFormat.maxNameBytes else { return false }
        return u.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2E }
    }

    /// A short, printable form of an untrusted string for messages.
    static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars.prefix(40) {
            out += (u.value < 0x20 || u.value == 0x7F) ? "?" : String(u)
        }
        return s.unicodeScalars.count > 40 ? out + "..." : out
    }
}
