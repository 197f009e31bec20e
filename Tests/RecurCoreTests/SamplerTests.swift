import Testing

@testable import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// The token sampler: greedy, the distribution at a temperature, each filter's support,
/// repetition penalty, determinism and argument checks.
@Suite struct SamplerTests {
    static func sample(_ s: Sampler, _ logits: [Float]) throws -> Int32 {
        try logits.withUnsafeBufferPointer { b throws(RecurError) in try s.sample(b) }
    }

    static func params(_ f: (inout SamplerParams) -> Void) -> SamplerParams {
        var p = SamplerParams()
        f(&p)
        return p
    }

    static let logits: [Float] = [1.0, 3.0, 0.5, 3.0, -2.0, 2.0, 0.0, 1.5]

    @Test func greedyTakesTheLargestLowestIndexOnTies() throws {
        let s = try Sampler(params: Self.params { $0.temperature = 0 })
        for _ in 0..<5 { #expect(try Self.sample(s, Self.logits) == 1) }
        let k1 = try Sampler(params: Self.params { $0.topK = 1; $0.seed = 9 })
        for _ in 0..<5 { #expect(try Self.sample(k1, Self.logits) == 1) }
    }

    /// 40,000 draws at temperature 0.7 match softmax(logits / 0.7) within 4 standard errors.
    @Test func drawsFollowTheTemperedSoftmax() throws {
        let T: Double = 0.7
        let s = try Sampler(params: Self.params { $0.temperature = Float(T); $0.seed = 5 })
        var counts = [Int](repeating: 0, count: Self.logits.count)
        let N = 40_000
        for _ in 0..<N { counts[Int(try Self.sample(s, Self.logits))] += 1 }
        let e = Self.logits.map { exp(Double($0) / T) }
        let z = e.reduce(0, +)
        for i in 0..<e.count {
            let p = e[i] / z, f = Double(counts[i]) / Double(N)
            let se = (p * (1 - p) / Double(N)).squareRoot()
            #expect(abs(f - p) <= 4 * se + 1e-4, "token \(i): frequency \(f), probability \(p)")
        }
    }

    @Test func filtersRestrictTheSupport() throws {
        func support(_ p: SamplerParams) throws -> Set<Int32> {
            let s = try Sampler(params: p)
            var seen = Set<Int32>()
            for _ in 0..<4000 { seen.insert(try Self.sample(s, Self.logits)) }
            return seen
        }
        #expect(try support(Self.params { $0.topK = 3 }) == [1, 3, 5])
        // probabilities at T = 1: 3.0, 3.0 (0.349 each), 2.0 (0.128), 1.5 (0.078), ...: top-p 0.6 keeps the two 3.0s
        #expect(try support(Self.params { $0.topP = 0.6 }) == [1, 3])
        #expect(try support(Self.params { $0.topP = 0.75 }) == [1, 3, 5])
        // min-p 0.3: e^(l - 3) >= 0.3 <=> l >= 3 + ln 0.3 = 1.796: 3.0, 3.0, 2.0
        #expect(try support(Self.params { $0.minP = 0.3 }) == [1, 3, 5])
        #expect(try support(SamplerParams()).count == Self.logits.count)
    }

    @Test func repetitionPenaltyDiscouragesRecentTokens() throws {
        let s = try Sampler(params: Self.params { $0.temperature = 0; $0.repetitionPenalty = 2; $0.repetitionLastN = 2 })
        #expect(try Self.sample(s, Self.logits) == 1)  // 3.0 -> remembered
        #expect(try Self.sample(s, Self.logits) == 3)  // 1 is now 1.5: the other 3.0
        #expect(try Self.sample(s, Self.logits) == 5)  // both penalised (1.5): 2.0 wins
        #expect(try Self.sample(s, Self.logits) == 1)  // the window of 2 holds 3 and 5 only
        try s.accept(1)
        try s.accept(3)
        #expect(try Self.sample(s, Self.logits) == 5)
        // negative logits are multiplied (pushed down), not divided
        let neg: [Float] = [-1.0, -1.2]
        let t = try Sampler(params: Self.params { $0.temperature = 0; $0.repetitionPenalty = 1.5 })
        try t.accept(0)
        #expect(try Self.sample(t, neg) == 1)  // -1.5 < -1.2
    }

    @Test func sameSeedSameTokensAndResetReplays() throws {
        let p = Self.params { $0.temperature = 1.3; $0.topP = 0.9; $0.seed = 77; $0.repetitionPenalty = 1.2 }
        let a = try Sampler(params: p), b = try Sampler(params: p)
        let ra = try (0..<200).map { _ in try Self.sample(a, Self.logits) }
        let rb = try (0..<200).map { _ in try Self.sample(b, Self.logits) }
        #expect(ra == rb)
        a.reset()
        #expect(try (0..<200).map { _ in try Self.sample(a, Self.logits) } == ra)
        let c = try Sampler(params: Self.params { $0.temperature = 1.3; $0.topP = 0.9; $0.seed = 78; $0.repetitionPenalty = 1.2 })
        #expect(try (0..<200).map { _ in try Self.sample(c, Self.logits) } != ra)
    }

    @Test func badArgumentsAreRefusedAndChangeNothing() throws {
        for bad in [Self.params { $0.temperature = -1 }, Self.params { $0.temperature = .nan }, Self.params { $0.topP = 0 },
                    Self.params { $0.topP = 1.5 }, Self.params { $0.minP = 1 }, Self.params { $0.repetitionPenalty = 0 },
                    Self.params { $0.repetitionLastN = 70_000 }, Self.params { $0.topK = -1 }] {
            #expect(throws: RecurError.self) { try Sampler(params: bad) }
        }
        let s = try Sampler(params: Self.params { $0.seed = 3 })
        let r = try Sampler(params: Self.params { $0.seed = 3 })
        #expect(throws: RecurError.self) { try Self.sample(s, [1, .nan, 2]) }
        #expect(throws: RecurError.self) { try Self.sample(s, [1, .infinity]) }
        #expect(throws: RecurError.self) { try Self.sample(s, []) }
        #expect(throws: RecurError.self) { try s.accept(-1) }
        // the failed calls consumed no draw: s and a fresh sampler agree
        #expect(try Self.sample(s, Self.logits) == Self.sample(r, Self.logits))
        #expect(try Self.sample(s, [4]) == 0)
    }
}
