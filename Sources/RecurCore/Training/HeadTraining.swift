/// The head-only fast path's second half: epochs of the head on cached features (batched
/// outputs, register-blocked gradient), through the trainer's shared epoch loop.
extension Trainer {
    func headLoop(
        _ feats: Features, data: TrainingData, params: inout [Double], bptt: BPTT,
        progress: ((TrainingProgress) -> Bool)?
    ) throws(RecurError) {
        let O = base.config.outputSize
        let hs = feats.stride
        let H = feats.width
        let offset = bptt.headW
        let w = try AlignedBuffer.allocate(floats: O * hs + Kernels.pad8(O))  // float head weights, then bias
        let gw = try AlignedBuffer.allocate(floats: O * hs + Kernels.pad8(O))
        // One sequence's rows at a time: their outputs z and float dz.
        let maxRows = max(1, feats.rowCount.max() ?? 1)
        let zb = try AlignedBuffer.allocate(floats: maxRows * O)
        let db = try AlignedBuffer.allocate(floats: maxRows * O)
        defer {
            AlignedBuffer.free(w)
            AlignedBuffer.free(gw)
            AlignedBuffer.free(zb)
            AlignedBuffer.free(db)
        }
        func loadHead(_ p: [Double]) {
            for o in 0..<O {
                for j in 0..<H { w[o * hs + j] = Float(p[bptt.headW + o * H + j]) }
                w[O * hs + o] = Float(p[bptt.headB + o])
            }
        }
        loadHead(params)
        var dz = [Double](repeating: 0, count: O)
        var zd = [Double](repeating: 0, count: O)
        let (classes, values) = data.targets.arrays
        try trainLoop(sequences: data.sequenceCount, params: &params, offset: offset, progress: progress, afterUpdate: loadHead) {
            (batch, _, grad) throws(RecurError) in
            gw.update(repeating: 0, count: O * hs + Kernels.pad8(O))
            var sums = Loss.Sums()
            values.withUnsafeBufferPointer { vp in
                for s in batch {
                    let r0 = feats.rowStart[s]
                    let cnt = feats.rowCount[s]
                    let f0 = feats.data + r0 * hs
                    // All rows of the sequence at once: the batched kernel gives each row the
                    // bits of a matrix-vector product.
                    Kernels.gemmBias(rows: O, cols: hs, w: w, stride: hs, x: f0, xStride: hs, n: cnt,
                                     bias: w + O * hs, out: zb, outStride: O)
                    for k in 0..<cnt {
                        let row = r0 + k
                        for o in 0..<O { zd[o] = Double(zb[k * O + o]) }
                        zd.withUnsafeBufferPointer { zp in
                            dz.withUnsafeMutableBufferPointer { dp in
                                guard let zbase = zp.baseAddress else { return }
                                Loss.term(
                                    config.loss, z: zbase, o: O, classTarget: classes.isEmpty ? 0 : Int(classes[row]),
                                    values: vp.baseAddress.map { $0 + row * O }, dz: dp.baseAddress, sums: &sums)
                            }
                        }
                        for o in 0..<O {
                            let d = Float(dz[o])
                            db[k * O + o] = d
                            gw[O * hs + o] += d
                        }
                    }
                    // gw[o] += Σ_k dz[k][o] f[k]: each element summed in row order exactly as a
                    // per-row axpy, with the gradient rows held in registers.
                    Kernels.accumulateOuter(gw, outputs: O, width: hs, f: f0, rows: cnt, d: db)
                }
            }
            for o in 0..<O {
                for j in 0..<H { grad[bptt.headW + o * H + j] = Double(gw[o * hs + j]) }
                grad[bptt.headB + o] = Double(gw[O * hs + o])
            }
            return sums
        }
    }
}
