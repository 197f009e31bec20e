import Testing
@testable import RecurCore
@_exported import RecurTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Random parameters scaled like PyTorch's default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
func randomParameters(_ config: ModelConfig, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SplitMix(seed)
    var p: [Float] = []
    for s in config.tensorSpecs {
        let fan = s.shape.count == 2 ? s.shape[1] : (s.name.hasPrefix("head") ? config.lastLayerSize : s.shape[0])
        let k = scale / Float(fan).squareRoot()
        for _ in 0..<s.count { p.append(rng.float(-k, k)) }
    }
    return p
}

func randomModel(_ config: ModelConfig, seed: UInt64, labels: [String] = [], metadata: [(key: String, value: String)] = [])
    throws -> Model
{
    try Model(config: config, parameters: randomParameters(config, seed: seed), labels: labels, metadata: metadata)
}

/// Canonical parameters read in order as double-precision matrices (row-major) and vectors:
/// how the test references take a model's parameters.
struct ParameterReader {
    let p: [Float]
    var k = 0
    init(_ p: [Float]) { self.p = p }

    mutating func matrix(_ rows: Int, _ cols: Int) -> [[Double]] {
        var m: [[Double]] = []
        for _ in 0..<rows {
            m.append((0..<cols).map { Double(p[k + $0]) })
            k += cols
        }
        return m
    }

    mutating func vector(_ n: Int) -> [Double] { matrix(1, n)[0] }
}

/// Independent double-precision reference of the forward pass (written from the
/// equations, not from the engine): h_l = act(W x + U h_l + b), y = Wo h_L + bo, transform.
struct ReferenceNet {
    let config: ModelConfig
    var W: [[[Double]]] = [], U: [[[Double]]] = [], b: [[Double]] = []
    var Wo: [[Double]] = [], bo: [Double] = []
    var h: [[Double]]

    init(config: ModelConfig, parameters p: [Float]) {
        self.config = config
        var rd = ParameterReader(p)
        for (l, layer) in config.layers.enumerated() {
            W.append(rd.matrix(layer.size, config.layerInputSize(l)))
            U.append(rd.matrix(layer.size, layer.size))
            b.append(rd.vector(layer.size))
        }
        Wo = rd.matrix(config.outputSize, config.lastLayerSize)
        bo = rd.vector(config.outputSize)
        h = config.layers.map { [Double](repeating: 0, count: $0.size) }
    }

    static func act(_ a: Activation, _ v: Double) -> Double {
        switch a {
        case .tanh: return Glibc.tanh(v)
        case .relu: return max(v, 0)
        case .sigmoid: return 1 / (1 + Glibc.exp(-v))
        case .identity: return v
        }
    }

    mutating func step(_ x: [Float]) -> [Double] {
        var input = x.map { Double($0) }
        for (l, layer) in config.layers.enumerated() {
            var nh = [Double](repeating: 0, count: layer.size)
            for i in 0..<layer.size {
                var s = b[l][i]
                for j in 0..<input.count { s += W[l][i][j] * input[j] }
                for j in 0..<layer.size { s += U[l][i][j] * h[l][j] }
                nh[i] = ReferenceNet.act(layer.activation, s)
            }
            h[l] = nh
            input = nh
        }
        var y = (0..<config.outputSize).map { o in
            bo[o] + (0..<input.count).reduce(0.0) { $0 + Wo[o][$1] * input[$1] }
        }
        switch config.outputTransform {
        case .none: break
        case .sigmoid: y = y.map { 1 / (1 + Glibc.exp(-$0)) }
        case .softmax:
            let m = y.max() ?? 0
            let e = y.map { Glibc.exp($0 - m) }
            let s = e.reduce(0, +)
            y = e.map { $0 / s }
        }
        return y
    }
}

/// |a - b| <= rel * |b| + abs
func close(_ a: Float, _ b: Double, rel: Double = 1e-5, abs: Double = 1e-6) -> Bool {
    Swift.abs(Double(a) - b) <= rel * Swift.abs(b) + abs
}

/// Runs `body` expecting a RecurError with `code`.
func expectCode(_ code: RecurError.Code, _ comment: String = "", _ body: () throws(RecurError) -> Void,
                sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected \(code.name), got success \(comment)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(comment): \(error)", sourceLocation: sourceLocation)
    }
}

