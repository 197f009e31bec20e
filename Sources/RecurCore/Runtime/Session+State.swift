/// The raw recurrent state: copy out, set, and the trainer's internal view of it.
extension Session {
    /// Floats of raw state: batch x model.config.stateSize, laid out [stream][layer], each layer
    /// its h (outputWidth floats) then, for an LSTM layer, its cell c (size floats).
    public var hiddenCount: Int { batchSize * model.config.stateSize }

    /// Calls `run` with each run of raw state of stream `b`, in the raw-state order: per layer h,
    /// then c for LSTM; `layer` is the layer index and `isH` whether the run is h.
    @inline(__always)
    func forEachStateRun(stream b: Int, _ run: (_ p: UnsafeMutablePointer<Float>, _ count: Int, _ layer: Int, _ isH: Bool) -> Void) {
        let s = state + b * streamStride
        for (l, lay) in model.layout.enumerated() {
            run(s + layerOffsets[l] + lay.inputPad, lay.recur, l, true)
            if lay.kind == .lstm { run(s + layerOffsets[l] + lay.stride, lay.size, l, false) }
        }
    }

    /// After h of layer `l` of stream `b` changed: the copy in layer l + 1's input part follows.
    @inline(__always)
    func mirrorInput(stream b: Int, layer l: Int) {
        guard l + 1 < model.layout.count else { return }
        let s = state + b * streamStride
        (s + layerOffsets[l + 1]).update(from: s + layerOffsets[l] + model.layout[l].inputPad, count: model.layout[l].recur)
    }

    /// Copies the raw state into `out` (exactly `hiddenCount` floats).
    public func getHidden(_ out: UnsafeMutableBufferPointer<Float>) throws(RecurError) {
        guard out.count == hiddenCount, let o = out.baseAddress else {
            throw RecurError(.lengthMismatch, "hidden buffer has \(out.count) floats; expected \(hiddenCount)")
        }
        var k = 0
        for b in 0..<batchSize {
            forEachStateRun(stream: b) { p, n, _, _ in
                (o + k).update(from: p, count: n)
                k += n
            }
        }
    }

    /// Sets the raw state from `h` (exactly `hiddenCount` finite floats).
    public func setHidden(_ h: UnsafeBufferPointer<Float>) throws(RecurError) {
        guard h.count == hiddenCount, let src = h.baseAddress else {
            throw RecurError(.lengthMismatch, "hidden buffer has \(h.count) floats; expected \(hiddenCount)")
        }
        guard Kernels.allFinite(src, h.count) else {
            throw RecurError(.nonFiniteInput, "state contains NaN or Inf (state unchanged)")
        }
        var k = 0
        for b in 0..<batchSize {
            forEachStateRun(stream: b) { p, n, _, _ in
                p.update(from: src + k, count: n)
                k += n
            }
            for l in model.layout.indices { mirrorInput(stream: b, layer: l) }
        }
    }

    public func hidden() -> [Float] {
        var out = [Float](repeating: 0, count: hiddenCount)
        out.withUnsafeMutableBufferPointer { p in _ = try? getHidden(p) }
        return out
    }

    // MARK: - Internal API for the trainer's feature pass (no range checks: callers own the indices)

    /// The top layer's current output h of stream `b` (`model.config.lastLayerSize` floats).
    @inline(__always)
    func topState(stream b: Int) -> UnsafePointer<Float> {
        let last = model.layout.count - 1
        return UnsafePointer(state + b * streamStride + layerOffsets[last] + model.layout[last].inputPad)
    }

    /// Zeroes stream `b` (state and the input scratch of its first layer).
    @inline(__always)
    func zeroStream(_ b: Int) {
        (state + b * streamStride).update(repeating: 0, count: streamStride)
    }
}
