/// Activation of a feedback layer. Raw values are the C `RECUR_ACT_*` constants.
public enum Activation: Int32, Sendable, CaseIterable {
    case tanh = 0
    case relu = 1
    case sigmoid = 2
    case identity = 3

    /// Name used in checkpoints ("tanh", "relu", "sigmoid", "identity").
    public var name: String {
        switch self {
        case .tanh: return "tanh"
        case .relu: return "relu"
        case .sigmoid: return "sigmoid"
        case .identity: return "identity"
        }
    }

    public init?(name: String) {
        guard let a = Activation.allCases.first(where: { $0.name == name }) else { return nil }
        self = a
    }
}

/// Transform applied to the head's output. Raw values are `RECUR_OUTPUT_*`.
public enum OutputTransform: Int32, Sendable, CaseIterable {
    case none = 0
    case softmax = 1
    case sigmoid = 2

    public var name: String {
        switch self {
        case .none: return "none"
        case .softmax: return "softmax"
        case .sigmoid: return "sigmoid"
        }
    }

    public init?(name: String) {
        guard let t = OutputTransform.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }
}

/// Storage type of weight matrices. Raw values are `RECUR_DTYPE_*`. Biases are always
/// float32. f32 and f16 are storage only (in memory everything is float32); i8 is also a
/// compute type: the model holds int8 rows with per-row scales, its parameters are the
/// dequantised values, and steps use the int8 kernels (see `Quant`).
public enum WeightDType: Int32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case i8 = 2

    public var name: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .i8: "i8"
        }
    }

    public var itemSize: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .i8: 1
        }
    }

    public init?(name: String) {
        switch name {
        case "f32": self = .f32
        case "f16": self = .f16
        case "i8": self = .i8
        default: return nil
        }
    }
}

/// The cell of a layer. Raw values are the C `RECUR_LAYER_*` constants. The equations (those of
/// PyTorch's `nn.RNN`, `nn.GRU` and `nn.LSTM`) are in docs/FORMAT.md section 2.3.
public enum LayerKind: Int32, Sendable, CaseIterable {
    /// The plain feedback layer: h' = act(W x + U h + b).
    case elman = 0
    /// PyTorch's GRU: the reset gate multiplies (W_hn h + b_hn).
    case gru = 1
    /// The GRU variant of ONNX `linear_before_reset=0` and Keras `reset_after=False`: the reset
    /// gate multiplies h before W_hn.
    case gruResetBefore = 2
    /// PyTorch's LSTM, gates i, f, g, o, with an optional projection of h.
    case lstm = 3

    /// Name in checkpoints and the CLI.
    public var name: String {
        switch self {
        case .elman: "elman"
        case .gru: "gru"
        case .gruResetBefore: "gru_reset_before"
        case .lstm: "lstm"
        }
    }

    public init?(name: String) {
        guard let k = LayerKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    /// Gate blocks of H rows in the stacked weight matrices (1 for elman).
    public var gates: Int {
        switch self {
        case .elman: 1
        case .gru, .gruResetBefore: 3
        case .lstm: 4
        }
    }

    /// The `requires` feature a checkpoint with this kind lists (nil for elman).
    public var feature: String? {
        switch self {
        case .elman: nil
        case .gru, .gruResetBefore: "gru"
        case .lstm: "lstm"
        }
    }
}

/// One feedback layer: its cell kind, width H, activation (elman layers only; gated layers use
/// the cell's own sigmoid and tanh and report tanh) and, for LSTM, an optional projection size P.
public struct LayerConfig: Equatable, Sendable {
    public var size: Int
    public var activation: Activation
    public var kind: LayerKind
    /// LSTM only: 0 (no projection) or 1 ..< size; the layer's output and recurrent input are
    /// then P wide.
    public var projSize: Int

    public init(size: Int, activation: Activation = .tanh) {
        self.size = size
        self.activation = activation
        self.kind = .elman
        self.projSize = 0
    }

    public init(kind: LayerKind, size: Int, activation: Activation = .tanh, projSize: Int = 0) {
        self.size = size
        self.activation = activation
        self.kind = kind
        self.projSize = projSize
    }

    /// A GRU layer (`resetBefore`: the ONNX/Keras variant).
    public static func gru(_ size: Int, resetBefore: Bool = false) -> LayerConfig {
        LayerConfig(kind: resetBefore ? .gruResetBefore : .gru, size: size)
    }

    /// An LSTM layer, optionally with a projection of `proj` units.
    public static func lstm(_ size: Int, proj: Int = 0) -> LayerConfig {
        LayerConfig(kind: .lstm, size: size, projSize: proj)
    }

    /// Width of the layer's output (the next layer's input, the head's input when last) and of
    /// its recurrent input: P for a projected LSTM, else H.
    public var outputWidth: Int { kind == .lstm && projSize > 0 ? projSize : size }

    /// Floats of recurrent state per stream: h (outputWidth), then the cell c (H) for LSTM.
    public var stateWidth: Int { outputWidth + (kind == .lstm ? size : 0) }
}

/// Hard limits of a model (mirrored by `RECUR_MAX_*` in the header).
public enum ModelLimits {
    public static let maxLayers = 64
    public static let maxWidth = 65536
    public static let maxBatch = 65536
    /// Threads one session may split a step across (recur_session_set_threads).
    public static let maxThreads = 16
    public static let maxLabelBytes = 256
    public static let maxMetadataEntries = 256
    public static let maxMetadataKeyBytes = 128
    public static let maxMetadataValueBytes = 65536
}

/// The shape of a model: input size, feedback layers, head size, output transform
/// and checkpoint storage type.
public struct ModelConfig: Equatable, Sendable {
    public var inputSize: Int
    public var layers: [LayerConfig]
    public var outputSize: Int
    public var outputTransform: OutputTransform
    public var weightDType: WeightDType

