/// Labelled sequences for training and evaluation, passed together without padding:
/// `inputs` holds every sequence's steps back to back (Σ lengths × inputSize floats) and
/// `lengths` the number of steps of each.
public struct TrainingData: Sendable {
    public var inputs: [Float]
    public var lengths: [Int]
    public var targets: Targets

    /// What the model should produce.
    public enum Targets: Sendable {
        /// One class index per sequence (from the last step): cross-entropy classification.
        case sequenceClasses([Int32])
        /// One class index per step (Σ lengths entries): sequence labelling.
        case stepClasses([Int32])
        /// One vector of outputSize values per sequence (from the last step).
        case sequenceValues([Float])
        /// One vector of outputSize values per step (Σ lengths × outputSize).
        case stepValues([Float])

        public var perStep: Bool {
            switch self {
            case .stepClasses, .stepValues: return true
            case .sequenceClasses, .sequenceValues: return false
            }
        }

        /// The class indices (empty for value targets) and the values (empty for classes).
        var arrays: (classes: [Int32], values: [Float]) {
            switch self {
            case .sequenceClasses(let c), .stepClasses(let c): return (c, [])
            case .sequenceValues(let v), .stepValues(let v): return ([], v)
            }
        }

        public var isClasses: Bool {
            switch self {
            case .sequenceClasses, .stepClasses: return true
            case .sequenceValues, .stepValues: return false
            }
        }
    }

    public init(inputs: [Float], lengths: [Int], targets: Targets) {
        self.inputs = inputs
        self.lengths = lengths
        self.targets = targets
    }

    public var sequenceCount: Int { lengths.count }
    public var totalSteps: Int { lengths.reduce(0, +) }

    /// Offsets (in steps) where each sequence starts.
    var starts: [Int] {
        var s: [Int] = []
        s.reserveCapacity(lengths.count)
        var acc = 0
        for n in lengths {
            s.append(acc)
            acc += n
        }
        return s
    }

    /// Checks every size against the model and the loss; nothing is trusted.
    func validate(inputSize: Int, outputSize: Int, loss: Loss) throws(RecurError) {
        guard !lengths.isEmpty else { throw RecurError(.invalidArgument, "no training sequences") }
        var total = 0
        for (i, n) in lengths.enumerated() {
            guard n >= 1 && n <= 1 << 24 else {
                throw RecurError(.invalidArgument, "sequence \(i) has length \(n) (allowed 1...\(1 << 24))")
            }
            total += n
        }
        let (want, o) = total.multipliedReportingOverflow(by: inputSize)
        guard !o, inputs.count == want else {
            throw RecurError(.lengthMismatch, "inputs hold \(inputs.count) floats; lengths sum to \(total) steps x input \(inputSize) = \(o ? -1 : want)")
        }
        for (i, v) in inputs.enumerated() where !v.isFinite {
            throw RecurError(.nonFiniteInput, "inputs[\(i)] is \(v)")
        }
        switch targets {
        case .sequenceClasses(let c), .stepClasses(let c):
            guard loss == .crossEntropy else {
                throw RecurError(.invalidArgument, "class-index targets need the cross-entropy loss (got \(loss.name))")
            }
            let need = targets.perStep ? total : lengths.count
            guard c.count == need else {
                throw RecurError(.lengthMismatch, "\(c.count) class targets; expected \(need) (one per \(targets.perStep ? "step" : "sequence"))")
            }
            for (i, k) in c.enumerated() where k < 0 || Int(k) >= outputSize {
                throw RecurError(.invalidArgument, "class target \(i) is \(k); the head has \(outputSize) classes")
            }
        case .sequenceValues(let v), .stepValues(let v):
            guard loss != .crossEntropy else {
                throw RecurError(.invalidArgument, "cross-entropy needs class-index targets, not values")
            }
            let rows = targets.perStep ? total : lengths.count
            let (need, o2) = rows.multipliedReportingOverflow(by: outputSize)
            guard !o2, v.count == need else {
                throw RecurError(.lengthMismatch, "\(v.count) target values; expected \(rows) x output \(outputSize) = \(o2 ? -1 : need)")
            }
            for (i, x) in v.enumerated() where !x.isFinite {
                throw RecurError(.nonFiniteInput, "target value \(i) is \(x)")
            }
            if loss == .binaryCrossEntropy {
                for (i, x) in v.enumerated() where x < 0 || x > 1 {
                    throw RecurError(.invalidArgument, "binary cross-entropy target \(i) is \(x), outside [0, 1]")
                }
            }
        }
    }
}

