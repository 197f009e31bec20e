import ArgumentParser
import RecurCore

// MARK: - create

/// A comma-separated list of values (`--layers 128,128`, `--cell gru,lstm`).
struct CommaList: ExpressibleByArgument {
    let items: [String]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else { return nil }
        items = parts
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a model from scratch, initialised from a seed as PyTorch initialises the same modules.",
        discussion: """
            Every parameter of a recurrent layer is uniform in ±1/sqrt(H) (H the layer size), the \
            head's in ±1/sqrt(its input width): nn.RNN / nn.GRU / nn.LSTM and nn.Linear defaults. \
            The same seed gives the same bytes on every machine (recur_model_init). \
            Example: recur create m.recur --input 12 --layers 64,64 --cell gru --outputs 9 \
            --transform softmax --seed 1
            """)

    @Argument(help: "Output .recur file (written atomically).") var output: String
    @Option(help: "Input width (1-65536).") var input: Int
    @Option(help: ArgumentHelp("Layer sizes, bottom first.", valueName: "H,H,...")) var layers: CommaList
    @Option(help: "Outputs of the head (1-65536).") var outputs: Int
    @Option(help: ArgumentHelp("Layer kind: elman, gru, gru_reset_before or lstm; one for all layers or one per layer.",
                               valueName: "kind[,kind...]"))
    var cell: CommaList = CommaList(argument: "elman")!
    @Option(help: "Activation of elman layers: tanh, relu, sigmoid or identity.") var activation = "tanh"
    @Option(help: "Projection size of lstm layers (0: none; 1 ... size-1).") var proj = 0
    @Option(help: "Output transform: none, softmax or sigmoid.") var transform = "none"
    @Option(help: ArgumentHelp("Class labels, one per output.", valueName: "a,b,...")) var labels: CommaList?
    @Option(help: "Weight storage and compute type: f32, f16 (storage) or i8.") var dtype: DTypeArg = .f32
    @Option(help: "Seed of the initial parameters (0 ... 2^64-1).") var seed: UInt64 = 0
    @Option(name: .customLong("set-meta"), help: ArgumentHelp("Set a metadata entry (repeatable).", valueName: "key=value"))
    var setMeta: [MetaEntry] = []

    func config() throws -> ModelConfig {
        var sizes: [Int] = []
        for s in layers.items {
            guard let v = Int(s), v >= 1, v <= ModelLimits.maxWidth else {
                throw ValidationError("--layers: \"\(s)\" is not a size in 1...\(ModelLimits.maxWidth)")
            }
            sizes.append(v)
        }
        guard sizes.count <= ModelLimits.maxLayers else {
            throw ValidationError("--layers: \(sizes.count) layers; at most \(ModelLimits.maxLayers)")
        }
        guard cell.items.count == 1 || cell.items.count == sizes.count else {
            throw ValidationError("--cell: give one kind or one per layer (\(sizes.count)), not \(cell.items.count)")
        }
        var kinds: [LayerKind] = []
        for k in cell.items {
            guard let kind = LayerKind(name: k) else {
                throw ValidationError("--cell: \"\(k)\" is not elman, gru, gru_reset_before or lstm")
            }
            kinds.append(kind)
        }
        guard let act = Activation(name: activation) else {
            throw ValidationError("--activation: \"\(activation)\" is not tanh, relu, sigmoid or identity")
        }
        guard let tr = OutputTransform(name: transform) else {
            throw ValidationError("--transform: \"\(transform)\" is not none, softmax or sigmoid")
        }
        guard (1...ModelLimits.maxWidth).contains(input) else { throw ValidationError("--input must be in 1...\(ModelLimits.maxWidth) (got \(input))") }
        guard (1...ModelLimits.maxWidth).contains(outputs) else { throw ValidationError("--outputs must be in 1...\(ModelLimits.maxWidth) (got \(outputs))") }
        guard proj >= 0 else { throw ValidationError("--proj must be >= 0 (got \(proj))") }
        var ls: [LayerConfig] = []
        for (i, size) in sizes.enumerated() {
            let kind = kinds.count == 1 ? kinds[0] : kinds[i]
            if kind == .elman {
                ls.append(LayerConfig(size: size, activation: act))
            } else {
                if kind == .lstm && proj > 0 && proj >= size {
                    throw ValidationError("--proj \(proj) must be smaller than the lstm layer (\(size))")
                }
                ls.append(LayerConfig(kind: kind, size: size, projSize: kind == .lstm ? proj : 0))
            }
        }
        if proj > 0 && !ls.contains(where: { $0.kind == .lstm }) {
            throw ValidationError("--proj applies to lstm layers; this model has none")
        }
        if let labels, labels.items.count != outputs {
            throw ValidationError("--labels: \(labels.items.count) labels for \(outputs) outputs")
        }
        return ModelConfig(inputSize: input, layers: ls, outputSize: outputs, outputTransform: tr, weightDType: dtype.dtype)
    }

    func validate() throws { _ = try config() }

    func run() throws {
        let c = try config()
        let m: Model
        do {
            m = try Model.initialized(
                config: c, seed: seed, labels: labels?.items ?? [], metadata: setMeta.map { (key: $0.key, value: $0.value) })
        } catch {
            throw CLIError("\(error)")
        }
        do { try m.save(to: output) } catch { throw CLIError("\(output): \(error)") }
        let size = try readInput(output, what: "model").count
        let desc = c.layers.map { l in
            l.kind == .elman ? "\(l.size) \(l.activation.name)" : "\(l.size) \(l.kind.name)" + (l.projSize > 0 ? "(proj \(l.projSize))" : "")
        }.joined(separator: ", ")
        print("\(output): \(c.inputSize) -> [\(desc)] -> \(c.outputSize) \(c.outputTransform.name), \(c.parameterCount) parameters "
              + "(\(c.weightDType.name)), seed \(seed), \(size) bytes")
    }
}
