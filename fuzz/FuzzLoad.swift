// libFuzzer target over the load-from-memory path of the checkpoint reader (and, for valid
// models, a step, an adapter application and a snapshot restore).
//
// Modes (RECUR_FUZZ_MODE):
//   asis  the input is loaded as it is (checksums verified): exercises the preamble checks;
//   crc   the harness first recomputes the three CRC-32s (when the preamble's lengths fit), so
//         mutations reach the JSON header parser, the schema and the tensor table.
// Built by fuzz/build.sh with `swiftc -sanitize=fuzzer,address` together with RecurCore's
// sources.

#if canImport(Glibc)
import Glibc
#endif
import CZlib

private let crcMode: Bool = {
    guard let m = getenv("RECUR_FUZZ_MODE") else { return false }
    return String(cString: m) == "crc"
}()

/// Bases for adapters and snapshots (make_corpus.py writes seeds for both from the same
/// weights): an elman 3-4-2 and an LSTM 3-6(proj 2)-2, whose snapshots carry a cell state.
private let baseModels: [Model] = [
    ModelConfig(inputSize: 3, layers: [LayerConfig(size: 4)], outputSize: 2),
    ModelConfig(inputSize: 3, layers: [.lstm(6, proj: 2)], outputSize: 2),
].compactMap { c in try? Model(config: c, parameters: (0..<c.parameterCount).map { Float($0 % 7) * 0.1 - 0.3 }) }

private func crc(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ n: Int) -> UInt32 {
    guard let base = b.baseAddress else { return 0 }
    return UInt32(truncatingIfNeeded: crc32(0, base + from, uInt(n)))
}

private func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
    for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
}

/// Recomputes header, payload and preamble CRCs in place (structure-aware mode).
private func fixChecksums(_ b: inout [UInt8]) {
    guard b.count >= 40 else { return }
    let hl = Int(b[16]) | Int(b[17]) << 8 | Int(b[18]) << 16 | Int(b[19]) << 24
    var pl = 0
    for k in 0..<8 { pl |= Int(b[24 + k]) << (8 * k) }
    if hl >= 0 && hl <= b.count - 40 {
        let hc = b.withUnsafeBufferPointer { crc($0, 40, hl) }
        put32(&b, 20, hc)
        if pl >= 0 && pl <= b.count - 40 - hl {
            let pc = b.withUnsafeBufferPointer { crc($0, 40 + hl, pl) }
            put32(&b, 32, pc)
        }
    }
    let prc = b.withUnsafeBufferPointer { crc($0, 0, 36) }
    put32(&b, 36, prc)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func recurFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 0 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if crcMode { fixChecksums(&bytes) }
    if let m = try? CheckpointReader.decode(bytes) {
        // A model that loads must run and survive the rest of the API.
        if let s = try? Session(model: m, batchSize: 2) {
            let x = [Float](repeating: 0.5, count: 2 * m.config.inputSize)
            _ = try? s.step(x)
            let snap = s.snapshot()
            _ = try? s.restore(snapshot: snap)
        }
        _ = try? m.checkpointBytes()
    }
    for base in baseModels {
        _ = try? base.applyingAdapter(bytes)
        if let s = try? Session(model: base) { _ = try? s.restore(snapshot: bytes) }
    }
    return 0
}
