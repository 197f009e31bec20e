import Testing
@testable import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs `work` on a new POSIX thread; `join()` waits for it.
final class Worker: @unchecked Sendable {
    private var thread = pthread_t()
    private let work: () -> Void

    init(_ work: @escaping () -> Void) {
        self.work = work
        let ctx = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { p in
            guard let p else { return nil }
            let w = Unmanaged<Worker>.fromOpaque(p).takeRetainedValue()
            w.work()
            return nil
        }, ctx)
    }

    func join() { pthread_join(thread, nil) }
}

/// One result per thread: each thread writes only its own slot object (the array holding
/// the slots is never mutated), and pthread_join orders the writes before the reads.
final class Slot<T>: @unchecked Sendable {
    var value: T?
}

func slots<T>(_ n: Int) -> [Slot<T>] { (0..<n).map { _ in Slot<T>() } }

/// A flag shared between threads (C11 atomics through the GCC builtins would need a C
/// target; a mutex keeps it simple and TSan-visible).
final class Atomic32: @unchecked Sendable {
    private var v: Int32 = 0
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func load() -> Int32 {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return v
    }
    func store(_ x: Int32) {
        pthread_mutex_lock(&m)
        v = x
        pthread_mutex_unlock(&m)
    }
}

/// One model shared by 8 stepping threads while another thread fine-tunes its head and a
/// third creates and frees models and sessions; every stream's results equal a single-threaded
/// run. Steps per thread: RECUR_STRESS_STEPS (default 10,000 in `swift test`; Tests/reliability.sh runs 100,000 in a release build, and the ThreadSanitizer run uses 20,000). Run under ThreadSanitizer by
/// Tests/sanitizers.sh.
@Suite struct StressTests {
    @Test func sharedModelUnderConcurrentTrainingAndChurn() throws {
        let steps = getenv("RECUR_STRESS_STEPS").flatMap { Int(String(cString: $0)) } ?? 10_000
        let c = ModelConfig(inputSize: 8, layers: [LayerConfig(size: 16), LayerConfig(size: 12, activation: .relu)], outputSize: 4,
                            outputTransform: .softmax)
        let model = try randomModel(c, seed: 1)
        let threads = 8
        let inputs = (0..<threads).map { randomInputs(8 * 1000, seed: UInt64(10 + $0)) }
        // Single-threaded expectation: outputs at the end, and a checksum of every output.
        func stream(_ k: Int) throws -> (last: [Float], sum: Double) {
            let s = try Session(model: model)
            var sum = 0.0
            var y = [Float](repeating: 0, count: 4)
            var done = 0
            while done < steps {
                let n = min(1000, steps - done)
                var ys = [Float](repeating: 0, count: n * 4)
                try inputs[k].withUnsafeBufferPointer { xp in
                    try ys.withUnsafeMutableBufferPointer { yp in
                        try s.run(UnsafeBufferPointer(rebasing: xp[0..<(n * 8)]), steps: n, yp)
                    }
                }
                for v in ys { sum += Double(v) }
                y = Array(ys.suffix(4))
                done += n
            }
            return (y, sum)
        }
        let expected = try (0..<threads).map { try stream($0) }
        let results: [Slot<(last: [Float], sum: Double)>] = slots(threads)
        let errors: [Slot<String>] = slots(threads + 2)
        let stop = Atomic32()
        let data = TrainingData(inputs: randomInputs(8 * 200, seed: 99), lengths: Array(repeating: 10, count: 20),
                                targets: .sequenceClasses((0..<20).map { Int32($0 % 4) }))
        let trainer = Worker {
            do {
                var cfg = TrainerConfig()
                cfg.loss = .crossEntropy
                cfg.epochs = 5
                var fits = 0
                while stop.load() == 0 || fits < 2 {
                    _ = try Trainer(model: model, config: cfg).fit(data)
                    fits += 1
                }
            } catch { errors[threads].value = "\(error)" }
        }
        let churn = Worker {
            do {
                var n = 0
                while stop.load() == 0 || n < 100 {
                    let m = try randomModel(c, seed: UInt64(n))
                    let s = try Session(model: m, batchSize: 2)
                    _ = try s.step(randomInputs(16, seed: UInt64(n)))
                    let s2 = try Session(model: model)
                    _ = try s2.step(randomInputs(8, seed: UInt64(n)))
                    n += 1
                }
            } catch { errors[threads + 1].value = "\(error)" }
        }
        let workers = (0..<threads).map { k in
            Worker {
                do { results[k].value = try stream(k) } catch { errors[k].value = "\(error)" }
            }
        }
        for w in workers { w.join() }
        stop.store(1)
        trainer.join()
        churn.join()
        #expect(errors.allSatisfy { $0.value == nil }, "\(errors.map { $0.value })")
        var mismatches = 0
        for k in 0..<threads {
            guard let r = results[k].value else { continue }
            if bits(r.last) != bits(expected[k].last) || r.sum != expected[k].sum { mismatches += 1 }
        }
        #expect(mismatches == 0)
        print("stress: \(threads) threads x \(steps) steps on one model with concurrent training and churn: \(mismatches) mismatches")
    }
}
