#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// BPTT: the double-precision forward pass and backpropagation through time over the canonical
/// parameter vector (docs/DESIGN.md §3.2 and §4.2): gradients flow from the head into
/// the top layer, down through the stacked layers (W) and back in time through the
/// feedback weights (U), with the activation derivatives at every step. Used for scopes
/// `top(k)` and `all`, and as the exact oracle of the gradient tests.
struct BPTT {
    let config: ModelConfig
    let layerW: [Int]  // offset of W_l in the canonical vector
    let layerU: [Int]
    let layerB: [Int]
    let headW: Int
    let headB: Int
    let count: Int

    init(_ config: ModelConfig) {
        self.config = config
        var w: [Int] = [], u: [Int] = [], b: [Int] = []
        var off = 0
        for (l, layer) in config.layers.enumerated() {
            let i = config.layerInputSize(l)
            w.append(off)
            off += layer.size * i
            u.append(off)
            off += layer.size * layer.size
            b.append(off)
            off += layer.size
        }
        layerW = w
        layerU = u
        layerB = b
        headW = off
        off += config.outputSize * config.lastLayerSize
        headB = off
        off += config.outputSize
        count = off
    }

    /// Offset of the first parameter that trains when layers below `first` are frozen
    /// (trainable parameters are always a suffix of the canonical vector).
    func trainableOffset(firstLayer first: Int) -> Int {
        first >= config.layers.count ? headW : layerW[first]
    }

    /// Forward (and, with `grad`, backward) through one sequence of `T` steps.
    /// - `x`: T x inputSize inputs; `targetAt(t)`: whether step t has a target;
    ///   `classAt(t)` / `valuesAt(t)`: the target of step t.
    /// - `grad`: accumulates d(sum of loss terms)/dparams for parameters at or after
    ///   `trainableOffset(firstLayer:)`; nil = loss only.
    /// - `bptt`: cut the recurrent gradient every `bptt` steps (0 = full BPTT).
    /// - `frozenStates`: test hook: states that replace h_{t-1} at truncation boundaries
    ///   (the "detached" inputs whose exact gradient the truncated backward computes).
    func sequence(
        params p: UnsafePointer<Double>, x: UnsafePointer<Float>, T: Int, loss: Loss,
        targetAt: (Int) -> Bool, classAt: (Int) -> Int, valuesAt: (Int) -> UnsafePointer<Float>?,
        grad: UnsafeMutablePointer<Double>?, firstLayer: Int, bptt: Int,
        frozenStates: [[[Double]]]? = nil, statesOut: ((Int, [[Double]]) -> Void)? = nil
    ) -> Loss.Sums {
        let L = config.layers.count
        let I = config.inputSize
        let O = config.outputSize
        let sizes = config.layers.map { $0.size }
        // h[t][l] for every step (needed by the backward pass).
        var hs = [[[Double]]](repeating: [], count: T)
        var prev = sizes.map { [Double](repeating: 0, count: $0) }
        var z = [Double](repeating: 0, count: O)
        var dzs = [[Double]](repeating: [], count: T)
        var sums = Loss.Sums()
        for t in 0..<T {
            if bptt > 0 && t > 0 && t % bptt == 0, let fs = frozenStates {
                prev = fs[t / bptt - 1]
            }
            statesOut?(t, prev)
            var cur: [[Double]] = []
            cur.reserveCapacity(L)
            for l in 0..<L {
                let H = sizes[l]
                let inN = config.layerInputSize(l)
                var h = [Double](repeating: 0, count: H)
                let xin: [Double] = l == 0 ? (0..<I).map { Double(x[t * I + $0]) } : cur[l - 1]
                for i in 0..<H {
                    var a = p[layerB[l] + i]
                    let wr = p + layerW[l] + i * inN
                    for j in 0..<inN { a += wr[j] * xin[j] }
                    let ur = p + layerU[l] + i * H
                    for j in 0..<H { a += ur[j] * prev[l][j] }
                    h[i] = BPTT.act(config.layers[l].activation, a)
                }
                cur.append(h)
            }
            hs[t] = cur
            prev = cur
            if targetAt(t) {
                let top = cur[L - 1]
                let Hl = sizes[L - 1]
                for o in 0..<O {
                    var s = p[headB + o]
                    let wr = p + headW + o * Hl
                    for j in 0..<Hl { s += wr[j] * top[j] }
                    z[o] = s
                }
                var dz = [Double](repeating: 0, count: O)
                z.withUnsafeBufferPointer { zp in
                    dz.withUnsafeMutableBufferPointer { dp in
                        guard let zb = zp.baseAddress else { return }
                        Loss.term(
                            loss, z: zb, o: O, classTarget: classAt(t), values: valuesAt(t),
                            dz: grad == nil ? nil : dp.baseAddress, sums: &sums)
                    }
                }
                dzs[t] = dz
            }
        }
        guard let g = grad else { return sums }

        // Backward through time.
        var dhRec = sizes.map { [Double](repeating: 0, count: $0) }
        let zeros = sizes.map { [Double](repeating: 0, count: $0) }
        for t in stride(from: T - 1, through: 0, by: -1) {
            var dh = dhRec
            if !dzs[t].isEmpty {
                let dz = dzs[t]
                let top = hs[t][L - 1]
                let Hl = sizes[L - 1]
                for o in 0..<O {
                    g[headB + o] += dz[o]
                    let gr = g + headW + o * Hl
                    let wr = p + headW + o * Hl
                    for j in 0..<Hl {
                        gr[j] += dz[o] * top[j]
                        dh[L - 1][j] += wr[j] * dz[o]
                    }
                }
            }
            let cut = bptt > 0 && t % bptt == 0
            if firstLayer >= L {
                continue  // head only: no gradient into the body
            }
            var l = L - 1
            while l >= firstLayer {
                let H = sizes[l]
                let inN = config.layerInputSize(l)
                let h = hs[t][l]
                let hPrev: [Double]
                if t == 0 {
                    hPrev = zeros[l]
                } else if cut, let fs = frozenStates {
                    hPrev = fs[t / bptt - 1][l]
                } else {
                    hPrev = hs[t - 1][l]
                }
                let xin: [Double] = l == 0 ? (0..<I).map { Double(x[t * I + $0]) } : hs[t][l - 1]
                var da = [Double](repeating: 0, count: H)
                for i in 0..<H { da[i] = dh[l][i] * BPTT.actDerivative(config.layers[l].activation, h[i]) }
                var rec = [Double](repeating: 0, count: H)
                var down = [Double](repeating: 0, count: inN)
                for i in 0..<H where da[i] != 0 {
                    let d = da[i]
                    g[layerB[l] + i] += d
                    let gw = g + layerW[l] + i * inN
                    let pw = p + layerW[l] + i * inN
                    for j in 0..<inN {
                        gw[j] += d * xin[j]
                        down[j] += pw[j] * d
                    }
                    let gu = g + layerU[l] + i * H
                    let pu = p + layerU[l] + i * H
                    for j in 0..<H {
                        gu[j] += d * hPrev[j]
                        rec[j] += pu[j] * d
                    }
                }
                dhRec[l] = cut ? zeros[l] : rec
                if l > 0 {
                    for j in 0..<inN { dh[l - 1][j] += down[j] }
                }
                l -= 1
            }
        }
        return sums
    }

