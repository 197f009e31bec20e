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
    /// Offsets in the canonical vector, per layer: elman W (layerW), U (layerU), b (layerB);
    /// gated W_ih (layerW), W_hh (layerU), b_ih (layerB), b_hh (layerBRec), W_hr (layerP).
    /// layerW[l] is also where layer l's parameters start.
    let layerW: [Int]
    let layerU: [Int]
    let layerB: [Int]
    let layerBRec: [Int]
    let layerP: [Int]
    let headW: Int
    let headB: Int
    let count: Int

    init(_ config: ModelConfig) {
        self.config = config
        var w: [Int] = [], u: [Int] = [], b: [Int] = [], br: [Int] = [], pr: [Int] = []
        var off = 0
        for (l, layer) in config.layers.enumerated() {
            let i = config.layerInputSize(l), h = layer.size, g = layer.kind.gates * h
            w.append(off)
            off += g * i
            u.append(off)
            off += g * layer.outputWidth
            b.append(off)
            off += g
            br.append(off)
            if layer.kind != .elman { off += g }
            pr.append(off)
            off += layer.projSize * h
        }
        layerW = w
        layerU = u
        layerB = b
        layerBRec = br
        layerP = pr
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

    /// What one layer's forward step keeps for the backward pass.
    struct Cache {
        var x: [Double] = []  // the layer's input
        var hPrev: [Double] = []  // h_{t-1} (R)
        var cPrev: [Double] = []  // LSTM c_{t-1}
        var h: [Double] = []  // h_t (R): the output
        // gates: elman unused; GRU r, z, n, ghn (W_hn h + b_hn, reset after) or rh (r ⊙ h, reset
        // before); LSTM i, f, g, o, tanh(c_t), and h before the projection
        var a: [Double] = [], b: [Double] = [], c: [Double] = [], d: [Double] = [], e: [Double] = [], f: [Double] = []
    }

    /// y[r] += Σ_k m[r·cols + k] · v[k] for r < rows (row-major block at `m`).
    @inline(__always)
    static func mv(_ m: UnsafePointer<Double>, _ rows: Int, _ cols: Int, _ v: [Double], into y: inout [Double], at: Int = 0) {
        for r in 0..<rows {
            var s = 0.0
            let row = m + r * cols
            for k in 0..<cols { s += row[k] * v[k] }
            y[at + r] += s
        }
    }

    /// Gradient of a product block: g[r][k] += d[r]·v[k]; back[k] += Σ_r m[r][k]·d[r].
    @inline(__always)
    static func mvBack(_ m: UnsafePointer<Double>, _ g: UnsafeMutablePointer<Double>, _ rows: Int, _ cols: Int,
                       _ d: [Double], dAt: Int = 0, _ v: [Double], into back: inout [Double]) {
        for r in 0..<rows {
            let dr = d[dAt + r]
            if dr == 0 { continue }
            let gr = g + r * cols, mr = m + r * cols
            for k in 0..<cols {
                gr[k] += dr * v[k]
                back[k] += mr[k] * dr
            }
        }
    }

    static func sig(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

    /// `n` parameters from offset `at`.
    @inline(__always)
    static func vec(_ p: UnsafePointer<Double>, _ at: Int, _ n: Int) -> [Double] { Array(UnsafeBufferPointer(start: p + at, count: n)) }

    /// One layer's forward step; `state` is [h_{t-1} | c_{t-1}] and becomes [h_t | c_t].
    func forward(_ l: Int, _ p: UnsafePointer<Double>, _ x: [Double], _ state: inout [Double], cache: inout Cache) {
        let layer = config.layers[l]
        let H = layer.size, R = layer.outputWidth, I = x.count
        let hPrev = Array(state[0..<R])
        cache.x = x
        cache.hPrev = hPrev
        switch layer.kind {
        case .elman:
            var a = BPTT.vec(p, layerB[l], H)
            BPTT.mv(p + layerW[l], H, I, x, into: &a)
            BPTT.mv(p + layerU[l], H, H, hPrev, into: &a)
            let h = a.map { BPTT.act(layer.activation, $0) }
            cache.h = h
            state = h
        case .gru, .gruResetBefore:
            var gi = BPTT.vec(p, layerB[l], 3 * H)  // W_ih x + b_ih
            BPTT.mv(p + layerW[l], 3 * H, I, x, into: &gi)
            var gh = BPTT.vec(p, layerBRec[l], 3 * H)  // b_hh (+ W_hh h for r, z)
            BPTT.mv(p + layerU[l], 2 * H, R, hPrev, into: &gh)
            let r = (0..<H).map { BPTT.sig(gi[$0] + gh[$0]) }
            let z = (0..<H).map { BPTT.sig(gi[H + $0] + gh[H + $0]) }
            var n = [Double](repeating: 0, count: H)
            if layer.kind == .gru {
                var ghn = Array(gh[(2 * H)...])
                BPTT.mv(p + layerU[l] + 2 * H * R, H, R, hPrev, into: &ghn)
                for k in 0..<H { n[k] = tanh(gi[2 * H + k] + r[k] * ghn[k]) }
                cache.d = ghn
            } else {
                let rh = (0..<H).map { r[$0] * hPrev[$0] }
                var ghn = Array(gh[(2 * H)...])
                BPTT.mv(p + layerU[l] + 2 * H * R, H, R, rh, into: &ghn)
                for k in 0..<H { n[k] = tanh(gi[2 * H + k] + ghn[k]) }
                cache.d = rh
            }
            let h = (0..<H).map { (1 - z[$0]) * n[$0] + z[$0] * hPrev[$0] }
            (cache.a, cache.b, cache.c, cache.h) = (r, z, n, h)
            state = h
        case .lstm:
            let cPrev = Array(state[R..<(R + H)])
            var a = [Double](repeating: 0, count: 4 * H)
            for k in 0..<(4 * H) { a[k] = p[layerB[l] + k] + p[layerBRec[l] + k] }
            BPTT.mv(p + layerW[l], 4 * H, I, x, into: &a)
            BPTT.mv(p + layerU[l], 4 * H, R, hPrev, into: &a)
            let ig = (0..<H).map { BPTT.sig(a[$0]) }, fg = (0..<H).map { BPTT.sig(a[H + $0]) }
            let gg = (0..<H).map { tanh(a[2 * H + $0]) }, og = (0..<H).map { BPTT.sig(a[3 * H + $0]) }
            let c = (0..<H).map { fg[$0] * cPrev[$0] + ig[$0] * gg[$0] }
            let tc = c.map { tanh($0) }
            let hu = (0..<H).map { og[$0] * tc[$0] }
            var h = hu
            if layer.projSize > 0 {
                h = [Double](repeating: 0, count: layer.projSize)
                BPTT.mv(p + layerP[l], layer.projSize, H, hu, into: &h)
            }
            cache.cPrev = cPrev
            (cache.a, cache.b, cache.c, cache.d, cache.e, cache.f, cache.h) = (ig, fg, gg, og, tc, hu, h)
            state = h + c
        }
    }

    /// One layer's backward step: `dState` is d/d[h_t | c_t] (from above and from the future);
    /// accumulates the parameter gradient into `g`, returns d/d(input) and sets `dState` to
    /// d/d[h_{t-1} | c_{t-1}].
    func backward(_ l: Int, _ p: UnsafePointer<Double>, _ g: UnsafeMutablePointer<Double>, _ cache: Cache,
                  _ dState: inout [Double]) -> [Double] {
        let layer = config.layers[l]
        let H = layer.size, R = layer.outputWidth, I = cache.x.count
        var dx = [Double](repeating: 0, count: I)
        var dhPrev = [Double](repeating: 0, count: R)
        switch layer.kind {
        case .elman:
            let da = (0..<H).map { dState[$0] * BPTT.actDerivative(layer.activation, cache.h[$0]) }
            for k in 0..<H { g[layerB[l] + k] += da[k] }
            BPTT.mvBack(p + layerW[l], g + layerW[l], H, I, da, cache.x, into: &dx)
            BPTT.mvBack(p + layerU[l], g + layerU[l], H, H, da, cache.hPrev, into: &dhPrev)
            dState = dhPrev
        case .gru, .gruResetBefore:
            let (r, z, n, hp) = (cache.a, cache.b, cache.c, cache.hPrev)
            let dh = Array(dState[0..<H])
            var dgi = [Double](repeating: 0, count: 3 * H)  // d/d(W_ih x + b_ih)
            var dgh = [Double](repeating: 0, count: 3 * H)  // d/d(W_hh · + b_hh)
            var dr = [Double](repeating: 0, count: H)
            for k in 0..<H {
                dhPrev[k] += dh[k] * z[k]
                let dz = dh[k] * (hp[k] - n[k])
                let dn = dh[k] * (1 - z[k])
                let dan = dn * (1 - n[k] * n[k])
                dgi[2 * H + k] = dan
                if layer.kind == .gru {
                    dr[k] = dan * cache.d[k]  // ghn
                    dgh[2 * H + k] = dan * r[k]
                } else {
                    dgh[2 * H + k] = dan
                }
                dgi[H + k] = dz * z[k] * (1 - z[k])
                dgh[H + k] = dgi[H + k]
            }
            if layer.kind == .gruResetBefore {
                // n's recurrent input is rh = r ⊙ h: d(rh) = W_hnᵀ dan
                var drh = [Double](repeating: 0, count: R)
                BPTT.mvBack(p + layerU[l] + 2 * H * R, g + layerU[l] + 2 * H * R, H, R, dgh, dAt: 2 * H, cache.d, into: &drh)
                for k in 0..<H {
                    dr[k] = drh[k] * hp[k]
                    dhPrev[k] += drh[k] * r[k]
                }
            } else {
                BPTT.mvBack(p + layerU[l] + 2 * H * R, g + layerU[l] + 2 * H * R, H, R, dgh, dAt: 2 * H, hp, into: &dhPrev)
            }
            for k in 0..<H {
                dgi[k] = dr[k] * r[k] * (1 - r[k])
                dgh[k] = dgi[k]
            }
            for k in 0..<(3 * H) {
                g[layerB[l] + k] += dgi[k]
                g[layerBRec[l] + k] += dgh[k]
            }
            BPTT.mvBack(p + layerW[l], g + layerW[l], 3 * H, I, dgi, cache.x, into: &dx)
            BPTT.mvBack(p + layerU[l], g + layerU[l], 2 * H, R, dgh, hp, into: &dhPrev)
            dState = dhPrev
        case .lstm:
            let (ig, fg, gg, og, tc, hu) = (cache.a, cache.b, cache.c, cache.d, cache.e, cache.f)
            var dhu = [Double](repeating: 0, count: H)
            if layer.projSize > 0 {
                BPTT.mvBack(p + layerP[l], g + layerP[l], layer.projSize, H, Array(dState[0..<R]), hu, into: &dhu)
            } else {
                dhu = Array(dState[0..<H])
            }
            var da = [Double](repeating: 0, count: 4 * H)
            var dcPrev = [Double](repeating: 0, count: H)
            for k in 0..<H {
                let dc = dState[R + k] + dhu[k] * og[k] * (1 - tc[k] * tc[k])
                let dO = dhu[k] * tc[k]
                da[k] = dc * gg[k] * ig[k] * (1 - ig[k])
                da[H + k] = dc * cache.cPrev[k] * fg[k] * (1 - fg[k])
                da[2 * H + k] = dc * ig[k] * (1 - gg[k] * gg[k])
                da[3 * H + k] = dO * og[k] * (1 - og[k])
                dcPrev[k] = dc * fg[k]
            }
            for k in 0..<(4 * H) {
                g[layerB[l] + k] += da[k]
                g[layerBRec[l] + k] += da[k]
            }
            BPTT.mvBack(p + layerW[l], g + layerW[l], 4 * H, I, da, cache.x, into: &dx)
            BPTT.mvBack(p + layerU[l], g + layerU[l], 4 * H, R, da, cache.hPrev, into: &dhPrev)
            dState = dhPrev + dcPrev
        }
        return dx
    }

    /// Forward (and, with `grad`, backward) through one sequence of `T` steps.
    /// - `x`: T x inputSize inputs; `targetAt(t)`: whether step t has a target;
    ///   `classAt(t)` / `valuesAt(t)`: the target of step t.
    /// - `grad`: accumulates d(sum of loss terms)/dparams for parameters at or after
    ///   `trainableOffset(firstLayer:)`; nil = loss only.
    /// - `bptt`: cut the recurrent gradient every `bptt` steps (0 = full BPTT).
    /// - `frozenStates`: test hook: states ([layer][h | c]) that replace the state at truncation
    ///   boundaries (the "detached" inputs whose exact gradient the truncated backward computes).
    func sequence(
        params p: UnsafePointer<Double>, x: UnsafePointer<Float>, T: Int, loss: Loss,
        targetAt: (Int) -> Bool, classAt: (Int) -> Int, valuesAt: (Int) -> UnsafePointer<Float>?,
        grad: UnsafeMutablePointer<Double>?, firstLayer: Int, bptt: Int,
        frozenStates: [[[Double]]]? = nil, statesOut: ((Int, [[Double]]) -> Void)? = nil
    ) -> Loss.Sums {
        let L = config.layers.count
        let I = config.inputSize
        let O = config.outputSize
        let R = config.lastLayerSize
        var caches = [[Cache]](repeating: [Cache](repeating: Cache(), count: L), count: T)
        var state = config.layers.map { [Double](repeating: 0, count: $0.stateWidth) }
        var z = [Double](repeating: 0, count: O)
        var dzs = [[Double]](repeating: [], count: T)
        var sums = Loss.Sums()
        for t in 0..<T {
            if bptt > 0 && t > 0 && t % bptt == 0, let fs = frozenStates {
                state = fs[t / bptt - 1]
            }
            statesOut?(t, state)
            var input = (0..<I).map { Double(x[t * I + $0]) }
            for l in 0..<L {
                forward(l, p, input, &state[l], cache: &caches[t][l])
                input = caches[t][l].h
            }
            if targetAt(t) {
                let top = input
                for o in 0..<O {
                    var s = p[headB + o]
                    let wr = p + headW + o * R
                    for j in 0..<R { s += wr[j] * top[j] }
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

        // Backward through time: dRec[l] is d/d[h_t | c_t] of layer l from step t + 1.
        var dRec = config.layers.map { [Double](repeating: 0, count: $0.stateWidth) }
        for t in stride(from: T - 1, through: 0, by: -1) {
            var dTop = [Double](repeating: 0, count: R)
            if !dzs[t].isEmpty {
                let dz = dzs[t]
                let top = caches[t][L - 1].h
                for o in 0..<O {
                    g[headB + o] += dz[o]
                    let gr = g + headW + o * R
                    let wr = p + headW + o * R
                    for j in 0..<R {
                        gr[j] += dz[o] * top[j]
                        dTop[j] += wr[j] * dz[o]
                    }
                }
            }
            if firstLayer >= L { continue }  // head only: no gradient into the body
            let cut = bptt > 0 && t % bptt == 0
            var dOut = dTop  // d/d(output of layer l) from above
            var l = L - 1
            while l >= firstLayer {
                var dState = dRec[l]
                for k in 0..<dOut.count { dState[k] += dOut[k] }
                let dx = backward(l, p, g, caches[t][l], &dState)
                dRec[l] = cut ? dRec[l].map { _ in 0 } : dState
                dOut = dx
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
