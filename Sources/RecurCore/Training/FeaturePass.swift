/// The head-only fast path's first half: the frozen body runs once over the dataset on the
/// float32 session kernels and leaves the top layer's state at every target step.
extension Trainer {
    /// The frozen body's top-layer state at every target step, computed once per dataset
    /// with the float32 session kernels, padded to 8-float rows.
    struct Features {
        let rows: Int
        let width: Int  // last layer size
        let stride: Int
        let data: UnsafeMutablePointer<Float>
        let rowStart: [Int]  // first feature row of each sequence
        let rowCount: [Int]

        init(model: Model, data d: TrainingData) throws(RecurError) {
            let perStep = d.targets.perStep
            let H = model.config.lastLayerSize
            width = H
            stride = Kernels.pad8(H)
            var starts: [Int] = []
            var counts: [Int] = []
            var r = 0
            for n in d.lengths {
                starts.append(r)
                let c = perStep ? n : 1
                counts.append(c)
                r += c
            }
            rows = r
            rowStart = starts
            rowCount = counts
            let (total, o) = r.multipliedReportingOverflow(by: stride)
            guard !o else { throw RecurError(.outOfMemory, "feature matrix too large") }
            data = try AlignedBuffer.allocate(floats: total)
            // Sequences in groups of up to 32 streams of one batch session (longest first, so a
            // group's lengths are close): the batched kernel gives each stream the bits of a
            // batch-1 session. A stream whose sequence ended is reset and fed zeros.
            let I = model.config.inputSize
            let group = min(32, max(1, d.lengths.count))
            let session: Session
            let xb: UnsafeMutablePointer<Float>
            do {
                session = try Session(model: model, batchSize: group)
                xb = try AlignedBuffer.allocate(floats: group * I)
            } catch {
                AlignedBuffer.free(data)
                throw error
            }
            defer { AlignedBuffer.free(xb) }
            var firstStep: [Int] = []
            var acc = 0
            for n in d.lengths {
                firstStep.append(acc)
                acc += n
            }
            let order = d.lengths.indices.sorted { d.lengths[$0] > d.lengths[$1] || (d.lengths[$0] == d.lengths[$1] && $0 < $1) }
            var overflowed = false
            d.inputs.withUnsafeBufferPointer { xp in
                guard let xin = xp.baseAddress else { return }
                var g0 = 0
                while g0 < order.count && !overflowed {
                    let members = Array(order[g0..<min(g0 + group, order.count)])
                    session.reset()
                    xb.update(repeating: 0, count: group * I)
                    let steps = members.map { d.lengths[$0] }.max() ?? 0
                    for t in 0..<steps {
                        for (b, s) in members.enumerated() where t < d.lengths[s] {
                            (xb + b * I).update(from: xin + (firstStep[s] + t) * I, count: I)
                        }
                        if !session.stepUnchecked(xb, nil) {
                            overflowed = true
                            break
                        }
                        for (b, s) in members.enumerated() where t < d.lengths[s] {
                            let n = d.lengths[s]
                            if perStep || t == n - 1 {
                                let row = starts[s] + (perStep ? t : 0)
                                (data + row * stride).update(from: session.topState(stream: b), count: H)
                            }
                            if t == n - 1 {
                                (xb + b * I).update(repeating: 0, count: I)
                                session.zeroStream(b)
                            }
                        }
                    }
                    g0 += group
                }
            }
            if overflowed {
                AlignedBuffer.free(data)
                throw RecurError(.nonFiniteState, "the frozen body overflows float32 on this data (features would be Inf/NaN)")
            }
        }

        func free() { AlignedBuffer.free(data) }
    }
}