    public init(
        inputSize: Int, layers: [LayerConfig], outputSize: Int,
        outputTransform: OutputTransform = .none, weightDType: WeightDType = .f32
    ) {
        self.inputSize = inputSize
        self.layers = layers
        self.outputSize = outputSize
        self.outputTransform = outputTransform
        self.weightDType = weightDType
    }

    /// Checks every size against the hard limits.
    public func validate() throws(RecurError) {
        guard (1...ModelLimits.maxWidth).contains(inputSize) else {
            throw RecurError(.badConfig, "input_size \(inputSize) is outside 1...\(ModelLimits.maxWidth)")
        }
        guard (1...ModelLimits.maxLayers).contains(layers.count) else {
            throw RecurError(.badConfig, "layer count \(layers.count) is outside 1...\(ModelLimits.maxLayers)")
        }
        for (i, l) in layers.enumerated() {
            guard (1...ModelLimits.maxWidth).contains(l.size) else {
                throw RecurError(.badConfig, "layer \(i) size \(l.size) is outside 1...\(ModelLimits.maxWidth)")
            }
            if l.kind != .elman && l.activation != .tanh {
                throw RecurError(.badConfig, "layer \(i) is \(l.kind.name): its activations are fixed (sigmoid gates, tanh); the activation must be tanh, not \(l.activation.name)")
            }
            if l.projSize != 0 {
                guard l.kind == .lstm else {
                    throw RecurError(.badConfig, "layer \(i) is \(l.kind.name): only LSTM layers take a projection (proj_size \(l.projSize))")
                }
                guard l.projSize >= 1 && l.projSize < l.size else {
                    throw RecurError(.badConfig, "layer \(i): proj_size \(l.projSize) must be 1...\(l.size - 1) (smaller than the layer's \(l.size) units)")
                }
            }
        }
        guard (1...ModelLimits.maxWidth).contains(outputSize) else {
            throw RecurError(.badConfig, "output_size \(outputSize) is outside 1...\(ModelLimits.maxWidth)")
        }
    }

    /// Input width of layer `l` (the previous layer's output width).
    public func layerInputSize(_ l: Int) -> Int { l == 0 ? inputSize : layers[l - 1].outputWidth }

    /// Output width of the last layer: the head's input (its size, or a projected LSTM's P).
    public var lastLayerSize: Int { layers.last?.outputWidth ?? 0 }

    /// Floats of recurrent state per stream: per layer h, then c for LSTM layers.
    public var stateSize: Int { layers.reduce(0) { $0 + $1.stateWidth } }

    /// True when every layer is a plain feedback layer (the 1.0 format, no `requires` entry).
    public var allElman: Bool { layers.allSatisfy { $0.kind == .elman } }

    /// The tensors of this config in canonical order (the order of `recur_model_create`).
    /// Valid only for a validated config (sizes then fit comfortably in Int).
    public var tensorSpecs: [TensorSpec] {
        var specs: [TensorSpec] = []
        for (l, layer) in layers.enumerated() {
            let i = layerInputSize(l)
            let h = layer.size
            if layer.kind == .elman {
                specs.append(TensorSpec(name: "layers.\(l).w_in", shape: [h, i], isMatrix: true))
                specs.append(TensorSpec(name: "layers.\(l).w_rec", shape: [h, h], isMatrix: true))
                specs.append(TensorSpec(name: "layers.\(l).bias", shape: [h], isMatrix: false))
                continue
            }
            // PyTorch's parameters in PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh,
            // weight_hr (projected LSTM); gate blocks stacked r, z, n (GRU) or i, f, g, o (LSTM).
            let g = layer.kind.gates * h
            specs.append(TensorSpec(name: "layers.\(l).w_in", shape: [g, i], isMatrix: true))
            specs.append(TensorSpec(name: "layers.\(l).w_rec", shape: [g, layer.outputWidth], isMatrix: true))
            specs.append(TensorSpec(name: "layers.\(l).bias_in", shape: [g], isMatrix: false))
            specs.append(TensorSpec(name: "layers.\(l).bias_rec", shape: [g], isMatrix: false))
            if layer.projSize > 0 {
                specs.append(TensorSpec(name: "layers.\(l).w_proj", shape: [layer.projSize, h], isMatrix: true))
            }
        }
        specs.append(TensorSpec(name: "head.weight", shape: [outputSize, lastLayerSize], isMatrix: true))
        specs.append(TensorSpec(name: "head.bias", shape: [outputSize], isMatrix: false))
        return specs
    }

    /// Total parameter count (valid config only).
    public var parameterCount: Int { tensorSpecs.reduce(0) { $0 + $1.count } }
}

/// Name and shape of one tensor the config requires.
public struct TensorSpec: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    /// Weight matrices take the storage dtype; biases are always f32.
    public let isMatrix: Bool
    public var count: Int { shape.reduce(1, *) }
}