/// Optimizers. Raw values are `RECUR_OPT_*`.
public enum OptimizerKind: Int32, Sendable, CaseIterable {
    case sgd = 0
    case adam = 1
    case adamw = 2
    /// Closed-form ridge regression of the head (MSE, scope head only).
    case ridge = 3

    public var name: String {
        switch self {
        case .sgd: return "sgd"
        case .adam: return "adam"
        case .adamw: return "adamw"
        case .ridge: return "ridge"
        }
    }
}

/// Which parameters train.
public enum TrainingScope: Equatable, Sendable {
    /// The output head only (the body is frozen; its features are computed once).
    case head
    /// The top `k` feedback layers and the head.
    case top(Int)
    /// Every parameter (e.g. pretraining).
    case all
}

/// Trainer settings. Defaults: Adam, lr 1e-3, 10 epochs, batch 32, shuffle, seed 0,
/// scope head, full BPTT.
public struct TrainerConfig: Sendable, Equatable {
    public var loss: Loss = .mse
    public var optimizer: OptimizerKind = .adam
    public var learningRate: Double = 1e-3
    public var momentum: Double = 0
    public var nesterov = false
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    /// L2 penalty: added to the gradient for SGD/Adam, decoupled for AdamW, the ridge λ.
    public var weightDecay: Double = 0
    /// Clip the global gradient norm to this value (0 = off).
    public var clipNorm: Double = 0
    public var batchSize = 32
    public var epochs = 10
    public var shuffle = true
    public var seed: UInt64 = 0
    public var scope: TrainingScope = .head
    /// Truncated BPTT: cut the gradient through the state every k steps (0 = full).
    public var bpttSteps = 0
    /// Report progress after every mini-batch too (not only every epoch).
    public var progressEveryBatch = false

    public init() {}

    func validate(layers: Int) throws(RecurError) {
        func bad(_ m: String) -> RecurError { RecurError(.invalidArgument, m) }
        guard learningRate.isFinite && learningRate > 0 || optimizer == .ridge else { throw bad("learning rate \(learningRate) must be finite and > 0") }
        guard momentum.isFinite && momentum >= 0 && momentum < 1 else { throw bad("momentum \(momentum) must be in [0, 1)") }
        guard !nesterov || (optimizer == .sgd && momentum > 0) else { throw bad("nesterov needs SGD with momentum > 0") }
        guard beta1.isFinite && beta1 >= 0 && beta1 < 1, beta2.isFinite && beta2 >= 0 && beta2 < 1 else { throw bad("Adam betas must be in [0, 1)") }
        guard epsilon.isFinite && epsilon > 0 else { throw bad("epsilon must be > 0") }
        guard weightDecay.isFinite && weightDecay >= 0 else { throw bad("weight decay \(weightDecay) must be finite and >= 0") }
        guard clipNorm.isFinite && clipNorm >= 0 else { throw bad("clip norm \(clipNorm) must be finite and >= 0") }
        guard batchSize >= 1 && batchSize <= 1 << 24 else { throw bad("batch size \(batchSize) must be in 1...\(1 << 24)") }
        guard epochs >= 1 && epochs <= 1 << 20 else { throw bad("epochs \(epochs) must be in 1...\(1 << 20)") }
        guard bpttSteps >= 0 else { throw bad("bptt steps \(bpttSteps) must be >= 0") }
        if case .top(let k) = scope {
            guard k >= 1 && k <= layers else { throw bad("scope top \(k): the model has \(layers) layers") }
        }
        if optimizer == .ridge {
            guard scope == .head else { throw bad("the ridge optimizer fits the head only (scope head)") }
            guard loss == .mse else { throw bad("the ridge optimizer needs the MSE loss") }
        }
    }

    /// Index of the lowest trainable layer (layers.count = head only).
    func firstTrainableLayer(layers: Int) -> Int {
        switch scope {
        case .head: return layers
        case .top(let k): return layers - k
        case .all: return 0
        }
    }
}

/// What a progress callback receives.
public struct TrainingProgress: Sendable {
    public var epoch: Int  // 1-based
    public var epochs: Int
    public var step: Int  // optimizer steps so far
    /// Mean training loss over the epoch so far (per batch when reporting batches).
    public var loss: Double
    /// Training accuracy (classification) or RMSE (values) over the epoch so far.
    public var metric: Double
    public var endOfEpoch: Bool
}

/// Loss and a metric on some data.
public struct Evaluation: Sendable, Equatable {
    public var loss: Double
    /// Accuracy for class targets, nil otherwise.
    public var accuracy: Double?
    /// Root mean squared error for value targets, nil otherwise.
    public var rmse: Double?
    public var count: Int
}
