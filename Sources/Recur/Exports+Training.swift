import CRecurAPI
import RecurCore

@_cdecl("recur_trainer_config_init")
public func recur_trainer_config_init(_ config: UnsafeMutablePointer<recur_trainer_config>?, _ size: Int) -> recur_status {
    initSized(config, size, defaults: defaultTrainerConfig(), v1Size: StructSizes.trainerConfig, type: "recur_trainer_config")
}

/// Deprecated by-value form (the version-1 layout).
@_cdecl("recur_trainer_default_config")
public func recur_trainer_default_config() -> recur_trainer_config { defaultTrainerConfig() }

func defaultTrainerConfig() -> recur_trainer_config {
    let d = TrainerConfig()
    return recur_trainer_config(
        struct_size: UInt32(MemoryLayout<recur_trainer_config>.size), loss: d.loss.rawValue,
        optimizer: d.optimizer.rawValue, nesterov: 0, learning_rate: d.learningRate, momentum: d.momentum,
        beta1: d.beta1, beta2: d.beta2, epsilon: d.epsilon, weight_decay: d.weightDecay, clip_norm: d.clipNorm,
        batch_size: UInt32(d.batchSize), epochs: UInt32(d.epochs), shuffle: 1, scope_layers: RECUR_SCOPE_HEAD,
        seed: d.seed, bptt_steps: 0, progress_every_batch: 0)
}

func trainerConfig(_ p: UnsafePointer<recur_trainer_config>?) throws(RecurError) -> TrainerConfig {
    guard let p else { return TrainerConfig() }
    let c = try readSized(p, defaults: defaultTrainerConfig(), v1Size: StructSizes.trainerConfig, type: "recur_trainer_config",
                          initName: "recur_trainer_config_init")
    var r = TrainerConfig()
    guard let loss = Loss(rawValue: c.loss) else { throw RecurError(.invalidArgument, "loss \(c.loss) is not a RECUR_LOSS_* value") }
    guard let opt = OptimizerKind(rawValue: c.optimizer) else {
        throw RecurError(.invalidArgument, "optimizer \(c.optimizer) is not a RECUR_OPT_* value")
    }
    r.loss = loss
    r.optimizer = opt
    r.nesterov = c.nesterov != 0
    r.learningRate = c.learning_rate
    r.momentum = c.momentum
    r.beta1 = c.beta1
    r.beta2 = c.beta2
    r.epsilon = c.epsilon
    r.weightDecay = c.weight_decay
    r.clipNorm = c.clip_norm
    r.batchSize = Int(c.batch_size)
    r.epochs = Int(c.epochs)
    r.shuffle = c.shuffle != 0
    r.seed = c.seed
    r.bpttSteps = Int(c.bptt_steps)
    r.progressEveryBatch = c.progress_every_batch != 0
    switch c.scope_layers {
    case RECUR_SCOPE_HEAD: r.scope = .head
    case RECUR_SCOPE_ALL: r.scope = .all
    case let k where k > 0: r.scope = .top(Int(k))
    default: throw RecurError(.invalidArgument, "scope_layers \(c.scope_layers) is not RECUR_SCOPE_HEAD, RECUR_SCOPE_ALL or k > 0")
    }
    return r
}

@_cdecl("recur_dataset_init")
public func recur_dataset_init(_ data: UnsafeMutablePointer<recur_dataset>?, _ size: Int) -> recur_status {
    initSized(data, size, defaults: defaultDataset(), v1Size: StructSizes.dataset, type: "recur_dataset")
}

/// Deprecated by-value form (the version-1 layout).
@_cdecl("recur_dataset_default")
public func recur_dataset_default() -> recur_dataset { defaultDataset() }

func defaultDataset() -> recur_dataset {
    recur_dataset(
        struct_size: UInt32(MemoryLayout<recur_dataset>.size), target_kind: RECUR_TARGET_SEQUENCE_CLASSES,
        inputs: nil, inputs_len: 0, lengths: nil, num_sequences: 0, classes: nil, classes_len: 0, values: nil,
        values_len: 0)
}

