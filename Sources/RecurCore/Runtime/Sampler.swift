#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a `Sampler` picks a token from a step's logits (defaults: plain sampling at
/// temperature 1, no filters).
public struct SamplerParams: Sendable, Equatable {
    /// 0: greedy (the largest logit, the lowest index on ties); else logits are divided by it.
    public var temperature: Float = 1
    /// Keep the k most likely tokens (0: all).
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Float = 1
    /// Keep tokens at least this fraction as likely as the most likely one (0: all).
    public var minP: Float = 0
    /// Logits of tokens among the last `repetitionLastN` seen are divided by this when
    /// positive and multiplied by it when negative (1: off), as in llama.cpp and CTRL.
    public var repetitionPenalty: Float = 1
    public var repetitionLastN: Int = 64
    public var seed: UInt64 = 0

    public init() {}

    public static let maxLastN = 65536

    public func validate() throws(RecurError) {
        guard temperature.isFinite && temperature >= 0 else {
            throw RecurError(.invalidArgument, "temperature \(temperature) must be finite and >= 0 (0: greedy)")
        }
        guard topK >= 0 && topK <= Int(Int32.max) else { throw RecurError(.invalidArgument, "top_k \(topK) must be >= 0 (0: off)") }
        guard topP.isFinite && topP > 0 && topP <= 1 else { throw RecurError(.invalidArgument, "top_p \(topP) must be in (0, 1] (1: off)") }
        guard minP.isFinite && minP >= 0 && minP < 1 else { throw RecurError(.invalidArgument, "min_p \(minP) must be in [0, 1) (0: off)") }
        guard repetitionPenalty.isFinite && repetitionPenalty > 0 else {
            throw RecurError(.invalidArgument, "repetition_penalty \(repetitionPenalty) must be finite and > 0 (1: off)")
        }
        guard repetitionLastN >= 0 && repetitionLastN <= SamplerParams.maxLastN else {
            throw RecurError(.invalidArgument, "repetition_last_n \(repetitionLastN) must be in 0...\(SamplerParams.maxLastN)")
        }
    }
}

/// Picks tokens from logits: repetition penalty over the recent tokens, then greedy, or
/// temperature, top-k, top-p and min-p (in that order, as Hugging Face's samplers apply them)
/// and one draw from the renormalised distribution. Deterministic: the same params (seed)
/// and the same calls give the same tokens. A sampler keeps the tokens it returned (and those
/// given to `accept`) for the repetition penalty. Its buffers grow to the largest vocabulary
/// seen and are reused. One thread at a time.
public final class Sampler {
    public let params: SamplerParams
    private var rng: SeededGenerator
    private var history: [Int32]  // ring of the last repetitionLastN tokens
    private var historyCount = 0, historyNext = 0
    private var work: [Float] = []
    private var order: [Int32] = []
    private var flags: [UInt8] = []
    private var probs: [Double] = []

    public init(params: SamplerParams) throws(RecurError) {
        try params.validate()
        self.params = params
        rng = SeededGenerator(seed: params.seed)
        history = [Int32](repeating: 0, count: params.repetitionLastN)
    }

    /// Back to the state after `init`: the history is cleared and the generator reseeded.
    public func reset() {
        rng = SeededGenerator(seed: params.seed)
        historyCount = 0
        historyNext = 0
    }

    /// Records a token the sampler did not pick (a prompt token, say) for the repetition penalty.
    public func accept(_ token: Int32) throws(RecurError) {
        guard token >= 0 else { throw RecurError(.invalidArgument, "token \(token) is negative") }
        record(token)
    }

    private func record(_ token: Int32) {
        guard !history.isEmpty else { return }
        history[historyNext] = token
        historyNext = (historyNext + 1) % history.count
        historyCount = min(historyCount + 1, history.count)
    }

    /// One token in 0..<logits.count. Logits must be finite (`.nonFiniteInput` otherwise);
    /// on an error nothing changes.
    public func sample(_ logits: UnsafeBufferPointer<Float>) throws(RecurError) -> Int32 {
        let n = logits.count
        guard n >= 1, let src = logits.baseAddress else { throw RecurError(.invalidArgument, "no logits (n is 0)") }
        guard n <= Int(Int32.max) else { throw RecurError(.invalidArgument, "\(n) logits: more than a token id can name") }
        guard Kernels.allFinite(src, n) else { throw RecurError(.nonFiniteInput, "logits contain NaN or Inf") }
        if work.count < n {
            work = [Float](repeating: 0, count: n)
            order = [Int32](repeating: 0, count: n)
            flags = [UInt8](repeating: 0, count: n)
            probs = [Double](repeating: 0, count: n)
        }
        let token: Int32 = work.withUnsafeMutableBufferPointer { w in
            order.withUnsafeMutableBufferPointer { o in
                flags.withUnsafeMutableBufferPointer { f in
                    probs.withUnsafeMutableBufferPointer { pr in pick(src, n, w, o, f, pr) }
                }
            }
        }
        record(token)
        return token
    }

    private func pick(_ src: UnsafePointer<Float>, _ n: Int, _ w: UnsafeMutableBufferPointer<Float>,
                      _ o: UnsafeMutableBufferPointer<Int32>, _ f: UnsafeMutableBufferPointer<UInt8>,
                      _ probs: UnsafeMutableBufferPointer<Double>) -> Int32 {
        for i in 0..<n { w[i] = src[i] }
        // Repetition penalty: once per distinct recent token.
        if params.repetitionPenalty != 1 && historyCount > 0 {
            let p = params.repetitionPenalty
            for k in 0..<historyCount {
                let t = Int(history[k])
                guard t < n, f[t] == 0 else { continue }
                f[t] = 1
                w[t] = w[t] > 0 ? w[t] / p : w[t] * p
            }
            for k in 0..<historyCount where Int(history[k]) < n { f[Int(history[k])] = 0 }
        }
        if params.temperature == 0 {
            var best = 0
            for i in 1..<n where w[i] > w[best] { best = i }
            return Int32(best)
        }
        let inv = 1 / Double(params.temperature)
        // Candidates: every token, most likely first when a filter needs the order (ties by index).
        var m = n
        for i in 0..<n { o[i] = Int32(i) }
        let sorted = params.topK > 0 && params.topK < n || params.topP < 1
        if sorted {
            var o = o  // the same memory; `sort` needs a var
            o.sort { a, b in w[Int(a)] != w[Int(b)] ? w[Int(a)] > w[Int(b)] : a < b }
            if params.topK > 0 { m = min(m, params.topK) }
        }
        var mx = -Double.infinity
        for k in 0..<m { mx = max(mx, Double(w[Int(o[k])])) }
        // Probabilities (unnormalised) in place, in double.
        var total = 0.0
        var pmax = 0.0
        for k in 0..<m {
            let e = exp((Double(w[Int(o[k])]) - mx) * inv)
            probs[k] = e
            total += e
            pmax = max(pmax, e)
        }
        if sorted && params.topP < 1 {
            var cum = 0.0
            var keep = m
            for k in 0..<m {
                cum += probs[k]
                if cum >= Double(params.topP) * total { keep = k + 1; break }
            }
            m = keep
        }
        if params.minP > 0 {
            let floor = Double(params.minP) * pmax
            for k in 0..<m where probs[k] < floor { probs[k] = 0 }
        }
        total = 0
        for k in 0..<m { total += probs[k] }
        let r = Double(rng.next() >> 11) * 0x1p-53 * total
        var acc = 0.0
        var last = 0
        for k in 0..<m where probs[k] > 0 {
            acc += probs[k]
            last = k
            if r < acc { return o[k] }
        }
        return o[last]
    }
}
