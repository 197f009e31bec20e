import ArgumentParser
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

@main
struct RecurTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recur",
        abstract: "Create, inspect, run, fine-tune, evaluate, convert and benchmark recur feedback-network models.",
        discussion: """
            Exit status: 0 success, 1 failure (one line on standard error), 64 bad usage or option \
            value, 130 a cancelled fine-tune. Data file layouts: recur help formats.
            """,
        version: RecurVersion.string,
        subcommands: [Create.self, Inspect.self, Run.self, Finetune.self, Eval.self, Convert.self, Bench.self, Formats.self])
}

// MARK: - Shared helpers

/// Loads a model, turning errors into one clear line.
func loadModel(_ path: String) throws -> Model {
    do {
        return try Model.load(path: path)
    } catch {
        throw CLIError("\(error)")
    }
}

func fmt(_ v: Double, _ digits: Int = 4) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    let n = withVaList([v]) { vsnprintf(&buf, 64, "%.\(digits)f", $0) }
    let len = max(0, min(Int(n), 63))
    return String(decoding: buf[0..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Writes a line to standard error (unbuffered).
func eprint(_ s: String, newline: Bool = true) {
    let t = newline ? s + "\n" : s
    var bytes = Array(t.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// `key=value` pairs of `--set-meta` (the value may be empty; the key is checked by the model).
struct MetaEntry: ExpressibleByArgument {
    let key: String
    let value: String
    init?(argument: String) {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else { return nil }
        key = String(argument[..<eq])
        value = String(argument[argument.index(after: eq)...])
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

func applyMetadata(_ m: Model, _ entries: [MetaEntry]) throws -> Model {
    guard !entries.isEmpty else { return m }
    do {
        return try m.settingMetadata(entries.map { (key: $0.key, value: $0.value) })
    } catch {
        throw CLIError("--set-meta: \(error)")
    }
}

enum DTypeArg: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, i8
    var dtype: WeightDType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .i8: .i8
        }
    }
}

// MARK: - inspect

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's (or a head adapter's) config, size, labels, metadata and checksum status.")

    @Argument(help: "A .recur model or head adapter.") var model: String
    @Flag(help: "Machine-readable JSON output.") var json = false

    func run() throws {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readFile(path: model, maxSize: LoadOptions().maxFileSize)
        } catch {
            throw CLIError("\(error)")
        }
        var checksums = "ok"
        let contents: CheckpointContents
        do {
            contents = try CheckpointReader.decodeAny(bytes)
        } catch {
            // Report whether only a checksum failed: structure still valid?
            var o = LoadOptions()
            o.verifyChecksums = false
            if [.corruptPreamble, .corruptHeader, .corruptPayload].contains(error.code),
                (try? CheckpointReader.decodeAny(bytes, options: o)) != nil
            {
                checksums = "MISMATCH"
            }
            throw CLIError("\(model): \(error)" + (checksums == "MISMATCH" ? " (the structure is otherwise valid: the file is damaged)" : ""))
        }
        switch contents {
        case .model(let m): show(m, bytes.count, checksums)
        case .adapter(let a): show(a, bytes.count, checksums)
        }
    }

    /// Every layer with its kind (the file's layer objects leave it out for elman layers).
    func layersJSON(_ layers: [LayerConfig]) -> JSON {
        .array(layers.map { l in
            var o: [(String, JSON)] = [("kind", .string(l.kind.name)), ("size", .integer(Int64(l.size)))]
            if l.kind == .elman { o.append(("activation", .string(l.activation.name))) }
            if l.projSize > 0 { o.append(("proj_size", .integer(Int64(l.projSize)))) }
            return .object(o)
        })
    }

    /// One layer in words: "20 tanh (feedback)", "64 gru", "32 lstm, projected to 16".
    func describe(_ l: LayerConfig) -> String {
        switch l.kind {
        case .elman: "\(l.size) \(l.activation.name) (feedback)"
        case .gru: "\(l.size) gru"
        case .gruResetBefore: "\(l.size) gru_reset_before (reset applied before the recurrent product)"
        case .lstm: l.projSize > 0 ? "\(l.size) lstm, projected to \(l.projSize)" : "\(l.size) lstm"
        }
    }

    func metadataJSON(_ md: [(key: String, value: String)]) -> JSON { .object(md.map { ($0.key, .string($0.value)) }) }

    func show(_ m: Model, _ fileBytes: Int, _ checksums: String) {
        let raw = m.parameterCount * 4
        let ratio = Double(fileBytes) / Double(raw)
        let c = m.config
        if json {
            print(JSON.object([
                ("path", .string(model)), ("kind", .string("model")), ("file_bytes", .integer(Int64(fileBytes))),
                ("float32_bytes", .integer(Int64(raw))), ("size_ratio", .nonInteger(fmt(ratio))),
                ("checksums", .string(checksums)), ("input_size", .integer(Int64(c.inputSize))),
                ("layers", layersJSON(c.layers)), ("output_size", .integer(Int64(c.outputSize))),
                ("output_transform", .string(c.outputTransform.name)), ("weight_dtype", .string(c.weightDType.name)),
                ("parameters", .integer(Int64(m.parameterCount))), ("labels", .array(m.labels.map { .string($0) })),
                ("metadata", metadataJSON(m.metadata)), ("body_fingerprint", .string(Hex.digits(m.bodyFingerprint))),
                ("fingerprint", .string(Hex.digits(m.fingerprint))),
            ]).serialized())
            return
        }
        print("model        \(model)")
        print("file         \(fileBytes) bytes (\(fmt(ratio * 100, 1))% of the \(raw) bytes of raw float32 weights), checksums \(checksums)")
        print("input        \(c.inputSize)")
        for (i, l) in c.layers.enumerated() { print("layer \(i)      \(describe(l))") }
        print("output       \(c.outputSize), transform \(c.outputTransform.name)")
        print("parameters   \(m.parameterCount), weights stored as \(c.weightDType.name)")
        print("fingerprint  body \(Hex.digits(m.bodyFingerprint)), model \(Hex.digits(m.fingerprint))")
        if !m.labels.isEmpty { print("labels       " + m.labels.joined(separator: ", ")) }
        for (k, v) in m.metadata { print("metadata     \(k): \(v)") }
    }

    func show(_ a: AdapterInfo, _ fileBytes: Int, _ checksums: String) {
        if json {
            print(JSON.object([
                ("path", .string(model)), ("kind", .string("adapter")), ("file_bytes", .integer(Int64(fileBytes))),
                ("checksums", .string(checksums)), ("base_body_fingerprint", .string(Hex.digits(a.baseBodyFingerprint))),
                ("base_input_size", .integer(Int64(a.baseInputSize))), ("base_layers", layersJSON(a.baseLayers)),
                ("output_size", .integer(Int64(a.outputSize))), ("output_transform", .string(a.outputTransform.name)),
                ("weight_dtype", .string(a.weightDType.name)), ("parameters", .integer(Int64(a.parameterCount))),
                ("labels", .array(a.labels.map { .string($0) })), ("metadata", metadataJSON(a.metadata)),
            ]).serialized())
            return
        }
        print("adapter      \(model) (a head adapter: it needs its base model)")
        print("file         \(fileBytes) bytes, checksums \(checksums)")
        print("base body    fingerprint \(Hex.digits(a.baseBodyFingerprint)), input \(a.baseInputSize), layers "
            + a.baseLayers.map { describe($0) }.joined(separator: ", "))
        print("head         \(a.outputSize) outputs, transform \(a.outputTransform.name), \(a.parameterCount) parameters stored as \(a.weightDType.name)")
        if !a.labels.isEmpty { print("labels       " + a.labels.joined(separator: ", ")) }
        for (k, v) in a.metadata { print("metadata     \(k): \(v)") }
        print("apply with   recur eval BASE.recur --adapter \(model) ..., recur_model_apply_adapter (C), Model.apply_adapter (Python)")
    }
}

