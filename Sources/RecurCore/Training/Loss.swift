#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training losses. Raw values are the C `RECUR_LOSS_*` constants. Losses act on the
/// head's raw output z: MSE on z, cross-entropy on softmax(z), binary cross-entropy on
/// sigmoid(z) (computed in the numerically stable logit form). Each is the mean over the
/// targets of a mini-batch (and over outputs for MSE and BCE), as in PyTorch.
public enum Loss: Int32, Sendable, CaseIterable {
    case mse = 0
    case crossEntropy = 1
    case binaryCrossEntropy = 2

    public var name: String {
        switch self {
        case .mse: return "mse"
        case .crossEntropy: return "cross_entropy"
        case .binaryCrossEntropy: return "binary_cross_entropy"
        }
    }

    /// Per-batch sums: loss, number of loss terms (the normaliser), and the metric parts.
    struct Sums {
        var loss = 0.0
        var terms = 0  // targets (CE) or target elements (MSE, BCE)
        var rows = 0  // target rows
        var correct = 0  // CE: argmax hits; BCE: element hits
        var squaredError = 0.0  // MSE: Σ (z - t)^2
        mutating func add(_ o: Sums) {
            loss += o.loss
            terms += o.terms
            rows += o.rows
            correct += o.correct
            squaredError += o.squaredError
        }
    }

    /// Loss term and dL/dz for one target row of raw outputs `z` (O values).
    /// `dz` receives the gradient of the *summed* loss.
    @inline(__always)
    static func term(
        _ loss: Loss, z: UnsafePointer<Double>, o: Int, classTarget: Int, values: UnsafePointer<Float>?,
        dz: UnsafeMutablePointer<Double>?, sums: inout Sums
    ) {
        sums.rows += 1
        switch loss {
        case .mse:
            guard let t = values else { return }
            for k in 0..<o {
                let d = z[k] - Double(t[k])
                sums.loss += d * d
                sums.squaredError += d * d
                dz?[k] = 2 * d
            }
            sums.terms += o
        case .crossEntropy:
            var m = z[0]
            var best = 0
            for k in 1..<max(o, 1) where z[k] > m {
                m = z[k]
                best = k
            }
            var s = 0.0
            for k in 0..<o { s += exp(z[k] - m) }
            let lse = m + log(s)
            sums.loss += lse - z[classTarget]
            sums.terms += 1
            if best == classTarget { sums.correct += 1 }
            if let dz {
                for k in 0..<o { dz[k] = exp(z[k] - lse) - (k == classTarget ? 1 : 0) }
            }
        case .binaryCrossEntropy:
            guard let t = values else { return }
            for k in 0..<o {
                let x = z[k], y = Double(t[k])
                // -[y log σ(x) + (1-y) log(1-σ(x))] = max(x,0) - x y + log(1 + e^{-|x|})
                sums.loss += max(x, 0) - x * y + log1p(exp(-abs(x)))
                let sig = 1 / (1 + exp(-x))
                if (sig > 0.5) == (y > 0.5) { sums.correct += 1 }
                dz?[k] = sig - y
            }
            sums.terms += o
        }
    }
}
