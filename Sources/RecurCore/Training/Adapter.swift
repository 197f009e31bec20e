/// Head adapters: the output head of a fine-tuned model, saved on its own (a few KB)
/// and bound to the fingerprint of the body it was trained on. Applying the adapter to a
/// model with that body gives the fine-tuned model bit for bit; any other base is
/// refused with `RECUR_E_ADAPTER_MISMATCH`. Rolling back is dropping the file.
///
/// The file uses the `.recur` container (docs/FORMAT.md) with `"format": "recur-adapter"`,
/// a `base` object (`body_fingerprint` as 16 hex digits, `input_size`, `layers`) and a
/// `head` object (`output_size`, `output_transform`, optional `labels`) instead of `model`;
/// its tensors are `head.weight` and `head.bias`.
extension Model {
    /// Serialises this model's head as an adapter bound to this model's body.
    public func adapterBytes(level: Int = 6) throws(RecurError) -> [UInt8] {
        guard (1...9).contains(level) else {
            throw RecurError(.invalidArgument, "compression level \(level) is outside 1...9")
        }
        let dt = config.weightDType
        let H = config.lastLayerSize
        let O = config.outputSize
        let p = parameters()
        let head = Array(p[(p.count - O * (H + 1))...])
        var raw: [UInt8] = []
        var scaleBytes = 0
        head.withUnsafeBufferPointer { hp in
            guard let b = hp.baseAddress else { return }
            if dt == .i8 {
                let (codes, scales, _) = CheckpointWriter.quantise(b, rows: O, cols: H)
                codes.withUnsafeBufferPointer { if let c = $0.baseAddress { Shuffle.shuffle(c, count: O * H, dtype: .i8, into: &raw) } }
                let before = raw.count
                scales.withUnsafeBufferPointer { if let c = $0.baseAddress { Shuffle.shuffle(c, count: O, dtype: .f32, into: &raw) } }
                scaleBytes = raw.count - before
            } else {
                Shuffle.shuffle(b, count: O * H, dtype: dt, into: &raw)
            }
            Shuffle.shuffle(b + O * H, count: O, dtype: .f32, into: &raw)
        }
        let payload = try Zlib.compress(raw, level: Int32(level))
        var headJSON: [(String, JSON)] = [
            ("output_size", .integer(Int64(O))), ("output_transform", .string(config.outputTransform.name)),
        ]
        if !labels.isEmpty { headJSON.append(("labels", .array(labels.map { .string($0) }))) }
        func entry(_ name: String, _ dtype: String, _ shape: [Int], _ offset: Int, _ nbytes: Int) -> JSON {
            .object([("name", .string(name)), ("dtype", .string(dtype)), ("shape", .array(shape.map { .integer(Int64($0)) })),
                     ("offset", .integer(Int64(offset))), ("nbytes", .integer(Int64(nbytes)))])
        }
        let wBytes = O * H * dt.itemSize
        var tensors = [entry("head.weight", dt.name, [O, H], 0, wBytes)]
        if dt == .i8 { tensors.append(entry("head.weight.scale", "f32", [O], wBytes, scaleBytes)) }
        tensors.append(entry("head.bias", "f32", [O], wBytes + scaleBytes, O * 4))
        let header = JSON.object([
            ("format", .string("recur-adapter")),
            ("requires", CheckpointWriter.requiresJSON(config.layers, dtype: dt)),
            ("base", .object([
                ("body_fingerprint", .string(Hex.digits(bodyFingerprint))),
                ("input_size", .integer(Int64(config.inputSize))),
                ("layers", CheckpointWriter.layersJSON(config.layers)),
            ])),
            ("head", .object(headJSON)),
            ("metadata", .object(metadata.map { ($0.key, .string($0.value)) })),
            ("payload", .object([
                ("codec", .string("zlib")), ("filter", .string("byteshuffle")),
                ("weight_dtype", .string(dt.name)), ("uncompressed_len", .integer(Int64(raw.count))),
            ])),
            ("tensors", .array(tensors)),
        ])
        let out = CheckpointWriter.assemble(header: header, payload: payload, gated: !config.allElman)
        // Re-read and check it reproduces this model on its own body.
        let back = try applyingAdapter(out, options: .permissive)
        guard back.fingerprint == (dt == .f16 ? back.fingerprint : fingerprint) else {
            throw RecurError(.io, "internal error: the adapter does not reproduce the model")
        }
        return out
    }

