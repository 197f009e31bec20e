import ArgumentParser
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT; the training progress callback then cancels cleanly.
nonisolated(unsafe) var interrupted: sig_atomic_t = 0

/// Data as read from a file, before the loss decides what its targets are.
struct RawData {
    var inputs: [Float]
    var lengths: [Int]
    /// The target numbers, row after row (npz: `targets` flattened; CSV: the columns after the inputs).
    var targets: [Double]
    /// Numbers per target row (1 for class ids).
    var targetWidth: Int
    /// Integer dtype (npz) or every CSV target a whole number.
    var integral: Bool
    var steps: Int { lengths.reduce(0, +) }
}

/// Reads training/evaluation data (recur help formats): .npz with `inputs` (or `values`),
/// `lengths`, `targets`; or CSV rows `sequence_id, x1..xI, target(s)`.
func readData(_ path: String, inputSize I: Int, outputSize O: Int) throws -> RawData {
    let bytes = try readInput(path, what: "data")
    if path.hasSuffix(".npz") {
        let z = try parseNPZ(bytes, name: path)
        guard let x = z["inputs"] ?? z["values"] else { throw CLIError("\(path): needs an array named inputs (or values)") }
        guard let l = z["lengths"], let t = z["targets"] else { throw CLIError("\(path): needs arrays named lengths and targets") }
        guard x.count % I == 0 else { throw CLIError("\(path): inputs hold \(x.count) values, not a multiple of input_size \(I)") }
        guard l.isInteger, l.data.allSatisfy({ $0 >= 1 && $0 <= Double(1 << 24) }) else {
            throw CLIError("\(path): lengths must be integers in 1...\(1 << 24)")
        }
        let lengths = l.data.map { Int($0) }
        let steps = lengths.reduce(0, +)
        guard steps * I == x.count else { throw CLIError("\(path): lengths sum to \(steps) steps; inputs hold \(x.count / I)") }
        guard !lengths.isEmpty else { throw CLIError("\(path): no sequences") }
        let width = t.shape.count >= 2 ? t.shape.dropFirst().reduce(1, *) : 1
        return RawData(inputs: x.data.map { Float($0) }, lengths: lengths, targets: t.data, targetWidth: width,
                       integral: t.isInteger)
    }
    // CSV: one row per step: sequence id, I inputs, then the target columns.
    let rows = try parseCSV(bytes, name: path)
    guard let first = rows.first else { throw CLIError("\(path): no data rows (recur help formats)") }
    let width = first.count - 1 - I
    guard width >= 1 else {
        throw CLIError("\(path): row 1 has \(first.count) columns; expected 1 (sequence id) + \(I) inputs + the target column(s)")
    }
    var inputs: [Float] = [], lengths: [Int] = [], targets: [Double] = []
    var lastID: Double? = nil
    for (n, r) in rows.enumerated() {
        guard r.count == first.count else {
            throw CLIError("\(path): row \(n + 1) has \(r.count) columns; row 1 has \(first.count)")
        }
        if lastID != r[0] {
            lengths.append(0)
            lastID = r[0]
        }
        lengths[lengths.count - 1] += 1
        inputs += r[1...I].map { Float($0) }
        targets += r[(1 + I)...]
    }
    return RawData(inputs: inputs, lengths: lengths, targets: targets, targetWidth: width,
                   integral: targets.allSatisfy { $0 == $0.rounded() && abs($0) < Double(1 << 31) })
}

/// The loss when --loss is not given: integer class ids (one per row) mean cross-entropy,
/// anything else mean squared error.
func inferLoss(_ d: RawData, outputSize O: Int) -> Loss {
    d.integral && d.targetWidth == 1 && O >= 2 ? .crossEntropy : .mse
}

