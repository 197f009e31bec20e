import ArgumentParser
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT; the training progress callback then cancels cleanly.
nonisolated(unsafe) var interrupted: sig_atomic_t = 0

/// Reads training/evaluation data (docs/CLI.md): .npz with `inputs` (or `values`), `lengths`,
/// `targets`; or CSV rows `sequence_id, x1..xI, target(s)`.
func loadData(_ path: String, inputSize I: Int, outputSize O: Int, classes: Bool, perSequence: Bool) throws -> TrainingData {
    let bytes = try readAll(path)
    if path.hasSuffix(".npz") {
        let z = try parseNPZ(bytes, name: path)
        guard let x = z["inputs"] ?? z["values"] else { throw CLIError("\(path): needs an array named inputs (or values)") }
        guard let l = z["lengths"], let t = z["targets"] else { throw CLIError("\(path): needs arrays named lengths and targets") }
        guard x.count % I == 0 else { throw CLIError("\(path): inputs hold \(x.count) values, not a multiple of input_size \(I)") }
        let lengths = l.data.map { Int($0) }
        let steps = lengths.reduce(0, +)
        guard steps * I == x.count else { throw CLIError("\(path): lengths sum to \(steps) steps; inputs hold \(x.count / I)") }
        let inputs = x.data.map { Float($0) }
        if classes {
            guard t.isInteger else { throw CLIError("\(path): cross-entropy needs integer class targets") }
            let c = t.data.map { Int32(clamping: Int($0)) }
            if t.count == lengths.count && !(perSequence == false && t.count == steps && steps != lengths.count) {
                return TrainingData(inputs: inputs, lengths: lengths, targets: .sequenceClasses(c))
            }
            return TrainingData(inputs: inputs, lengths: lengths, targets: .stepClasses(c))
        }
        let v = t.data.map { Float($0) }
        if t.count == lengths.count * O && (perSequence || t.count != steps * O) {
            return TrainingData(inputs: inputs, lengths: lengths, targets: .sequenceValues(v))
        }
        return TrainingData(inputs: inputs, lengths: lengths, targets: .stepValues(v))
    }
    // CSV: one row per step.
    let rows = try parseCSV(bytes, name: path)
    let tw = classes ? 1 : O
    var inputs: [Float] = [], lengths: [Int] = [], cls: [Int32] = [], vals: [Float] = []
    var lastID: Double? = nil
    for (n, r) in rows.enumerated() {
        guard r.count == 1 + I + tw else {
            throw CLIError("\(path): row \(n + 1) has \(r.count) columns; expected 1 (sequence id) + \(I) inputs + \(tw) target\(tw > 1 ? "s" : "")")
        }
        let newSeq = lastID != r[0]
        if newSeq {
            lengths.append(0)
            lastID = r[0]
        }
        lengths[lengths.count - 1] += 1
        inputs += r[1...I].map { Float($0) }
        let t = Array(r[(1 + I)...])
        if perSequence && !newSeq {  // keep the last row's target of each sequence
            if classes { cls[cls.count - 1] = Int32(clamping: Int(t[0])) } else { vals.replaceSubrange((vals.count - O)..., with: t.map { Float($0) }) }
        } else {
            if classes { cls.append(Int32(clamping: Int(t[0]))) } else { vals += t.map { Float($0) } }
        }
    }
    guard !lengths.isEmpty else { throw CLIError("\(path): no data rows") }
    let targets: TrainingData.Targets = classes
        ? (perSequence ? .sequenceClasses(cls) : .stepClasses(cls))
        : (perSequence ? .sequenceValues(vals) : .stepValues(vals))
    return TrainingData(inputs: inputs, lengths: lengths, targets: targets)
}