// MARK: - run

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream rows through a session step by step and print the output of every step.",
        discussion: "INPUT is a CSV file (one row of input_size numbers per step), a .npy array (T x input_size), or - for standard input (CSV). Input that holds no rows is an error.")

    @Argument(help: "A .recur file.") var model: String
    @Argument(help: "CSV, .npy or - (stdin).") var input: String = "-"
    @Flag(help: "Print the top label (or class index) and its probability instead of all outputs.") var top = false
    @Option(name: .customLong("state-in"), help: "Resume from a state snapshot written by --state-out.") var stateIn: String?
    @Option(name: .customLong("state-out"), help: "Write the final state snapshot here.") var stateOut: String?

    func run() throws {
        let m = try loadModel(model)
        let s = try Session(model: m)
        if let stateIn {
            let snap = try readInput(stateIn, what: "state snapshot")
            do { try s.restore(snapshot: snap) } catch { throw CLIError("\(stateIn): \(error)") }
        }
        let bytes = try readInput(input, what: "input")
        let I = m.config.inputSize
        var rows: [[Double]] = []
        if input.hasSuffix(".npy") {
            let a = try parseNPY(bytes, name: input)
            guard a.shape.count == 2 && a.shape[1] == I || a.shape == [I] else {
                throw CLIError("\(input): shape \(a.shape); expected (T, \(I))")
            }
            rows = stride(from: 0, to: a.count, by: I).map { Array(a.data[$0..<($0 + I)]) }
        } else {
            rows = try parseCSV(bytes, name: input == "-" ? "standard input" : input)
        }
        guard !rows.isEmpty else {
            throw CLIError("\(input == "-" ? "standard input" : input): no input rows (one row of \(I) numbers per step; recur help formats)")
        }
        for (t, r) in rows.enumerated() {
            guard r.count == I else { throw CLIError("\(input): row \(t + 1) has \(r.count) values; the model takes \(I)") }
            let y: [Float]
            do { y = try s.step(r.map { Float($0) }) } catch { throw CLIError("\(input): row \(t + 1): \(error)") }
            if top {
                var b = 0
                for k in 1..<y.count where y[k] > y[b] { b = k }
                print("\(t + 1)\t\(m.labels.isEmpty ? String(b) : m.labels[b])\t\(fmt(Double(y[b])))")
            } else {
                print(y.map { fmt(Double($0), 6) }.joined(separator: ","))
            }
        }
        if let stateOut {
            do { try FileIO.writeAtomically(path: stateOut, bytes: s.snapshot()) } catch { throw CLIError("\(error)") }
        }
    }
}