/// Copies a C dataset into Swift arrays (every pointer/length pair checked).
func dataset(_ p: UnsafePointer<recur_dataset>?) throws(RecurError) -> TrainingData {
    guard let p else { throw RecurError(.nullPointer, "data is NULL") }
    let d = try readSized(p, defaults: defaultDataset(), v1Size: StructSizes.dataset, type: "recur_dataset", initName: "recur_dataset_init")
    func floats(_ ptr: UnsafePointer<Float>?, _ n: Int, _ what: String) throws(RecurError) -> [Float] {
        guard n >= 0 && n <= 1 << 40 else { throw RecurError(.lengthMismatch, "\(what)_len \(n) is out of range") }
        if n == 0 { return [] }
        guard let ptr else { throw RecurError(.nullPointer, "data.\(what) is NULL with \(what)_len \(n)") }
        return Array(UnsafeBufferPointer(start: ptr, count: n))
    }
    let inputs = try floats(d.inputs, d.inputs_len, "inputs")
    guard d.num_sequences >= 0 && d.num_sequences <= 1 << 32 else {
        throw RecurError(.lengthMismatch, "num_sequences \(d.num_sequences) is out of range")
    }
    var lengths: [Int] = []
    if d.num_sequences > 0 {
        guard let lp = d.lengths else { throw RecurError(.nullPointer, "data.lengths is NULL") }
        lengths = UnsafeBufferPointer(start: lp, count: d.num_sequences).map { $0 }
        for (i, n) in lengths.enumerated() where n < 1 || n > 1 << 24 {
            throw RecurError(.invalidArgument, "lengths[\(i)] is \(n) (allowed 1...\(1 << 24))")
        }
    }
    func classes() throws(RecurError) -> [Int32] {
        guard d.classes_len >= 0 && d.classes_len <= 1 << 40 else { throw RecurError(.lengthMismatch, "classes_len out of range") }
        if d.classes_len == 0 { return [] }
        guard let cp = d.classes else { throw RecurError(.nullPointer, "data.classes is NULL with classes_len \(d.classes_len)") }
        return Array(UnsafeBufferPointer(start: cp, count: d.classes_len))
    }
    let targets: TrainingData.Targets
    switch d.target_kind {
    case RECUR_TARGET_SEQUENCE_CLASSES: targets = .sequenceClasses(try classes())
    case RECUR_TARGET_STEP_CLASSES: targets = .stepClasses(try classes())
    case RECUR_TARGET_SEQUENCE_VALUES: targets = .sequenceValues(try floats(d.values, d.values_len, "values"))
    case RECUR_TARGET_STEP_VALUES: targets = .stepValues(try floats(d.values, d.values_len, "values"))
    default: throw RecurError(.invalidArgument, "target_kind \(d.target_kind) is not a RECUR_TARGET_* value")
    }
    return TrainingData(inputs: inputs, lengths: lengths, targets: targets)
}

@_cdecl("recur_trainer_create")
public func recur_trainer_create(
    _ model: OpaquePointer?, _ config: UnsafePointer<recur_trainer_config>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let m = try modelBox(model).model
        let t = try Trainer(model: m, config: try trainerConfig(config))
        try publishHandle(.trainer, TrainerBox(t), out)
    }
}

@_cdecl("recur_trainer_free")
public func recur_trainer_free(_ trainer: OpaquePointer?) {
    freeHandle(trainer, .trainer)
}

@_cdecl("recur_trainer_fit")
public func recur_trainer_fit(
    _ trainer: OpaquePointer?, _ data: UnsafePointer<recur_dataset>?,
    _ progress: (@convention(c) (UnsafePointer<recur_progress>?, UnsafeMutableRawPointer?) -> Int32)?,
    _ user: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let t = try trainerBox(trainer).trainer
        let d = try dataset(data)
        var callback: ((TrainingProgress) -> Bool)? = nil
        if let progress {
            callback = { p in
                var cp = recur_progress(
                    epoch: UInt32(clamping: p.epoch), epochs: UInt32(clamping: p.epochs), step: UInt64(p.step),
                    loss: p.loss, metric: p.metric, end_of_epoch: p.endOfEpoch ? 1 : 0)
                return progress(&cp, user) == 0
            }
        }
        let m = try t.fit(d, progress: callback)
        try publish(m, out)
    }
}

@_cdecl("recur_trainer_last_good")
public func recur_trainer_last_good(_ trainer: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        guard let m = try trainerBox(trainer).trainer.lastGoodModel() else {
            throw RecurError(.notFound, "no epoch has completed yet")
        }
        try publish(m, out)
    }
}

