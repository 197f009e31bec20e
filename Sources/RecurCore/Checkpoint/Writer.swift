/// Writing `.recur` checkpoints (docs/FORMAT.md "Writer protocol").
public enum CheckpointWriter {
    /// Serialises `model`. `dtype` overrides the model's storage type for the weight
    /// matrices; `level` is the zlib level (1...9). The output is deterministic and is
    /// re-read and compared with the model before it is returned.
    public static func encode(_ model: Model, dtype: WeightDType? = nil, level: Int = 6) throws(RecurError) -> [UInt8] {
        guard (1...9).contains(level) else {
            throw RecurError(.invalidArgument, "compression level \(level) is outside 1...9")
        }
        var config = model.config
        if let dtype { config.weightDType = dtype }
        let specs = config.tensorSpecs
        let params = model.parameters()

        // Payload: each tensor byte-shuffled, concatenated in canonical order.
        var raw: [UInt8] = []
        var planes: [Int] = []  // lengths of the byte planes, in payload order
        var tensorJSON: [JSON] = []
        var expected: [Float] = []  // what a reader must get back
        expected.reserveCapacity(params.count)
        var off = 0
        try params.withUnsafeBufferPointer { (p) throws(RecurError) in
            guard let base = p.baseAddress else { throw RecurError(.invalidArgument, "model has no parameters") }
            for s in specs {
                let dt: WeightDType = s.isMatrix ? config.weightDType : .f32
                if dt == .i8 {
                    // int8 codes, then the per-row scales as their own f32 tensor.
                    let (codes, scales, deq) = CheckpointWriter.quantise(base + off, rows: s.shape[0], cols: s.shape[1])
                    expected += deq
                    for (name, shape, dtype, values) in [(s.name, s.shape, WeightDType.i8, codes), (s.name + ".scale", [s.shape[0]], .f32, scales)] {
                        let offset = raw.count
                        values.withUnsafeBufferPointer { vp in
                            if let vb = vp.baseAddress { Shuffle.shuffle(vb, count: values.count, dtype: dtype, into: &raw) }
                        }
                        planes += Array(repeating: values.count, count: dtype.itemSize)
                        tensorJSON.append(.object([
                            ("name", .string(name)), ("dtype", .string(dtype.name)),
                            ("shape", .array(shape.map { .integer(Int64($0)) })),
                            ("offset", .integer(Int64(offset))), ("nbytes", .integer(Int64(raw.count - offset))),
                        ]))
                    }
                    off += s.count
                    continue
                }
                let offset = raw.count
                Shuffle.shuffle(base + off, count: s.count, dtype: dt, into: &raw)
                planes += Array(repeating: s.count, count: dt.itemSize)
                for i in 0..<s.count {
                    let v = base[off + i]
                    let stored = dt == .f16 ? Half.toFloat(Half.fromFloat(v)) : v
                    guard stored.isFinite else {
                        throw RecurError(.nonFiniteWeight, "\(s.name)[\(i)] = \(v) does not fit in float16 storage")
                    }
                    expected.append(stored)
                }
                tensorJSON.append(.object([
                    ("name", .string(s.name)), ("dtype", .string(dt.name)),
                    ("shape", .array(s.shape.map { .integer(Int64($0)) })),
                    ("offset", .integer(Int64(offset))), ("nbytes", .integer(Int64(raw.count - offset))),
                ]))
                off += s.count
            }
        }
        let payload = try Zlib.compressPlanes(raw, planes: planes, level: Int32(level))

        var modelJSON: [(String, JSON)] = [
            ("input_size", .integer(Int64(config.inputSize))),
            ("layers", layersJSON(config.layers)),
            ("output_size", .integer(Int64(config.outputSize))),
            ("output_transform", .string(config.outputTransform.name)),
        ]
        if !model.labels.isEmpty { modelJSON.append(("labels", .array(model.labels.map { .string($0) }))) }
        let header = JSON.object([
            ("format", .string("recur")),
            ("requires", requiresJSON(config.layers, dtype: config.weightDType)),
            ("model", .object(modelJSON)),
            ("metadata", .object(model.metadata.map { ($0.key, .string($0.value)) })),
            ("payload", .object([
                ("codec", .string("zlib")), ("filter", .string("byteshuffle")),
                ("weight_dtype", .string(config.weightDType.name)),
                ("uncompressed_len", .integer(Int64(raw.count))),
            ])),
            ("tensors", .array(tensorJSON)),
        ])
        let out = assemble(header: header, payload: payload, gated: !config.allElman)

        // Re-read before anyone trusts these bytes.
        let back = try CheckpointReader.decode(out, options: .permissive)
        let got = back.parameters()
        guard got.count == expected.count,
            zip(got, expected).allSatisfy({ $0.bitPattern == $1.bitPattern }),
            back.config == config, back.labels == model.labels,
            back.metadata.map({ $0.key }) == model.metadata.map({ $0.key }),
            back.metadata.map({ $0.value }) == model.metadata.map({ $0.value })
        else {
            throw RecurError(.io, "internal error: the written checkpoint does not read back identically")
        }
        return out
    }