// MARK: - bench

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one step of a model (median microseconds per step) and say which kernels ran.")

    @Argument(help: "A .recur file.") var model: String
    @Option(help: "Steps per repeat (>= 1).") var steps = 20000
    @Option(help: "Repeats, the median is reported (>= 1).") var repeats = 11
    @Option(help: "Streams stepped together (1-65536).") var batch = 1
    @Option(help: "Threads each step is split across (1-16).") var threads = 1

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be >= 1 (got \(steps))") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1 (got \(repeats))") }
        guard (1...ModelLimits.maxBatch).contains(batch) else { throw ValidationError("--batch must be in 1...\(ModelLimits.maxBatch) (got \(batch))") }
        guard (1...ModelLimits.maxThreads).contains(threads) else { throw ValidationError("--threads must be in 1...\(ModelLimits.maxThreads) (got \(threads))") }
    }

    func run() throws {
        let m = try loadModel(model)
        let s = try Session(model: m, batchSize: batch)
        do { try s.setThreads(threads) } catch { throw CLIError("--threads: \(error.message)") }
        var x = [Float](repeating: 0, count: batch * m.config.inputSize)
        for i in x.indices { x[i] = Float(i % 7) * 0.1 - 0.3 }
        var y = [Float](repeating: 0, count: batch * m.config.outputSize)
        var times: [Double] = []
        let tty = isatty(2) != 0
        for r in 0...repeats {
            if tty { eprint("\r\(r == 0 ? "warm-up" : "repeat \(r)/\(repeats)")  ", newline: false) }
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            try x.withUnsafeBufferPointer { xp in
                try y.withUnsafeMutableBufferPointer { yp in
                    for _ in 0..<steps { try s.step(xp, yp) }
                }
            }
            clock_gettime(CLOCK_MONOTONIC, &t1)
            let us = (Double(t1.tv_sec - t0.tv_sec) * 1e6 + Double(t1.tv_nsec - t0.tv_nsec) / 1e3) / Double(steps)
            if r > 0 { times.append(us) }
        }
        if tty { eprint("\r                    \r", newline: false) }
        times.sort()
        let med = times[times.count / 2]
        print("\(model): \(fmt(med, 3)) us per step (median of \(repeats) x \(steps) steps, batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"), \(m.config.weightDType.name) weights, \(KernelSet.name) kernels"
            + (batch > 1 ? ", \(fmt(Double(batch) / med * 1e6, 0)) stream-steps/s" : "") + ")")
    }
}

