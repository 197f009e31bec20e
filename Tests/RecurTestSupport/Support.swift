// Helpers shared by the Swift test targets.
#if canImport(Glibc)
import Glibc
#endif

/// Deterministic PRNG for tests (SplitMix64).
public struct SplitMix: RandomNumberGenerator {
    public var state: UInt64
    public init(_ seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func float(_ lo: Float, _ hi: Float) -> Float { Float.random(in: lo..<hi, using: &self) }
}

public func randomInputs(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SplitMix(seed)
    return (0..<n).map { _ in rng.float(-scale, scale) }
}

public func bits(_ a: [Float]) -> [UInt32] { a.map { $0.bitPattern } }

public func tempDir() -> String {
    var t = Array("/tmp/recur-test-XXXXXX".utf8CString)
    let p = t.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return p.map { String(cString: $0) } ?? "/tmp"
}