/// Splits off the last `fraction` of the sequences (after a seeded shuffle) for validation.
func split(_ d: TrainingData, fraction: Double, seed: UInt64, outputSize O: Int) -> (TrainingData, TrainingData?) {
    guard fraction > 0 else { return (d, nil) }
    let n = d.lengths.count
    let nv = max(1, Int(Double(n) * fraction))
    guard nv < n else { return (d, nil) }
    var order = Array(0..<n)
    var g = SeededGenerator(seed: seed ^ 0x5EED)
    order.shuffle(using: &g)
    var starts: [Int] = []
    var acc = 0
    for l in d.lengths {
        starts.append(acc)
        acc += l
    }
    let I = d.inputs.count / max(acc, 1)
    func subset(_ idx: ArraySlice<Int>) -> TrainingData {
        var x: [Float] = [], l: [Int] = [], c: [Int32] = [], v: [Float] = []
        for s in idx {
            x += d.inputs[(starts[s] * I)..<((starts[s] + d.lengths[s]) * I)]
            l.append(d.lengths[s])
            switch d.targets {
            case .sequenceClasses(let t): c.append(t[s])
            case .stepClasses(let t): c += t[starts[s]..<(starts[s] + d.lengths[s])]
            case .sequenceValues(let t): v += t[(s * O)..<((s + 1) * O)]
            case .stepValues(let t): v += t[(starts[s] * O)..<((starts[s] + d.lengths[s]) * O)]
            }
        }
        let t: TrainingData.Targets
        switch d.targets {
        case .sequenceClasses: t = .sequenceClasses(c)
        case .stepClasses: t = .stepClasses(c)
        case .sequenceValues: t = .sequenceValues(v)
        case .stepValues: t = .stepValues(v)
        }
        return TrainingData(inputs: x, lengths: l, targets: t)
    }
    return (subset(order[..<(n - nv)]), subset(order[(n - nv)...]))
}