// MARK: - convert

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rewrite a model with float32, float16 or int8 weights, or new metadata (atomic write).")

    @Argument(help: "Input .recur file.") var input: String
    @Argument(help: "Output .recur file.") var output: String
    @Option(help: "Weight storage: f32, f16 or i8 (int8 rows with per-row scales; steps use int8 kernels).") var dtype: DTypeArg = .f16
    @Option(help: "zlib level 1-9.") var level = 6
    @Option(name: .customLong("set-meta"), help: ArgumentHelp("Set a metadata entry (repeatable).", valueName: "key=value"))
    var setMeta: [MetaEntry] = []

    func validate() throws {
        guard (1...9).contains(level) else { throw ValidationError("--level must be in 1...9 (got \(level))") }
    }

    func run() throws {
        let m = try applyMetadata(try loadModel(input), setMeta)
        do { try m.save(to: output, dtype: dtype.dtype, level: level) } catch { throw CLIError("\(output): \(error)") }
        let before = try readInput(input, what: "model").count, after = try readInput(output, what: "model").count
        print("\(input) (\(m.config.weightDType.name), \(before) bytes) -> \(output) (\(dtype.rawValue), \(after) bytes)")
    }
}

// MARK: - formats

struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The layouts of the data files recur reads (also: recur help formats).",
        discussion: formatsText)

    func run() throws { print(formatsText) }
}

let formatsText = """
    DATA FILES FOR finetune AND eval

    .npz (numpy.savez or savez_compressed) with three arrays:
      inputs (or values)  (total_steps, input_size) float: every sequence's steps back to back
      lengths             (num_sequences,) integer: steps per sequence (each >= 1)
      targets             classes: integers, one per sequence (num_sequences,) or one per step
                          (total_steps,); values: floats, (num_sequences, output_size) or
                          (total_steps, output_size). --per-sequence decides when both fit.
    Class targets are 0-based indices into the head's outputs (0 ... output_size-1).
    C-order and Fortran-order arrays are both read; dtypes f4, f8, i1, i2, i4, i8, u1.

    CSV, one row per step: sequence_id, x1 ... x_input_size, target...
      Consecutive rows with the same id form a sequence. The target is one integer class
      column (cross-entropy) or output_size value columns. Targets are per step; with
      --per-sequence the last row of each sequence gives its target. Cells are separated by
      commas, semicolons, tabs or spaces; lines starting with # are skipped; a first line
      whose cells are all non-numeric is a header.

    Without --loss, the loss follows the targets: integer class targets (one column or one
    per row) mean cross_entropy, value targets mean mse. binary_cross_entropy is always
    explicit.

    INPUT OF run
      CSV (one row of input_size numbers per step, same separators), a .npy array
      (T, input_size), or - for CSV on standard input. Input without rows is an error.

    STATE FILES (run --state-in / --state-out)
      The bytes of recur_session_get_state: a snapshot bound to the model's body.

    MODELS AND ADAPTERS
      .recur files (docs/FORMAT.md in the source tree); recur inspect reads both kinds.
    """
