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

/// One feedback layer: its width and activation.
public struct LayerConfig: Equatable, Sendable {
    public var size: Int
    public var activation: Activation

    public init(size: Int, activation: Activation = .tanh) {
        self.size = size
        self.activation = activation
    }
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
        for (i, l) in layers.enumerated() where !(1...ModelLimits.maxWidth).contains(l.size) {
            throw RecurError(.badConfig, "layer \(i) size \(l.size) is outside 1...\(ModelLimits.maxWidth)")
        }
        guard (1...ModelLimits.maxWidth).contains(outputSize) else {
            throw RecurError(.badConfig, "output_size \(outputSize) is outside 1...\(ModelLimits.maxWidth)")
        }
    }

    /// Input width of layer `l`.
    public func layerInputSize(_ l: Int) -> Int { l == 0 ? inputSize : layers[l - 1].size }

    /// Width of the last layer (the head's input).
    public var lastLayerSize: Int { layers.last?.size ?? 0 }

    /// Floats of recurrent state per stream.
    public var stateSize: Int { layers.reduce(0) { $0 + $1.size } }

    /// The tensors of this config in canonical order (the order of `recur_model_create`).
    /// Valid only for a validated config (sizes then fit comfortably in Int).
    public var tensorSpecs: [TensorSpec] {
        var specs: [TensorSpec] = []
        for (l, layer) in layers.enumerated() {
            let i = layerInputSize(l)
            specs.append(TensorSpec(name: "layers.\(l).w_in", shape: [layer.size, i], isMatrix: true))
            specs.append(TensorSpec(name: "layers.\(l).w_rec", shape: [layer.size, layer.size], isMatrix: true))
            specs.append(TensorSpec(name: "layers.\(l).bias", shape: [layer.size], isMatrix: false))
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