@_cdecl("recur_model_evaluate")
public func recur_model_evaluate(
    _ model: OpaquePointer?, _ data: UnsafePointer<recur_dataset>?, _ loss: Int32, _ out: UnsafeMutablePointer<recur_evaluation>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        guard let l = Loss(rawValue: loss) else { throw RecurError(.invalidArgument, "loss \(loss) is not a RECUR_LOSS_* value") }
        let e = try Trainer.evaluate(m, on: try dataset(data), loss: l)
        out.pointee = recur_evaluation(loss: e.loss, accuracy: e.accuracy ?? -1, rmse: e.rmse ?? -1, count: e.count)
    }
}

func labelArray(_ p: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int) throws(RecurError) -> [String] {
    guard let p else { return [] }
    var out: [String] = []
    for i in 0..<n { out.append(try swiftString(p[i], "labels[\(i)]", error: .badLabel)) }
    return out
}

@_cdecl("recur_model_with_new_head")
public func recur_model_with_new_head(
    _ model: OpaquePointer?, _ outputs: Int, _ labels: UnsafePointer<UnsafePointer<CChar>?>?, _ transform: Int32,
    _ seed: UInt64, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let m = try modelBox(model).model
        guard outputs >= 1 && outputs <= ModelLimits.maxWidth else {
            throw RecurError(.badConfig, "outputs \(outputs) is outside 1...\(ModelLimits.maxWidth)")
        }
        var t: OutputTransform? = nil
        if transform != -1 {
            guard let tt = OutputTransform(rawValue: transform) else {
                throw RecurError(.invalidArgument, "transform \(transform) is not a RECUR_OUTPUT_* value or -1")
            }
            t = tt
        }
        try publish(try m.withNewHead(outputs: outputs, labels: try labelArray(labels, outputs), transform: t, seed: seed), out)
    }
}

@_cdecl("recur_model_extend_head")
public func recur_model_extend_head(
    _ model: OpaquePointer?, _ newClasses: Int, _ labels: UnsafePointer<UnsafePointer<CChar>?>?, _ seed: UInt64,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let m = try modelBox(model).model
        guard newClasses >= 1 && newClasses <= ModelLimits.maxWidth else {
            throw RecurError(.badConfig, "new_classes \(newClasses) is outside 1...\(ModelLimits.maxWidth)")
        }
        try publish(try m.extendingHead(newClasses: newClasses, labels: try labelArray(labels, newClasses), seed: seed), out)
    }
}

@_cdecl("recur_model_fingerprint")
public func recur_model_fingerprint(_ model: OpaquePointer?, _ body: UnsafeMutablePointer<UInt64>?, _ full: UnsafeMutablePointer<UInt64>?) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        body?.pointee = m.bodyFingerprint
        full?.pointee = m.fingerprint
    }
}

@_cdecl("recur_model_save_adapter")
public func recur_model_save_adapter(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        try m.saveAdapter(to: try swiftString(path, "path"))
    }
}

@_cdecl("recur_model_save_adapter_memory")
public func recur_model_save_adapter_memory(
    _ model: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ cap: Int, _ outLen: UnsafeMutablePointer<Int>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let m = try modelBox(model).model
        guard let outLen else { throw RecurError(.nullPointer, "out_len is NULL") }
        let bytes = try m.adapterBytes()
        try copyOut(bytes, to: buf, cap: cap, outLen: outLen, what: "adapter")
    }
}

@_cdecl("recur_model_apply_adapter")
public func recur_model_apply_adapter(
    _ base: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ options: UnsafePointer<recur_load_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let m = try modelBox(base, "base").model
        let p = try swiftString(path, "path")
        try publish(try m.applyingAdapter(path: p, options: try loadOptions(options)), out)
    }
}

@_cdecl("recur_model_apply_adapter_memory")
public func recur_model_apply_adapter_memory(
    _ base: OpaquePointer?, _ data: UnsafeRawPointer?, _ len: Int, _ options: UnsafePointer<recur_load_options>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let m = try modelBox(base, "base").model
        let opts = try loadOptions(options)
        guard data != nil || len == 0 else { throw RecurError(.nullPointer, "data is NULL") }
        guard len >= 0 && len <= opts.maxFileSize else {
            throw RecurError(.fileTooLarge, "adapter of \(len) bytes exceeds max_file_size \(opts.maxFileSize)")
        }
        let bytes = Array(UnsafeRawBufferPointer(start: data, count: len))
        try publish(try m.applyingAdapter(bytes, options: opts), out)
    }
}