    @inline(__always)
    static func act(_ a: Activation, _ v: Double) -> Double {
        switch a {
        case .tanh: return tanh(v)
        case .relu: return v > 0 ? v : 0
        case .sigmoid: return 1 / (1 + exp(-v))
        case .identity: return v
        }
    }

    /// Derivative expressed through the output h = act(a).
    @inline(__always)
    static func actDerivative(_ a: Activation, _ h: Double) -> Double {
        switch a {
        case .tanh: return 1 - h * h
        case .relu: return h > 0 ? 1 : 0
        case .sigmoid: return h * (1 - h)
        case .identity: return 1
        }
    }

    /// Loss sums (and gradient of the summed loss) over the given sequences of `data`.
    func batch(
        params: [Double], data: TrainingData, starts: [Int], sequences: ArraySlice<Int>, loss: Loss,
        grad: UnsafeMutablePointer<Double>?, firstLayer: Int, bptt: Int
    ) -> Loss.Sums {
        var total = Loss.Sums()
        let I = config.inputSize
        let O = config.outputSize
        params.withUnsafeBufferPointer { pp in
            data.inputs.withUnsafeBufferPointer { xp in
                guard let p = pp.baseAddress, let xb = xp.baseAddress else { return }
                for s in sequences {
                    let T = data.lengths[s]
                    let start = starts[s]
                    let x = xb + start * I
                    let perStep = data.targets.perStep
                    func has(_ t: Int) -> Bool { perStep || t == T - 1 }
                    let row: (Int) -> Int = { t in perStep ? start + t : s }
                    var sums = Loss.Sums()
                    switch data.targets {
                    case .sequenceClasses(let c), .stepClasses(let c):
                        sums = c.withUnsafeBufferPointer { cp in
                            sequence(
                                params: p, x: x, T: T, loss: loss, targetAt: has, classAt: { Int(cp[row($0)]) },
                                valuesAt: { _ in nil }, grad: grad, firstLayer: firstLayer, bptt: bptt)
                        }
                    case .sequenceValues(let v), .stepValues(let v):
                        sums = v.withUnsafeBufferPointer { vp in
                            sequence(
                                params: p, x: x, T: T, loss: loss, targetAt: has, classAt: { _ in 0 },
                                valuesAt: { t in vp.baseAddress.map { $0 + row(t) * O } },
                                grad: grad, firstLayer: firstLayer, bptt: bptt)
                        }
                    }
                    total.add(sums)
                }
            }
        }
        return total
    }
}