    /// Saves the head adapter atomically.
    public func saveAdapter(to path: String) throws(RecurError) {
        try FileIO.writeAtomically(path: path, bytes: try adapterBytes())
    }

    /// This model's body with the adapter's head, labels, transform and metadata.
    public func applyingAdapter(_ bytes: [UInt8], options: LoadOptions = LoadOptions()) throws(RecurError) -> Model {
        let r: Result<(HeaderPlan, [Float]), RecurError> = bytes.withUnsafeBytes { p in
            do throws(RecurError) {
                return .success(try CheckpointReader.decodeContainer(p, options: options, kind: .adapter))
            } catch {
                return .failure(error)
            }
        }
        let (plan, head) = try r.get()
        guard let fp = plan.bodyFingerprint else { throw RecurError(.schema, "adapter has no base fingerprint") }
        guard fp == bodyFingerprint, plan.config.inputSize == config.inputSize, plan.config.layers == config.layers else {
            throw RecurError(.adapterMismatch, "the adapter was trained on another base (body fingerprint \(Hex.prefixed(fp)); this model's body is \(Hex.prefixed(bodyFingerprint)))")
        }
        var p = parameters()
        p.removeLast(config.outputSize * (config.lastLayerSize + 1))
        p += head
        var c = config
        c.outputSize = plan.config.outputSize
        c.outputTransform = plan.config.outputTransform
        c.weightDType = plan.config.weightDType
        return try Model(config: c, parameters: p, labels: plan.labels, metadata: plan.metadata)
    }

    /// Loads an adapter file and applies it to this model.
    public func applyingAdapter(path: String, options: LoadOptions = LoadOptions()) throws(RecurError) -> Model {
        try options.validate()
        let bytes = try FileIO.readFile(path: path, maxSize: options.maxFileSize)
        do {
            return try applyingAdapter(bytes, options: options)
        } catch {
            throw RecurError(error.code, "\(path): \(error.message)")
        }
    }
}

/// What a head adapter holds, read without its base model (`recur inspect`).
public struct AdapterInfo: Sendable {
    /// The body fingerprint of the base model it belongs to.
    public let baseBodyFingerprint: UInt64
    public let baseInputSize: Int
    public let baseLayers: [LayerConfig]
    public let outputSize: Int
    public let outputTransform: OutputTransform
    public let weightDType: WeightDType
    public let labels: [String]
    public let metadata: [(key: String, value: String)]
    /// Floats of the head (outputSize x (last layer size + 1)).
    public let parameterCount: Int
}

/// A `.recur` container of either kind.
public enum CheckpointContents: Sendable {
    case model(Model)
    case adapter(AdapterInfo)
}

extension CheckpointReader {
    /// Reads a whole model or a head adapter (every rule of docs/FORMAT.md either way). An
    /// adapter's head is validated and decoded but not applied to anything.
    public static func decodeAny(_ bytes: [UInt8], options: LoadOptions = LoadOptions()) throws(RecurError) -> CheckpointContents {
        do {
            return .model(try decode(bytes, options: options))
        } catch where error.code == .schema {
            let r: Result<(HeaderPlan, [Float]), RecurError> = bytes.withUnsafeBytes { p in
                do throws(RecurError) { return .success(try decodeContainer(p, options: options, kind: .adapter)) } catch {
                    return .failure(error)
                }
            }
            guard case .success(let (plan, head)) = r, let fp = plan.bodyFingerprint else { throw error }
            return .adapter(AdapterInfo(
                baseBodyFingerprint: fp, baseInputSize: plan.config.inputSize, baseLayers: plan.config.layers,
                outputSize: plan.config.outputSize, outputTransform: plan.config.outputTransform,
                weightDType: plan.config.weightDType, labels: plan.labels, metadata: plan.metadata, parameterCount: head.count))
        }
    }
}
