/// How the model's activations and output transforms run: each maps onto a kernel of
/// Kernels/ (which know nothing of models).
extension Activation {
    /// Applies this activation in place to `count` floats (a multiple of 8, 32-byte aligned),
    /// then zeroes `v[valid ..< count]` so a row's padding stays zero.
    @inline(__always)
    func apply(_ v: UnsafeMutablePointer<Float>, valid: Int, count: Int) {
        switch self {
        case .identity: break
        case .relu: Kernels.relu(v, count: count)
        case .tanh: Kernels.tanh(v, count: count)
        case .sigmoid: Kernels.sigmoid(v, count: count)
        }
        Kernels.zero(v, from: valid, to: count)
    }
}

extension OutputTransform {
    /// Applies the head's output transform in place to `n` floats.
    @inline(__always)
    func apply(_ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .none: return
        case .sigmoid: Kernels.logistic(y, n)
        case .softmax: Kernels.softmax(y, n)
        }
    }
}
