// Support/: the engine's shared ground (standard library only).

/// Deterministic generator for shuffling and initialisation (SplitMix64).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-bound, bound), from the top 24 bits (exact in Float).
    mutating func uniform(_ bound: Float) -> Float {
        let u = Float(next() >> 40) / Float(1 << 24)
        return (2 * u - 1) * bound
    }

    /// Fisher-Yates shuffle with this generator (the same on every platform).
    mutating func shuffle(_ a: inout [Int]) {
        var i = a.count - 1
        while i > 0 {
            let j = Int(next() % UInt64(i + 1))
            a.swapAt(i, j)
            i -= 1
        }
    }
}
