/// State snapshots: the bytes of `recur_session_get_state` / `_set_state` (docs/FORMAT.md
/// section 8): magic, version, body fingerprint, batch size, float count, the floats, CRC-32.
extension Session {
    static let snapshotMagic: UInt32 = 0x5453_4352  // "RCST" little-endian
    static let snapshotVersion: UInt32 = 1
    static let snapshotHeaderBytes = 4 + 4 + 8 + 8 + 8

    /// Size in bytes of a snapshot of this session.
    public var snapshotSize: Int { Session.snapshotHeaderBytes + 4 * hiddenCount + 4 }

    /// Writes a snapshot (bound to the model body and batch size, CRC-protected) into
    /// `out`, which must hold at least `snapshotSize` bytes. Returns the bytes written.
    @discardableResult
    public func writeSnapshot(into out: UnsafeMutableRawBufferPointer) throws(RecurError) -> Int {
        let n = snapshotSize
        guard out.count >= n, let base = out.baseAddress else {
            throw RecurError(.bufferTooSmall, "snapshot needs \(n) bytes; buffer has \(out.count)")
        }
        var w = ByteWriter(base)
        w.u32(Session.snapshotMagic)
        w.u32(Session.snapshotVersion)
        w.u64(model.bodyFingerprint)
        w.u64(UInt64(batchSize))
        w.u64(UInt64(hiddenCount))
        for b in 0..<batchSize {
            forEachStateRun(stream: b) { p, n, _, _ in
                for i in 0..<n { w.u32(p[i].bitPattern) }
            }
        }
        let crc = Checksum.crc32(UnsafeRawBufferPointer(start: base, count: w.offset))
        w.u32(crc)
        return w.offset
    }

    public func snapshot() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: snapshotSize)
        bytes.withUnsafeMutableBytes { p in _ = try? writeSnapshot(into: p) }
        return bytes
    }

    /// Restores a snapshot; the state is unchanged on any error.
    public func restore(snapshot: UnsafeRawBufferPointer) throws(RecurError) {
        guard snapshot.count >= Session.snapshotHeaderBytes + 4, let base = snapshot.baseAddress else {
            throw RecurError(.lengthMismatch, "snapshot of \(snapshot.count) bytes is shorter than a snapshot header")
        }
        var r = ByteReader(base)
        guard r.u32() == Session.snapshotMagic else {
            throw RecurError(.stateMismatch, "not a recur state snapshot (bad magic)")
        }
        let version = r.u32()
        guard version == Session.snapshotVersion else {
            throw RecurError(.stateMismatch, "snapshot version \(version) not supported (expected \(Session.snapshotVersion))")
        }
        let fp = r.u64()
        let batch = r.u64()
        let count = r.u64()
        guard fp == model.bodyFingerprint else {
            throw RecurError(.stateMismatch, "snapshot was taken from a model with another body (fingerprint \(Hex.prefixed(fp)), this model \(Hex.prefixed(model.bodyFingerprint)))")
        }
        guard batch == UInt64(batchSize) else {
            throw RecurError(.stateMismatch, "snapshot holds \(batch) streams; this session has \(batchSize)")
        }
        guard count == UInt64(hiddenCount), snapshot.count == snapshotSize else {
            throw RecurError(.lengthMismatch, "snapshot is \(snapshot.count) bytes; expected \(snapshotSize)")
        }
        let crcStored = UnsafeRawPointer(base + snapshotSize - 4).loadUnaligned(as: UInt32.self).littleEndian
        let crc = Checksum.crc32(UnsafeRawBufferPointer(start: base, count: snapshotSize - 4))
        guard crc == crcStored else {
            throw RecurError(.corruptPayload, "snapshot CRC-32 mismatch (stored \(Hex.prefixed(crcStored)), computed \(Hex.prefixed(crc)))")
        }
        // Validate every value before touching the state.
        var check = r
        for _ in 0..<hiddenCount where !Float(bitPattern: check.u32()).isFinite {
            throw RecurError(.nonFiniteInput, "snapshot contains NaN or Inf")
        }
        for b in 0..<batchSize {
            forEachStateRun(stream: b) { p, n, _, _ in
                for i in 0..<n { p[i] = Float(bitPattern: r.u32()) }
            }
            for l in model.layout.indices { mirrorInput(stream: b, layer: l) }
        }
    }

    public func restore(snapshot bytes: [UInt8]) throws(RecurError) {
        let r: Result<Void, RecurError> = bytes.withUnsafeBytes { p in
            do throws(RecurError) { try restore(snapshot: p); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
    }
}