    /// Canonical int8 quantisation of a row-major matrix: codes (as floats), per-row scales,
    /// and the dequantised values a reader gets back.
    static func quantise(_ w: UnsafePointer<Float>, rows: Int, cols: Int) -> (codes: [Float], scales: [Float], dequantised: [Float]) {
        var deq = Array(UnsafeBufferPointer(start: w, count: rows * cols))
        var codes = [Int8](repeating: 0, count: rows * cols)
        var scales: [Float] = []
        deq.withUnsafeMutableBufferPointer { dp in
            codes.withUnsafeMutableBufferPointer { cp in
                guard let d = dp.baseAddress, let c = cp.baseAddress else { return }
                for r in 0..<rows { scales.append(Quant.quantiseRow(d + r * cols, cols, codes: c + r * cols)) }
            }
        }
        return (codes.map { Float($0) }, scales, deq)
    }

    /// The `layers` array of a header: `{"size", "activation"}` for elman layers (as in 1.0),
    /// `{"kind", "size"}` (+ `"proj_size"` for a projected LSTM) for gated ones.
    package static func layersJSON(_ layers: [LayerConfig]) -> JSON {
        .array(layers.map { l in
            if l.kind == .elman {
                return .object([("size", .integer(Int64(l.size))), ("activation", .string(l.activation.name))])
            }
            var o: [(String, JSON)] = [("kind", .string(l.kind.name)), ("size", .integer(Int64(l.size)))]
            if l.projSize > 0 { o.append(("proj_size", .integer(Int64(l.projSize)))) }
            return .object(o)
        })
    }

    /// The `requires` array: "i8" for int8 weights, then "gru" / "lstm" for the gated kinds used.
    static func requiresJSON(_ layers: [LayerConfig], dtype: WeightDType) -> JSON {
        var r: [JSON] = dtype == .i8 ? [.string("i8")] : []
        for f in ["gru", "lstm"] where layers.contains(where: { $0.kind.feature == f }) { r.append(.string(f)) }
        return .array(r)
    }

    /// Preamble (magic, version, lengths, CRCs) + header JSON + compressed payload. The minor
    /// version is 1 for bodies with gated layers, else 0.
    static func assemble(header: JSON, payload: [UInt8], gated: Bool = false) -> [UInt8] {
        let headerBytes = Array(header.serialized().utf8)
        var out = [UInt8](repeating: 0, count: CheckpointFormat.preambleSize)
        out.reserveCapacity(CheckpointFormat.preambleSize + headerBytes.count + payload.count)
        out.withUnsafeMutableBytes { p in
            guard let base = p.baseAddress else { return }
            for i in 0..<8 { p[i] = CheckpointFormat.magic[i] }
            var w = ByteWriter(base + 8)
            w.u16(CheckpointFormat.versionMajor)
            w.u16(gated ? CheckpointFormat.versionMinorGated : CheckpointFormat.versionMinor)
            w.u32(0)
            w.u32(UInt32(headerBytes.count))
            w.u32(Checksum.crc32(headerBytes))
            w.u64(UInt64(payload.count))
            w.u32(Checksum.crc32(payload))
            w.u32(Checksum.crc32(UnsafeRawBufferPointer(start: base, count: 36)))
        }
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: payload)
        return out
    }

    /// Writes `model` to `path` atomically (temp file in the same directory, fsync,
    /// rename, fsync of the directory). On error `path` is untouched.
    public static func save(_ model: Model, to path: String, dtype: WeightDType? = nil, level: Int = 6) throws(RecurError) {
        let bytes = try encode(model, dtype: dtype, level: level)
        try FileIO.writeAtomically(path: path, bytes: bytes)
    }
}

extension Model {
    /// Loads a `.recur` file.
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws(RecurError) -> Model {
        try CheckpointReader.load(path: path, options: options)
    }

    /// Decodes a `.recur` checkpoint from memory.
    public convenience init(checkpoint bytes: [UInt8], options: LoadOptions = LoadOptions()) throws(RecurError) {
        let m = try CheckpointReader.decode(bytes, options: options)
        try self.init(config: m.config, parameters: m.parameters(), labels: m.labels, metadata: m.metadata)
    }

    /// Serialises to `.recur` bytes.
    public func checkpointBytes(dtype: WeightDType? = nil, level: Int = 6) throws(RecurError) -> [UInt8] {
        try CheckpointWriter.encode(self, dtype: dtype, level: level)
    }

    /// Saves to `path` atomically.
    public func save(to path: String, dtype: WeightDType? = nil, level: Int = 6) throws(RecurError) {
        try CheckpointWriter.save(self, to: path, dtype: dtype, level: level)
    }
}