/// Builds the training data for `loss`, with a hint when the targets do not fit it. Targets
/// per step become per sequence (each sequence's last) with `perSequence`.
func trainingData(_ d: RawData, path: String, loss: Loss, outputSize O: Int, perSequence: Bool) throws -> TrainingData {
    let seqs = d.lengths.count, steps = d.steps, n = d.targets.count
    /// Each sequence's last row of per-step rows `width` wide.
    func lastRows<T>(_ a: [T], _ width: Int) -> [T] {
        var out: [T] = [], at = 0
        for len in d.lengths {
            at += len
            out += a[((at - 1) * width)..<(at * width)]
        }
        return out
    }
    if loss == .crossEntropy {
        guard d.targetWidth == 1 else {
            throw CLIError("\(path): cross_entropy needs one integer class id per row; the targets have \(d.targetWidth) columns (value targets: use --loss mse or binary_cross_entropy)")
        }
        guard d.integral else {
            throw CLIError("\(path): cross_entropy needs integer class ids (0-based: 0 ... \(O - 1)); the targets are not whole numbers")
        }
        for (i, v) in d.targets.enumerated() where v < 0 || v >= Double(O) {
            throw CLIError("\(path): class target \(i) is \(Int(v)); classes are 0-based indices 0 ... \(O - 1) into the head's \(O) outputs")
        }
        let c = d.targets.map { Int32($0) }
        if n == seqs { return TrainingData(inputs: d.inputs, lengths: d.lengths, targets: .sequenceClasses(c)) }
        guard n == steps else {
            throw CLIError("\(path): \(n) class targets; expected one per sequence (\(seqs)) or one per step (\(steps))")
        }
        return TrainingData(inputs: d.inputs, lengths: d.lengths,
                            targets: perSequence ? .sequenceClasses(lastRows(c, 1)) : .stepClasses(c))
    }
    // Value targets: output_size numbers per row.
    if d.integral && d.targetWidth == 1 && O > 1 && (n == seqs || n == steps) {
        throw CLIError("\(path): the targets are one integer per \(n == seqs ? "sequence" : "step"): class ids (0-based, 0 ... \(O - 1)), not the \(O) values per row \(loss.name) needs; use --loss cross_entropy (or leave --loss out to infer it)")
    }
    guard d.targetWidth == O || (d.targetWidth == 1 && n % O == 0) else {
        throw CLIError("\(path): \(loss.name) needs \(O) target values per row (the head's outputs); the targets have \(d.targetWidth) columns")
    }
    let v = d.targets.map { Float($0) }
    let rows = n / O
    if rows == seqs { return TrainingData(inputs: d.inputs, lengths: d.lengths, targets: .sequenceValues(v)) }
    guard rows == steps else {
        throw CLIError("\(path): \(rows) target rows of \(O); expected one per sequence (\(seqs)) or one per step (\(steps))")
    }
    return TrainingData(inputs: d.inputs, lengths: d.lengths,
                        targets: perSequence ? .sequenceValues(lastRows(v, O)) : .stepValues(v))
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

enum LossArg: String, ExpressibleByArgument, CaseIterable {
    case mse, cross_entropy, binary_cross_entropy
    var loss: Loss {
        switch self {
        case .mse: .mse
        case .cross_entropy: .crossEntropy
        case .binary_cross_entropy: .binaryCrossEntropy
        }
    }
}

enum OptimizerArg: String, ExpressibleByArgument, CaseIterable {
    case sgd, adam, adamw, ridge
    var kind: OptimizerKind {
        switch self {
        case .sgd: .sgd
        case .adam: .adam
        case .adamw: .adamw
        case .ridge: .ridge
        }
    }
}

enum TransformArg: String, ExpressibleByArgument, CaseIterable {
    case none, softmax, sigmoid
    var transform: OutputTransform {
        switch self {
        case .none: .none
        case .softmax: .softmax
        case .sigmoid: .sigmoid
        }
    }
}

/// `head`, `all` or a positive number k of top layers.
struct ScopeArg: ExpressibleByArgument {
    let scope: TrainingScope
    init?(argument: String) {
        switch argument {
        case "head": scope = .head
        case "all": scope = .all
        default:
            guard let k = Int(argument), k >= 1 else { return nil }
            scope = .top(k)
        }
    }
    static var defaultCompletionKind: CompletionKind { .list(["head", "all", "1", "2"]) }
}

/// Refuses, before any training, a destination that cannot be written: a directory, a missing
/// or read-only parent directory.
func checkDestination(_ path: String) throws {
    let slash = path.lastIndex(of: "/")
    let dir = slash.map { String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard !name.isEmpty else { throw CLIError("--out \(path) names a directory, not a file") }
    var st = stat()
    if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
        throw CLIError("--out \(path) exists and is not a regular file")
    }
    let d = dir.isEmpty ? "/" : dir
    guard stat(d, &st) == 0 else { throw CLIError("--out \(path): directory \(d) does not exist (\(errnoText(errno)))") }
    guard (st.st_mode & S_IFMT) == S_IFDIR else { throw CLIError("--out \(path): \(d) is not a directory") }
    guard access(d, W_OK) == 0 else { throw CLIError("--out \(path): cannot write in \(d) (\(errnoText(errno)))") }
}

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on labelled sequences and write the new model (or a head adapter).",
        discussion: "Ctrl-C cancels cleanly: nothing is written. Without --loss the loss follows the targets (integer class ids: cross_entropy; values: mse). Class ids are 0-based. Data layouts: recur help formats.")

    @Argument(help: "The base .recur model.") var model: String
    @Option(help: "Training data: .npz or .csv (recur help formats).") var data: String
    @Option(help: "Output path (a .recur model, or an adapter with --adapter); checked before training.") var out: String
    @Flag(help: "Write a head adapter bound to the base instead of a whole model.") var adapter = false
    @Option(help: "Loss (default: inferred from the targets).") var loss: LossArg?
    @Option(help: "Optimizer.") var optimizer: OptimizerArg = .adam
    @Option(help: "Learning rate (> 0).") var lr = 1e-3
    @Option(help: "Epochs (>= 1).") var epochs = 10
    @Option(name: .customLong("batch-size"), help: "Sequences per optimizer step (>= 1).") var batchSize = 32
    @Option(help: "head, all, or a number k of top layers (+ head).") var scope = ScopeArg(argument: "head")!
    @Option(help: "SGD momentum, [0, 1).") var momentum = 0.0
    @Flag(help: "Nesterov momentum (SGD).") var nesterov = false
    @Option(name: .customLong("weight-decay"), help: "L2 / decoupled weight decay / ridge lambda (>= 0).") var weightDecay = 0.0
    @Option(name: .customLong("clip-norm"), help: "Gradient-norm clip (0 = off).") var clipNorm = 0.0
    @Option(help: "Truncated BPTT steps (0 = full).") var bptt = 0
    @Option(help: "Seed for shuffling, head initialisation and the validation split.") var seed: UInt64 = 0
    @Flag(name: .customLong("no-shuffle"), help: "Keep the data order.") var noShuffle = false
    @Option(name: .customLong("new-head"), help: "Replace the head by a new one with this many outputs.") var newHead: Int?
    @Option(name: .customLong("extend-head"), help: "Add this many classes to the head (old rows kept).") var extendHead: Int?
    @Option(help: "Comma-separated labels for the new head or the added classes.") var labels: String?
    @Option(help: "Output transform of a new head.") var transform: TransformArg?
    @Flag(name: .customLong("per-sequence"), help: "Targets are per sequence (the last step), not per step.") var perSequence = false
    @Option(name: .customLong("validation-split"), help: "Hold out this fraction of sequences, [0, 1), and report on it.") var validationSplit = 0.0
    @Option(name: .customLong("set-meta"), help: ArgumentHelp("Set a metadata entry of the result (repeatable).", valueName: "key=value"))
    var setMeta: [MetaEntry] = []

    func validate() throws {
        guard lr > 0 && lr.isFinite else { throw ValidationError("--lr must be > 0 (got \(lr))") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be >= 1 (got \(epochs))") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be >= 1 (got \(batchSize))") }
        guard momentum >= 0 && momentum < 1 else { throw ValidationError("--momentum must be in [0, 1) (got \(momentum))") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must be >= 0 (got \(weightDecay))") }
        guard clipNorm >= 0 else { throw ValidationError("--clip-norm must be >= 0 (got \(clipNorm))") }
        guard bptt >= 0 else { throw ValidationError("--bptt must be >= 0 (got \(bptt))") }
        guard validationSplit >= 0 && validationSplit < 1 else { throw ValidationError("--validation-split must be in [0, 1) (got \(validationSplit))") }
        if let n = newHead, n < 1 { throw ValidationError("--new-head must be >= 1 (got \(n))") }
        if let k = extendHead, k < 1 { throw ValidationError("--extend-head must be >= 1 (got \(k))") }
        if newHead != nil && extendHead != nil { throw ValidationError("--new-head and --extend-head exclude each other") }
        if transform != nil && newHead == nil { throw ValidationError("--transform applies to --new-head only") }
    }

    func run() throws {
        try checkDestination(out)
        var base = try loadModel(model)
        let labelList = labels.map { $0.split(separator: ",").map { String($0) } } ?? []
        try cli {
            if let n = newHead {
                base = try base.withNewHead(outputs: n, labels: labelList, transform: transform?.transform, seed: seed)
            } else if let k = extendHead {
                base = try base.extendingHead(newClasses: k, labels: labelList, seed: seed)
            }
        }
        let raw = try readData(data, inputSize: base.config.inputSize, outputSize: base.config.outputSize)
        let lossKind = loss?.loss ?? inferLoss(raw, outputSize: base.config.outputSize)
        if loss == nil { eprint("loss \(lossKind.name) (inferred from the targets; --loss to choose)") }
        var cfg = TrainerConfig()
        cfg.loss = lossKind
        cfg.optimizer = optimizer.kind
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
        cfg.scope = scope.scope
        let all = try trainingData(raw, path: data, loss: lossKind, outputSize: base.config.outputSize, perSequence: perSequence)
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
        var result: Model
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
        result = try applyMetadata(result, setMeta)
        try cli {
            print("train        " + describe(try trainer.evaluate(result, on: train)))
            if let val { print("validation   " + describe(try trainer.evaluate(result, on: val)) + "  (before: " + describe(try trainer.evaluate(base, on: val)) + ")") }
            if adapter { try result.saveAdapter(to: out) } else { try result.save(to: out) }
        }
        let secs = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
        print("wrote        \(out) (\(adapter ? "head adapter" : "model"), \(try readInput(out, what: "output").count) bytes) after \(fmt(secs, 2)) s of training")
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Loss and accuracy (classes) or RMSE (values) of a model on data.",
        discussion: "Without --loss the loss follows the targets, as in finetune. Data layouts: recur help formats.")

    @Argument(help: "A .recur model.") var model: String
    @Option(help: "Data: .npz or .csv (recur help formats).") var data: String
    @Option(help: "Loss (default: inferred from the targets).") var loss: LossArg?
    @Option(help: "Apply this head adapter to the model first.") var adapter: String?
    @Flag(name: .customLong("per-sequence"), help: "Targets are per sequence (the last step).") var perSequence = false

    func run() throws {
        var m = try loadModel(model)
        if let adapter {
            do { m = try m.applyingAdapter(path: adapter) } catch { throw CLIError("\(error)") }
        }
        let raw = try readData(data, inputSize: m.config.inputSize, outputSize: m.config.outputSize)
        let l = loss?.loss ?? inferLoss(raw, outputSize: m.config.outputSize)
        let d = try trainingData(raw, path: data, loss: l, outputSize: m.config.outputSize, perSequence: perSequence)
        do { print(describe(try Trainer.evaluate(m, on: d, loss: l)) + (loss == nil ? " [loss \(l.name), inferred]" : "")) } catch {
            throw CLIError("\(error)")
        }
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
