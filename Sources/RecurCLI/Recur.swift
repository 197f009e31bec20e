import ArgumentParser
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

@main
struct RecurTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recur",
        abstract: "Inspect, run, fine-tune, evaluate, convert and benchmark recur feedback-network models.",
        discussion: "Data file layouts are documented in docs/CLI.md.",
        version: RecurVersion.string,
        subcommands: [Inspect.self, Run.self, Finetune.self, Eval.self, Convert.self, Bench.self])
}

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
    _ = snprintf(ptr: &buf, 64, "%.\(digits)f", v)
    return String(cString: buf)
}

func snprintf(ptr: UnsafeMutablePointer<CChar>, _ n: Int, _ format: String, _ v: Double) -> Int32 {
    withVaList([v]) { vsnprintf(ptr, n, format, $0) }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

// MARK: - inspect

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model's config, size, labels, metadata and checksum status.")

    @Argument(help: "A .recur file.") var model: String
    @Flag(help: "Machine-readable JSON output.") var json = false

    func run() throws {
        let bytes = try readAll(model)
        var checksums = "ok"
        let m: Model
        do {
            m = try CheckpointReader.decode(bytes)
        } catch {
            // Report whether only a checksum failed: structure still valid?
            var o = LoadOptions()
            o.verifyChecksums = false
            if [.corruptPreamble, .corruptHeader, .corruptPayload].contains(error.code),
               (try? CheckpointReader.decode(bytes, options: o)) != nil {
                checksums = "MISMATCH"
            }
            throw CLIError("\(model): \(error)" + (checksums == "MISMATCH" ? " (the structure is otherwise valid: the file is damaged)" : ""))
        }
        let raw = m.parameterCount * 4
        let ratio = Double(bytes.count) / Double(raw)
        let c = m.config
        if json {
            var s = "{\"path\":\(jsonString(model)),\"file_bytes\":\(bytes.count),\"float32_bytes\":\(raw),"
            s += "\"size_ratio\":\(fmt(ratio)),\"checksums\":\"\(checksums)\",\"input_size\":\(c.inputSize),"
            s += "\"layers\":[" + c.layers.map { "{\"size\":\($0.size),\"activation\":\"\($0.activation.name)\"}" }.joined(separator: ",") + "],"
            s += "\"output_size\":\(c.outputSize),\"output_transform\":\"\(c.outputTransform.name)\",\"weight_dtype\":\"\(c.weightDType.name)\","
            s += "\"parameters\":\(m.parameterCount),\"labels\":[" + m.labels.map(jsonString).joined(separator: ",") + "],"
            s += "\"metadata\":{" + m.metadata.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",") + "},"
            s += "\"body_fingerprint\":\"\(Hex.digits(m.bodyFingerprint))\",\"fingerprint\":\"\(Hex.digits(m.fingerprint))\"}"
            print(s)
            return
        }
        print("model        \(model)")
        print("file         \(bytes.count) bytes (\(fmt(ratio * 100, 1))% of the \(raw) bytes of raw float32 weights), checksums \(checksums)")
        print("input        \(c.inputSize)")
        for (i, l) in c.layers.enumerated() { print("layer \(i)      \(l.size) \(l.activation.name) (feedback)") }
        print("output       \(c.outputSize), transform \(c.outputTransform.name)")
        print("parameters   \(m.parameterCount), weights stored as \(c.weightDType.name)")
        print("fingerprint  body \(Hex.digits(m.bodyFingerprint)), model \(Hex.digits(m.fingerprint))")
        if !m.labels.isEmpty { print("labels       " + m.labels.joined(separator: ", ")) }
        for (k, v) in m.metadata { print("metadata     \(k): \(v)") }
    }
}

// MARK: - run

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream rows through a session step by step and print the output of every step.",
        discussion: "INPUT is a CSV file (one row of input_size numbers per step), a .npy array (T x input_size), or - for standard input (CSV).")

    @Argument(help: "A .recur file.") var model: String
    @Argument(help: "CSV, .npy or - (stdin).") var input: String = "-"
    @Flag(help: "Print the top label (or class index) and its probability instead of all outputs.") var top = false
    @Option(name: .customLong("state-in"), help: "Resume from a state snapshot written by --state-out.") var stateIn: String?
    @Option(name: .customLong("state-out"), help: "Write the final state snapshot here.") var stateOut: String?

    func run() throws {
        let m = try loadModel(model)
        let s = try Session(model: m)
        if let stateIn {
            let snap = try readAll(stateIn)
            do { try s.restore(snapshot: snap) } catch { throw CLIError("\(stateIn): \(error)") }
        }
        let bytes = try readAll(input)
        let I = m.config.inputSize
        var rows: [[Double]] = []
        if input.hasSuffix(".npy") {
            let a = try parseNPY(bytes, name: input)
            guard a.shape.count == 2 && a.shape[1] == I || a.shape == [I] else {
                throw CLIError("\(input): shape \(a.shape); expected (T, \(I))")
            }
            rows = stride(from: 0, to: a.count, by: I).map { Array(a.data[$0..<($0 + I)]) }
        } else {
            rows = try parseCSV(bytes, name: input)
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
            do { try writeAll(stateOut, s.snapshot()) }
        }
    }
}

// MARK: - bench

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time one step of a model (median microseconds per step).")

    @Argument(help: "A .recur file.") var model: String
    @Option(help: "Steps per repeat.") var steps = 20000
    @Option(help: "Repeats (the median is reported).") var repeats = 11
    @Option(help: "Streams stepped together.") var batch = 1
    @Option(help: "Threads each step is split across (1-16).") var threads = 1

    func run() throws {
        let m = try loadModel(model)
        guard steps >= 1, repeats >= 1, batch >= 1 else { throw CLIError("--steps, --repeats and --batch must be >= 1") }
        let s = try Session(model: m, batchSize: batch)
        do { try s.setThreads(threads) } catch { throw CLIError("--threads: \(error.message)") }
        var x = [Float](repeating: 0, count: batch * m.config.inputSize)
        for i in x.indices { x[i] = Float(i % 7) * 0.1 - 0.3 }
        var y = [Float](repeating: 0, count: batch * m.config.outputSize)
        var times: [Double] = []
        for r in 0...repeats {
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
        times.sort()
        let med = times[times.count / 2]
        print("\(model): \(fmt(med, 3)) us per step (median of \(repeats) x \(steps) steps, batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"), \(m.config.weightDType.name) weights" +
              (batch > 1 ? ", \(fmt(Double(batch) / med * 1e6, 0)) stream-steps/s" : "") + ")")
    }
}

// MARK: - convert

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rewrite a model with float32, float16 or int8 weights (atomic write).")

    @Argument(help: "Input .recur file.") var input: String
    @Argument(help: "Output .recur file.") var output: String
    @Option(help: "Weight storage: f32, f16 or i8 (int8 rows with per-row scales; steps use int8 kernels).") var dtype: String = "f16"
    @Option(help: "zlib level 1-9.") var level = 6

    func run() throws {
        guard let d = WeightDType(name: dtype) else { throw CLIError("--dtype must be f32, f16 or i8") }
        let m = try loadModel(input)
        do { try m.save(to: output, dtype: d, level: level) } catch { throw CLIError("\(output): \(error)") }
        let before = try readAll(input).count, after = try readAll(output).count
        print("\(input) (\(m.config.weightDType.name), \(before) bytes) -> \(output) (\(d.name), \(after) bytes)")
    }
}
