import CRecurAPI
import CRecurSupport
import RecurCore

// Thin shims: unwrap handles, convert C arguments, call RecurCore, map errors.

// MARK: - Options and configs

@_cdecl("recur_load_options_init")
public func recur_load_options_init(_ options: UnsafeMutablePointer<recur_load_options>?, _ size: Int) -> recur_status {
    initSized(options, size, defaults: defaultLoadOptions(), v1Size: StructSizes.loadOptions, type: "recur_load_options")
}

/// Deprecated by-value form (the version-1 layout).
@_cdecl("recur_load_default_options")
public func recur_load_default_options() -> recur_load_options { defaultLoadOptions() }

func defaultLoadOptions() -> recur_load_options {
    let d = LoadOptions()
    return recur_load_options(
        struct_size: UInt32(MemoryLayout<recur_load_options>.size), flags: 0,
        max_file_size: UInt64(d.maxFileSize), max_header_size: UInt32(d.maxHeaderSize),
        max_tensors: UInt32(d.maxTensors), max_dimension: UInt32(d.maxDimension),
        max_ratio: UInt32(d.maxRatio), max_tensor_elements: UInt64(d.maxTensorElements),
        max_payload_size: UInt64(d.maxPayloadSize))
}

func loadOptions(_ p: UnsafePointer<recur_load_options>?) throws(RecurError) -> LoadOptions {
    guard let p else { return LoadOptions() }
    let o = try readSized(p, defaults: defaultLoadOptions(), v1Size: StructSizes.loadOptions, type: "recur_load_options",
                          initName: "recur_load_options_init")
    guard o.flags & ~RECUR_LOAD_SKIP_CHECKSUMS == 0 else {
        throw RecurError(.invalidArgument, "recur_load_options.flags has unknown bits 0x\(String(o.flags, radix: 16))")
    }
    func clampInt(_ v: UInt64) -> Int { v > UInt64(Int.max) ? Int.max : Int(v) }
    var r = LoadOptions()
    r.verifyChecksums = o.flags & RECUR_LOAD_SKIP_CHECKSUMS == 0
    r.maxFileSize = clampInt(o.max_file_size)
    r.maxHeaderSize = Int(o.max_header_size)
    r.maxTensors = Int(o.max_tensors)
    r.maxDimension = Int(o.max_dimension)
    r.maxRatio = Int(o.max_ratio)
    r.maxTensorElements = clampInt(o.max_tensor_elements)
    r.maxPayloadSize = clampInt(o.max_payload_size)
    try r.validate()
    return r
}

@_cdecl("recur_model_config_init")
public func recur_model_config_init(_ config: UnsafeMutablePointer<recur_model_config>?, _ size: Int) -> recur_status {
    initSized(config, size, defaults: defaultModelConfig(), v1Size: StructSizes.modelConfig, type: "recur_model_config")
}

/// Deprecated by-value form: the version-1 layout only (72 bytes), whatever the header's struct
/// has grown to, so an old caller's struct is never written past.
@_cdecl("recur_model_default_config")
public func recur_model_default_config() -> rcx_model_config_v1 {
    let d = defaultModelConfig()
    return rcx_model_config_v1(
        struct_size: UInt32(StructSizes.modelConfig), input_size: d.input_size, num_layers: d.num_layers,
        output_size: d.output_size, layer_sizes: nil, activations: nil, output_transform: d.output_transform,
        weight_dtype: d.weight_dtype, labels: nil, num_metadata: 0, metadata_keys: nil, metadata_values: nil)
}

func defaultModelConfig() -> recur_model_config {
    recur_model_config(
        struct_size: UInt32(MemoryLayout<recur_model_config>.size), input_size: 1, num_layers: 0,
        output_size: 1, layer_sizes: nil, activations: nil, output_transform: RECUR_OUTPUT_NONE,
        weight_dtype: RECUR_DTYPE_F32, labels: nil, num_metadata: 0, metadata_keys: nil,
        metadata_values: nil, layer_kinds: nil, proj_sizes: nil)
}

