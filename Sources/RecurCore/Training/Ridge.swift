extension Trainer {
    /// Closed-form least squares of the head on the frozen features:
    /// [W b] = argmin Σ ||W f + b - t||² + λ ||W||² (the bias is not penalised), solved by
    /// Cholesky on the (H+1) x (H+1) normal equations in double precision.
    func ridge(_ feats: Features, data: TrainingData, params: inout [Double], bptt: BPTT) throws(RecurError) {
        switch data.targets {
        case .sequenceValues(let v), .stepValues(let v):
            try ridgeSolve(feats, values: v, params: &params, bptt: bptt)
        case .sequenceClasses, .stepClasses:
            throw RecurError(.invalidArgument, "ridge needs value targets")
        }
    }

    private func ridgeSolve(_ feats: Features, values: [Float], params: inout [Double], bptt: BPTT) throws(RecurError) {
        let H = feats.width
        let n = H + 1  // features + bias column
        let O = base.config.outputSize
        let hs = feats.stride
        // One Gram matrix of the augmented rows [f, 1, t] gives the normal matrix of [f, 1]
        // and the right-hand sides [f, 1]ᵀ t together: float accumulation over blocks of 64
        // rows in the register-blocked kernel, double across blocks.
        let n2 = n + O
        let s2 = Kernels.pad8(n2)
        let block = 64
        var G2 = [Double](repeating: 0, count: n2 * n2)
        let aug = try AlignedBuffer.allocate(floats: block * s2)
        defer { AlignedBuffer.free(aug) }
        values.withUnsafeBufferPointer { vp in
            G2.withUnsafeMutableBufferPointer { gp in
                guard let g = gp.baseAddress, let v = vp.baseAddress else { return }
                var r0 = 0
                while r0 < feats.rows {
                    let rows = min(block, feats.rows - r0)
                    for k in 0..<rows {
                        let row = aug + k * s2
                        row.update(from: feats.data + (r0 + k) * hs, count: H)
                        row[H] = 1
                        (row + n).update(from: v + (r0 + k) * O, count: O)
                    }
                    Kernels.gramUpper(aug, rows: rows, n: n2, stride: s2, g: g, ld: n2)
                    r0 += rows
                }
            }
        }
        var G = [Double](repeating: 0, count: n * n)
        var R = [Double](repeating: 0, count: n * O)
        for i in 0..<n {
            for j in i..<n { G[i * n + j] = G2[i * n2 + j] }
            for o in 0..<O { R[i * O + o] = G2[i * n2 + n + o] }
        }
        G[H * n + H] = Double(feats.rows)
        for i in 0..<n {
            for j in 0..<i { G[i * n + j] = G[j * n + i] }
        }
        for j in 0..<H { G[j * n + j] += config.weightDecay }
        // Cholesky G = L Lᵀ.
        for j in 0..<n {
            var d = G[j * n + j]
            for k in 0..<j { d -= G[j * n + k] * G[j * n + k] }
            guard d > 1e-12 * max(1, abs(G[j * n + j])) else {
                throw RecurError(.singular, "the ridge system is singular (feature \(j) is constant or collinear); set a positive weight decay (the ridge λ)")
            }
            let ljj = d.squareRoot()
            G[j * n + j] = ljj
            for i in (j + 1)..<max(n, j + 1) {
                var s = G[i * n + j]
                for k in 0..<j { s -= G[i * n + k] * G[j * n + k] }
                G[i * n + j] = s / ljj
            }
        }
        // Solve for each output.
        var y = [Double](repeating: 0, count: n)
        for o in 0..<O {
            for i in 0..<n {
                var s = R[i * O + o]
                for k in 0..<i { s -= G[i * n + k] * y[k] }
                y[i] = s / G[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = y[i]
                for k in (i + 1)..<max(n, i + 1) { s -= G[k * n + i] * y[k] }
                y[i] = s / G[i * n + i]
            }
            for j in 0..<H { params[bptt.headW + o * H + j] = y[j] }
            params[bptt.headB + o] = y[H]
        }
    }
}