func describe(_ e: Evaluation) -> String {
    "loss \(fmt(e.loss))" + (e.accuracy.map { ", accuracy \(fmt($0, 3))" } ?? "") + (e.rmse.map { ", RMSE \(fmt($0))" } ?? "") + " (\(e.count) targets)"
}

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on labelled sequences and write the new model (or a head adapter).",
        discussion: "Ctrl-C cancels cleanly: nothing is written. Data layouts: docs/CLI.md.")

    @Argument(help: "The base .recur model.") var model: String
    @Option(help: "Training data: .npz or .csv (docs/CLI.md).") var data: String
    @Option(help: "Output path (a .recur model, or an adapter with --adapter).") var out: String
    @Flag(help: "Write a head adapter bound to the base instead of a whole model.") var adapter = false
    @Option(help: "mse, cross_entropy or binary_cross_entropy.") var loss = "mse"
    @Option(help: "sgd, adam, adamw or ridge.") var optimizer = "adam"
    @Option(help: "Learning rate.") var lr = 1e-3
    @Option(help: "Epochs.") var epochs = 10
    @Option(name: .customLong("batch-size"), help: "Sequences per optimizer step.") var batchSize = 32
    @Option(help: "head, all, or a number k of top layers (+ head).") var scope = "head"
    @Option(help: "SGD momentum.") var momentum = 0.0
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Option(name: .customLong("weight-decay"), help: "L2 / decoupled weight decay / ridge lambda.") var weightDecay = 0.0
    @Option(name: .customLong("clip-norm"), help: "Gradient-norm clip (0 = off).") var clipNorm = 0.0
    @Option(help: "Truncated BPTT steps (0 = full).") var bptt = 0
    @Option(help: "Seed for shuffling, head initialisation and the validation split.") var seed: UInt64 = 0
    @Flag(name: .customLong("no-shuffle"), help: "Keep the data order.") var noShuffle = false
    @Option(name: .customLong("new-head"), help: "Replace the head by a new one with this many outputs.") var newHead: Int?
    @Option(name: .customLong("extend-head"), help: "Add this many classes to the head (old rows kept).") var extendHead: Int?
    @Option(help: "Comma-separated labels for the new head or the added classes.") var labels: String?
    @Option(help: "Output transform of a new head: none, softmax or sigmoid.") var transform: String?
    @Flag(name: .customLong("per-sequence"), help: "Targets are per sequence (the last step), not per step.") var perSequence = false
    @Option(name: .customLong("validation-split"), help: "Hold out this fraction of sequences and report on it.") var validationSplit = 0.0

    func run() throws {
        guard let lossKind = Loss.allCases.first(where: { $0.name == loss }) else {
            throw CLIError("--loss must be mse, cross_entropy or binary_cross_entropy")
        }
        guard let opt = OptimizerKind.allCases.first(where: { $0.name == optimizer }) else {
            throw CLIError("--optimizer must be sgd, adam, adamw or ridge")
        }
        guard validationSplit >= 0 && validationSplit < 1 else { throw CLIError("--validation-split must be in [0, 1)") }
        var base = try loadModel(model)
        let labelList = labels.map { $0.split(separator: ",").map { String($0) } } ?? []
        try cli {
            if let n = newHead {
                var t: OutputTransform? = nil
                if let transform {
                    guard let tt = OutputTransform(name: transform) else { throw CLIError("--transform must be none, softmax or sigmoid") }
                    t = tt
                }
                base = try base.withNewHead(outputs: n, labels: labelList, transform: t, seed: seed)
            } else if let k = extendHead {
                base = try base.extendingHead(newClasses: k, labels: labelList, seed: seed)
            }
        }
        var cfg = TrainerConfig()
        cfg.loss = lossKind
        cfg.optimizer = opt
        cfg.learningRate = lr
        cfg.momentum = momentum
        cfg.nesterov = nesterov
        cfg.weightDecay = weightDecay
        cfg.clipNorm = clipNorm
        cfg.epochs = epochs
        cfg.batchSize = batchSize
        cfg.bpttSteps = bptt
        cfg.seed = seed
        cfg.shuffle = !noShuffle
        cfg.progressEveryBatch = true
        switch scope {
        case "head": cfg.scope = .head
        case "all": cfg.scope = .all
        default:
            guard let k = Int(scope), k >= 1 else { throw CLIError("--scope must be head, all or a positive number") }
            cfg.scope = .top(k)
        }
        let all = try loadData(data, inputSize: base.config.inputSize, outputSize: base.config.outputSize,
                               classes: lossKind == .crossEntropy, perSequence: perSequence)
        let (train, val) = split(all, fraction: validationSplit, seed: seed, outputSize: base.config.outputSize)
        let trainer: Trainer
        do { trainer = try Trainer(model: base, config: cfg) } catch { throw CLIError("\(error)") }
        signal(SIGINT) { _ in interrupted = 1 }
        let tty = isatty(2) != 0
        var t0 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        let outcome = fitCapturing(trainer, train) { p in
            if interrupted != 0 { return false }
            guard p.endOfEpoch else { return true }
            let metric = lossKind == .mse ? "rmse \(fmt(p.metric))" : "acc \(fmt(p.metric, 3))"
            if tty {
                let w = 30, done = w * p.epoch / p.epochs
                let bar = String(repeating: "#", count: done) + String(repeating: " ", count: w - done)
                eprint("\r[\(bar)] epoch \(p.epoch)/\(p.epochs)  loss \(fmt(p.loss))  \(metric)", newline: p.epoch == p.epochs)
            } else {
                eprint("epoch \(p.epoch)/\(p.epochs) loss \(fmt(p.loss)) \(metric)")
            }
            return true
        }
        let result: Model
        switch outcome {
        case .success(let m):
            result = m
        case .failure(let error):
            if tty { eprint("") }
            if error.code == .cancelled {
                eprint("recur: cancelled; nothing was written")
                throw ExitCode(130)
            }
            throw CLIError(error.description)
        }
        var t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t1)
        try cli {
            print("train        " + describe(try trainer.evaluate(result, on: train)))
            if let val { print("validation   " + describe(try trainer.evaluate(result, on: val)) + "  (before: " + describe(try trainer.evaluate(base, on: val)) + ")") }
            if adapter { try result.saveAdapter(to: out) } else { try result.save(to: out) }
        }
        let secs = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
        print("wrote        \(out) (\(adapter ? "head adapter" : "model"), \(try readAll(out).count) bytes) after \(fmt(secs, 2)) s of training")
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Loss and accuracy (classes) or RMSE (values) of a model on data.")

    @Argument(help: "A .recur model.") var model: String
    @Option(help: "Data: .npz or .csv (docs/CLI.md).") var data: String
    @Option(help: "mse, cross_entropy or binary_cross_entropy.") var loss = "cross_entropy"
    @Option(help: "Apply this head adapter to the model first.") var adapter: String?
    @Flag(name: .customLong("per-sequence"), help: "Targets are per sequence (the last step).") var perSequence = false

    func run() throws {
        guard let l = Loss.allCases.first(where: { $0.name == loss }) else {
            throw CLIError("--loss must be mse, cross_entropy or binary_cross_entropy")
        }
        var m = try loadModel(model)
        if let adapter {
            do { m = try m.applyingAdapter(path: adapter) } catch { throw CLIError("\(error)") }
        }
        let d = try loadData(data, inputSize: m.config.inputSize, outputSize: m.config.outputSize,
                             classes: l == .crossEntropy, perSequence: perSequence)
        do { print(describe(try Trainer.evaluate(m, on: d, loss: l))) } catch { throw CLIError("\(error)") }
    }
}

/// Runs a fit, returning its typed outcome.
func fitCapturing(_ t: Trainer, _ d: TrainingData, _ progress: @escaping (TrainingProgress) -> Bool) -> Result<Model, RecurError> {
    do {
        return .success(try t.fit(d, progress: progress))
    } catch {
        return .failure(error)
    }
}

/// Runs `body`, turning any error into a one-line CLIError.
func cli(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CLIError {
        throw e
    } catch {
        throw CLIError("\(error)")
    }
}