/// Converts a C config (all pointers checked) into the Swift types.
func modelSpec(_ p: UnsafePointer<recur_model_config>?) throws(RecurError)
    -> (config: ModelConfig, labels: [String], metadata: [(key: String, value: String)])
{
    guard let p else { throw RecurError(.nullPointer, "config is NULL") }
    let c = try readSized(p, defaults: defaultModelConfig(), v1Size: StructSizes.modelConfig, type: "recur_model_config",
                          initName: "recur_model_config_init")
    let nLayers = Int(c.num_layers)
    guard nLayers >= 1 && nLayers <= ModelLimits.maxLayers else {
        throw RecurError(.badConfig, "num_layers \(nLayers) is outside 1...\(ModelLimits.maxLayers)")
    }
    guard let sizes = c.layer_sizes else { throw RecurError(.nullPointer, "config.layer_sizes is NULL") }
    var layers: [LayerConfig] = []
    for i in 0..<nLayers {
        var act = Activation.tanh
        if let acts = c.activations {
            guard let a = Activation(rawValue: acts[i]) else {
                throw RecurError(.badConfig, "config.activations[\(i)] = \(acts[i]) is not a RECUR_ACT_* value")
            }
            act = a
        }
        var kind = LayerKind.elman
        if let kinds = c.layer_kinds {
            guard let k = LayerKind(rawValue: kinds[i]) else {
                throw RecurError(.badConfig, "config.layer_kinds[\(i)] = \(kinds[i]) is not a RECUR_LAYER_* value")
            }
            kind = k
        }
        let proj = c.proj_sizes.map { Int($0[i]) } ?? 0
        layers.append(LayerConfig(kind: kind, size: Int(sizes[i]), activation: act, projSize: proj))
    }
    guard let transform = OutputTransform(rawValue: c.output_transform) else {
        throw RecurError(.badConfig, "config.output_transform = \(c.output_transform) is not a RECUR_OUTPUT_* value")
    }
    guard let dtype = WeightDType(rawValue: c.weight_dtype) else {
        throw RecurError(.badConfig, "config.weight_dtype = \(c.weight_dtype) is not RECUR_DTYPE_F32, RECUR_DTYPE_F16 or RECUR_DTYPE_I8")
    }
    let config = ModelConfig(
        inputSize: Int(c.input_size), layers: layers, outputSize: Int(c.output_size),
        outputTransform: transform, weightDType: dtype)
    try config.validate()
    var labels: [String] = []
    if let ls = c.labels {
        for i in 0..<config.outputSize {
            labels.append(try swiftString(ls[i], "config.labels[\(i)]", error: .badLabel))
        }
    }
    var metadata: [(key: String, value: String)] = []
    if c.num_metadata != 0 {
        guard c.num_metadata > 0 && c.num_metadata <= ModelLimits.maxMetadataEntries else {
            throw RecurError(.badMetadata, "num_metadata \(c.num_metadata) exceeds \(ModelLimits.maxMetadataEntries)")
        }
        guard let keys = c.metadata_keys, let values = c.metadata_values else {
            throw RecurError(.nullPointer, "config.metadata_keys/metadata_values is NULL with num_metadata > 0")
        }
        for i in 0..<c.num_metadata {
            let k = try swiftString(keys[i], "config.metadata_keys[\(i)]", error: .badMetadata)
            let v = try swiftString(values[i], "config.metadata_values[\(i)]", error: .badMetadata)
            metadata.append((key: k, value: v))
        }
    }
    return (config, labels, metadata)
}

// MARK: - Creating, loading, freeing

func publish(_ model: Model, _ out: UnsafeMutablePointer<OpaquePointer?>) throws(RecurError) {
    try publishHandle(.model, ModelBox(model), out)
}

@_cdecl("recur_model_config_num_params")
public func recur_model_config_num_params(_ config: UnsafePointer<recur_model_config>?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        out.pointee = try modelSpec(config).config.parameterCount
    }
}

@_cdecl("recur_model_create")
public func recur_model_create(
    _ config: UnsafePointer<recur_model_config>?, _ params: UnsafePointer<Float>?, _ paramsLen: Int,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let spec = try modelSpec(config)
        let need = spec.config.parameterCount
        guard paramsLen == need else {
            throw RecurError(.lengthMismatch, "params_len is \(paramsLen); this config needs \(need) floats")
        }
        guard let params else { throw RecurError(.nullPointer, "params is NULL") }
        let model = try Model(
            config: spec.config, parameters: UnsafeBufferPointer(start: params, count: paramsLen),
            labels: spec.labels, metadata: spec.metadata)
        try publish(model, out)
    }
}

