/// int8 weight quantisation: symmetric, one float32 scale per row of each weight matrix,
/// float32 state and accumulation (docs/FORMAT.md "int8 weights").
///
/// The scale of a row with largest magnitude m is the smallest float32 s with
/// fl(127·s) ≥ m (0 for an all-zero row), and q = clamp(round-half-even(w / s), ±127).
/// This choice makes quantisation a projection: quantising the dequantised row
/// Float(q)·s gives back exactly (q, s). So a model can be carried as dequantised floats
/// (training, adapters, `parameters()`) and re-quantised without drift, and the reader can
/// insist that a file's int8 rows are in exactly this canonical form.
enum Quant {
    /// The canonical scale for a row whose largest magnitude is `m` (finite, >= 0).
    static func scale(forMax m: Float) -> Float {
        guard m > 0 else { return 0 }
        var s = m / 127
        var guardSteps = 0
        while 127 * s < m && guardSteps < 16 {
            s = s.nextUp
            guardSteps += 1
        }
        guardSteps = 0
        while s.nextDown > 0 && 127 * s.nextDown >= m && guardSteps < 16 {
            s = s.nextDown
            guardSteps += 1
        }
        return s
    }

    /// The int8 code of `w` under scale `s` (s > 0, |w| <= fl(127·s) up to rounding).
    @inline(__always)
    static func code(_ w: Float, _ s: Float) -> Int8 {
        guard s > 0 else { return 0 }
        let r = (w / s).rounded(.toNearestOrEven)
        return Int8(max(-127, min(127, r)))
    }

    /// Quantises `n` floats in place (replacing them by their dequantised values); writes
    /// the codes to `q` when given; returns the scale.
    @discardableResult
    static func quantiseRow(_ w: UnsafeMutablePointer<Float>, _ n: Int, codes q: UnsafeMutablePointer<Int8>?) -> Float {
        var m: Float = 0
        for i in 0..<n { m = max(m, abs(w[i])) }
        let s = scale(forMax: m)
        for i in 0..<n {
            let c = code(w[i], s)
            q?[i] = c
            w[i] = Float(c) * s
        }
        return s
    }

    /// Reader side: `codes` holds rows x cols int8 codes as floats; replaces them by the
    /// dequantised values after checking that the scales are finite and that every row is in
    /// the canonical form above. Returns the error instead of throwing (called in a closure).
    static func dequantise(
        rows: Int, cols: Int, codes: UnsafeMutablePointer<Float>, scales: UnsafePointer<Float>, name: String
    ) -> RecurError? {
        for r in 0..<rows {
            let s = scales[r]
            guard s.isFinite else { return RecurError(.nonFiniteWeight, "tensor \(name)[\(r)] is \(s)") }
            let row = codes + r * cols
            var m: Float = 0
            for c in 0..<cols {
                let v = row[c] * s
                guard v.isFinite else {
                    return RecurError(.nonFiniteWeight, "tensor \(name) row \(r): code \(Int(row[c])) x scale \(s) overflows float32")
                }
                m = max(m, abs(v))
            }
            let canonical = scale(forMax: m)
            var ok = canonical.bitPattern == s.bitPattern
            if ok {
                for c in 0..<cols where Float(code(row[c] * s, s)) != row[c] {
                    ok = false
                    break
                }
            }
            guard ok else {
                return RecurError(.corruptPayload, "int8 tensor \(name.dropLast(6)) row \(r) is not in canonical form (scale \(s), expected \(canonical) for its largest code; docs/FORMAT.md section 3)")
            }
            for c in 0..<cols { row[c] *= s }
        }
        return nil
    }
}
