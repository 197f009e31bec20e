#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SGD (momentum, Nesterov), Adam and AdamW over a Double parameter vector, with the
/// semantics of PyTorch's `torch.optim` (L2 weight decay added to the gradient for SGD
/// and Adam, decoupled for AdamW; Adam bias correction).
struct Optimizer {
    let config: TrainerConfig
    var m: [Double]
    var v: [Double]
    var t = 0

    init(config: TrainerConfig, count: Int) {
        self.config = config
        m = [Double](repeating: 0, count: count)
        v = config.optimizer == .sgd ? [] : [Double](repeating: 0, count: count)
    }

    /// Global-norm clipping (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
    @discardableResult
    static func clip(_ g: UnsafeMutableBufferPointer<Double>, maxNorm: Double) -> Double {
        var s = 0.0
        for x in g { s += x * x }
        let norm = s.squareRoot()
        if maxNorm > 0 && norm > maxNorm {
            let k = maxNorm / (norm + 1e-6)
            for i in g.indices { g[i] *= k }
        }
        return norm
    }

    /// One update of `p` (the trainable slice) with gradient `g` (same length).
    mutating func step(_ p: UnsafeMutableBufferPointer<Double>, _ g: UnsafeMutableBufferPointer<Double>) {
        t += 1
        let lr = config.learningRate
        let wd = config.weightDecay
        switch config.optimizer {
        case .sgd:
            let mu = config.momentum
            for i in 0..<p.count {
                var d = g[i] + wd * p[i]
                if mu > 0 {
                    m[i] = t == 1 ? d : mu * m[i] + d
                    d = config.nesterov ? d + mu * m[i] : m[i]
                }
                p[i] -= lr * d
            }
        case .adam, .adamw:
            let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon
            let c1 = 1 - pow(b1, Double(t)), c2 = 1 - pow(b2, Double(t))
            let decoupled = config.optimizer == .adamw
            for i in 0..<p.count {
                var d = g[i]
                if decoupled {
                    p[i] *= 1 - lr * wd
                } else {
                    d += wd * p[i]
                }
                m[i] = b1 * m[i] + (1 - b1) * d
                v[i] = b2 * v[i] + (1 - b2) * d * d
                p[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
            }
        case .ridge:
            break
        }
    }
}