@_cdecl("recur_model_init")
public func recur_model_init(
    _ config: UnsafePointer<recur_model_config>?, _ seed: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let spec = try modelSpec(config)
        let model = try Model.initialized(config: spec.config, seed: seed, labels: spec.labels, metadata: spec.metadata)
        try publish(model, out)
    }
}

@_cdecl("recur_model_load")
public func recur_model_load(
    _ path: UnsafePointer<CChar>?, _ options: UnsafePointer<recur_load_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let p = try swiftString(path, "path")
        let model = try CheckpointReader.load(path: p, options: try loadOptions(options))
        try publish(model, out)
    }
}

@_cdecl("recur_model_load_memory")
public func recur_model_load_memory(
    _ data: UnsafeRawPointer?, _ len: Int, _ options: UnsafePointer<recur_load_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let opts = try loadOptions(options)
        guard data != nil || len == 0 else { throw RecurError(.nullPointer, "data is NULL") }
        let model = try CheckpointReader.decode(UnsafeRawBufferPointer(start: data, count: len), options: opts)
        try publish(model, out)
    }
}

@_cdecl("recur_model_free")
public func recur_model_free(_ model: OpaquePointer?) {
    freeHandle(model, .model)
}

@_cdecl("recur_model_get_params")
public func recur_model_get_params(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ outLen: Int) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        guard outLen == m.parameterCount else {
            throw RecurError(.lengthMismatch, "out_len is \(outLen); the model has \(m.parameterCount) parameters")
        }
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let p = m.parameters()
        for i in 0..<p.count { out[i] = p[i] }
    }
}

// MARK: - Introspection

private func query<T>(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<T>?, _ get: (Model) -> T) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        try writeOut(out, get(m))
    }
}

@_cdecl("recur_model_input_size")
public func recur_model_input_size(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.config.inputSize }
}

@_cdecl("recur_model_output_size")
public func recur_model_output_size(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.config.outputSize }
}

@_cdecl("recur_model_num_layers")
public func recur_model_num_layers(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.config.layers.count }
}

@_cdecl("recur_model_num_params")
public func recur_model_num_params(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.parameterCount }
}

@_cdecl("recur_model_state_floats")
public func recur_model_state_floats(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.config.stateSize }
}

/// Deprecated name of recur_model_state_floats.
@_cdecl("recur_model_state_size")
public func recur_model_state_size(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    recur_model_state_floats(model, out)
}

@_cdecl("recur_model_output_transform")
public func recur_model_output_transform(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> recur_status {
    query(model, out) { $0.config.outputTransform.rawValue }
}

@_cdecl("recur_model_weight_dtype")
public func recur_model_weight_dtype(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> recur_status {
    query(model, out) { $0.config.weightDType.rawValue }
}

/// Layer `index` of a model handle, or RECUR_E_INDEX_OUT_OF_RANGE.
private func layerConfig(_ model: OpaquePointer?, _ index: Int) throws(RecurError) -> LayerConfig {
    let layers = try modelBox(model).model.config.layers
    guard index >= 0 && index < layers.count else {
        throw RecurError(.indexOutOfRange, "layer \(index) out of range (the model has \(layers.count))")
    }
    return layers[index]
}

@_cdecl("recur_model_layer")
public func recur_model_layer(
    _ model: OpaquePointer?, _ index: Int, _ size: UnsafeMutablePointer<Int>?, _ activation: UnsafeMutablePointer<Int32>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let layer = try layerConfig(model, index)
        size?.pointee = layer.size
        activation?.pointee = layer.activation.rawValue
    }
}

@_cdecl("recur_model_layer_kind")
public func recur_model_layer_kind(
    _ model: OpaquePointer?, _ index: Int, _ kind: UnsafeMutablePointer<Int32>?, _ proj: UnsafeMutablePointer<Int>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let layer = try layerConfig(model, index)
        kind?.pointee = layer.kind.rawValue
        proj?.pointee = layer.projSize
    }
}

@_cdecl("recur_model_num_labels")
public func recur_model_num_labels(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.labels.count }
}

