/// The raw recurrent state: copy out, set, and the trainer's internal view of it.
extension Session {
    /// Floats of raw state: batch x model.config.stateSize, [stream][layer][unit].
    public var hiddenCount: Int { batchSize * model.config.stateSize }

    /// Copies the raw state into `out` (exactly `hiddenCount` floats).
    public func getHidden(_ out: UnsafeMutableBufferPointer<Float>) throws(RecurError) {
        guard out.count == hiddenCount, let o = out.baseAddress else {
            throw RecurError(.lengthMismatch, "hidden buffer has \(out.count) floats; expected \(hiddenCount)")
        }
        var k = 0
        for b in 0..<batchSize {
            for (l, lay) in model.layout.enumerated() {
                let h = state + b * streamStride + layerOffsets[l] + lay.inputPad
                (o + k).update(from: h, count: lay.size)
                k += lay.size
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
            let s = state + b * streamStride
            for (l, lay) in model.layout.enumerated() {
                (s + layerOffsets[l] + lay.inputPad).update(from: src + k, count: lay.size)
                if l + 1 < model.layout.count {
                    (s + layerOffsets[l + 1]).update(from: src + k, count: lay.size)
                }
                k += lay.size
            }
        }
    }

    public func hidden() -> [Float] {
        var out = [Float](repeating: 0, count: hiddenCount)
        out.withUnsafeMutableBufferPointer { p in _ = try? getHidden(p) }
        return out
    }

    // MARK: - Internal API for the trainer's feature pass (no range checks: callers own the indices)

    /// The top layer's current state of stream `b` (`model.config.lastLayerSize` floats).
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