@_cdecl("recur_model_label")
public func recur_model_label(_ model: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> recur_status {
    withStatus { () throws(RecurError) in
        let box = try modelBox(model)
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        guard index >= 0 && index < box.labels.count else {
            throw RecurError(.indexOutOfRange, "label \(index) out of range (the model has \(box.labels.count) labels)")
        }
        out.pointee = UnsafePointer(box.labels[index])
    }
}

@_cdecl("recur_model_num_metadata")
public func recur_model_num_metadata(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    query(model, out) { $0.metadata.count }
}

@_cdecl("recur_model_metadata_at")
public func recur_model_metadata_at(
    _ model: OpaquePointer?, _ index: Int, _ key: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
    _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let box = try modelBox(model)
        guard index >= 0 && index < box.metaKeys.count else {
            throw RecurError(.indexOutOfRange, "metadata entry \(index) out of range (the model has \(box.metaKeys.count))")
        }
        key?.pointee = UnsafePointer(box.metaKeys[index])
        value?.pointee = UnsafePointer(box.metaValues[index])
    }
}

@_cdecl("recur_model_metadata")
public func recur_model_metadata(
    _ model: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let box = try modelBox(model)
        let k = try swiftString(key, "key")
        guard let value else { throw RecurError(.nullPointer, "value is NULL") }
        guard let i = box.model.metadata.firstIndex(where: { $0.key == k }) else {
            throw RecurError(.notFound, "no metadata key \"\(k)\"")
        }
        value.pointee = UnsafePointer(box.metaValues[i])
    }
}

// MARK: - Saving

@_cdecl("recur_save_options_init")
public func recur_save_options_init(_ options: UnsafeMutablePointer<recur_save_options>?, _ size: Int) -> recur_status {
    initSized(options, size, defaults: defaultSaveOptions(), v1Size: StructSizes.saveOptions, type: "recur_save_options")
}

/// Deprecated by-value form (the version-1 layout).
@_cdecl("recur_save_default_options")
public func recur_save_default_options() -> recur_save_options { defaultSaveOptions() }

func defaultSaveOptions() -> recur_save_options {
    recur_save_options(
        struct_size: UInt32(MemoryLayout<recur_save_options>.size), weight_dtype: RECUR_DTYPE_MODEL,
        compression_level: 6)
}

func saveOptions(_ p: UnsafePointer<recur_save_options>?) throws(RecurError) -> (dtype: WeightDType?, level: Int) {
    guard let p else { return (nil, 6) }
    let o = try readSized(p, defaults: defaultSaveOptions(), v1Size: StructSizes.saveOptions, type: "recur_save_options",
                          initName: "recur_save_options_init")
    var dtype: WeightDType? = nil
    if o.weight_dtype != RECUR_DTYPE_MODEL {
        guard let d = WeightDType(rawValue: o.weight_dtype) else {
            throw RecurError(.invalidArgument, "save weight_dtype \(o.weight_dtype) is not RECUR_DTYPE_MODEL, F32, F16 or I8")
        }
        dtype = d
    }
    guard (1...9).contains(o.compression_level) else {
        throw RecurError(.invalidArgument, "compression_level \(o.compression_level) is outside 1...9")
    }
    return (dtype, Int(o.compression_level))
}

@_cdecl("recur_model_save")
public func recur_model_save(
    _ model: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ options: UnsafePointer<recur_save_options>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        let p = try swiftString(path, "path")
        let o = try saveOptions(options)
        try CheckpointWriter.save(m, to: p, dtype: o.dtype, level: o.level)
    }
}

@_cdecl("recur_model_save_memory")
public func recur_model_save_memory(
    _ model: OpaquePointer?, _ options: UnsafePointer<recur_save_options>?, _ buf: UnsafeMutableRawPointer?,
    _ cap: Int, _ outLen: UnsafeMutablePointer<Int>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        guard let outLen else { throw RecurError(.nullPointer, "out_len is NULL") }
        let o = try saveOptions(options)
        let bytes = try CheckpointWriter.encode(m, dtype: o.dtype, level: o.level)
        try copyOut(bytes, to: buf, cap: cap, outLen: outLen, what: "checkpoint")
    }
}
