/// Reading `.recur` checkpoints. Validation follows docs/FORMAT.md "Validation" in
/// order; nothing is allocated in proportion to a number before that number is
/// checked against a limit.
public enum CheckpointReader {
    /// Decodes a checkpoint held in memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer, options: LoadOptions = LoadOptions())
        throws(RecurError) -> Model
    {
        let (plan, params) = try decodeContainer(bytes, options: options, kind: .model)
        return try Model(config: plan.config, parameters: params, labels: plan.labels, metadata: plan.metadata)
    }

    /// Validates a container of `kind` and returns its plan and decoded float parameters.
    static func decodeContainer(_ bytes: UnsafeRawBufferPointer, options: LoadOptions, kind: ContainerKind)
        throws(RecurError) -> (HeaderPlan, [Float])
    {
        try options.validate()
        let size = bytes.count
        guard size <= options.maxFileSize else {
            throw RecurError(.fileTooLarge, "checkpoint is \(size) bytes; max_file_size is \(options.maxFileSize)")
        }
        guard size >= CheckpointFormat.preambleSize, let base = bytes.baseAddress else {
            throw RecurError(.truncated, "checkpoint is \(size) bytes; the preamble alone is \(CheckpointFormat.preambleSize)")
        }
        // 1. Magic.
        for i in 0..<8 where bytes[i] != CheckpointFormat.magic[i] {
            throw RecurError(.badMagic, "not a recur checkpoint (magic bytes differ\(foreignFormatHint(bytes)))")
        }
        var r = ByteReader(base + 8)
        let major = r.u16()
        let minor = r.u16()
        let flags = r.u32()
        let headerLen = Int(r.u32())
        let headerCRC = r.u32()
        let payloadLen64 = r.u64()
        let payloadCRC = r.u32()
        let preambleCRC = r.u32()
        // 2. Preamble CRC.
        if options.verifyChecksums {
            let crc = Checksum.crc32(UnsafeRawBufferPointer(start: base, count: 36))
            guard crc == preambleCRC else {
                throw RecurError(.corruptPreamble, "preamble CRC-32 mismatch (stored \(Hex.prefixed(preambleCRC)), computed \(Hex.prefixed(crc)))")
            }
        }
        // 3. Version and flags.
        guard major != 0 else {
            throw RecurError(.unsupportedVersion, "checkpoint major version 0 is not a valid version")
        }
        guard major <= CheckpointFormat.versionMajor else {
            let swapped = major.byteSwapped
            let hint = (swapped >= 1 && swapped <= CheckpointFormat.versionMajor)
                ? " (looks byte-swapped: written big-endian? the format is little-endian)" : ""
            throw RecurError(.unsupportedVersion, "checkpoint version \(major).\(minor); this reader supports major <= \(CheckpointFormat.versionMajor)\(hint)")
        }
        guard flags == 0 else {
            throw RecurError(.unsupportedFeature, "checkpoint sets must-understand flags \(Hex.prefixed(flags)) unknown to this reader")
        }
        // 4. Sizes.
        guard headerLen >= 1 && headerLen <= options.maxHeaderSize else {
            throw RecurError(.headerSize, "header_len \(headerLen) is outside 1...\(options.maxHeaderSize)")
        }
        guard payloadLen64 <= UInt64(Int.max) else {
            throw RecurError(.truncated, "payload_len \(payloadLen64) exceeds the file (\(size) bytes)")
        }
        let payloadLen = Int(payloadLen64)
        let (t1, o1) = CheckpointFormat.preambleSize.addingReportingOverflow(headerLen)
        let (total, o2) = t1.addingReportingOverflow(payloadLen)
        guard !o1 && !o2 && total <= size else {
            throw RecurError(.truncated, "preamble + header_len \(headerLen) + payload_len \(payloadLen64) exceeds the file size \(size)")
        }
        guard total == size else {
            throw RecurError(.trailingData, "\(size - total) bytes follow the payload")
        }
        guard payloadLen >= 1 else {
            throw RecurError(.corruptPayload, "payload is empty")
        }
        let header = UnsafeRawBufferPointer(start: base + CheckpointFormat.preambleSize, count: headerLen)
        let payload = UnsafeRawBufferPointer(start: base + CheckpointFormat.preambleSize + headerLen, count: payloadLen)
        // 5. Section CRCs.
        if options.verifyChecksums {
            let hc = Checksum.crc32(header)
            guard hc == headerCRC else {
                throw RecurError(.corruptHeader, "header CRC-32 mismatch (stored \(Hex.prefixed(headerCRC)), computed \(Hex.prefixed(hc)))")
            }
            let pc = Checksum.crc32(payload)
            guard pc == payloadCRC else {
                throw RecurError(.corruptPayload, "payload CRC-32 mismatch (stored \(Hex.prefixed(payloadCRC)), computed \(Hex.prefixed(pc)))")
            }
        }
        // 6. Header text and JSON.
        if let bad = firstInvalidUTF8(header) {
            throw RecurError(.headerUTF8, "header is not valid UTF-8 (byte \(bad))")
        }
        let json = try JSON.parse(header)
        // 7. Schema, tensor table, config.
        let plan = try HeaderSchema.check(json, options: options, payloadLen: payloadLen, kind: kind)
        // 8. Inflate into a buffer of exactly the declared (checked) size.
        let raw = try Zlib.inflateExact(payload, expected: plan.uncompressedLen)
        // 9. Unshuffle and decode into canonical float parameters (int8 codes first, then
        // each int8 matrix is checked against its scales and dequantised).
        var params = [Float](repeating: 0, count: plan.parameterCount)
        let bad: RecurError? = raw.withUnsafeBufferPointer { src in
            params.withUnsafeMutableBufferPointer { dst in
                guard let s0 = src.baseAddress, let d0 = dst.baseAddress else { return nil }
                for t in plan.tensors where t.scaleCols == 0 {
                    Shuffle.unshuffle(s0 + t.offset, count: t.count, dtype: t.dtype, into: d0 + t.canonicalOffset)
                    if t.dtype == .i8 || Kernels.allFinite(d0 + t.canonicalOffset, t.count) { continue }
                    for i in 0..<t.count where !d0[t.canonicalOffset + i].isFinite {
                        return RecurError(.nonFiniteWeight, "tensor \(t.name)[\(i)] is \(d0[t.canonicalOffset + i])")
                    }
                }
                var scales = [Float](repeating: 0, count: 1)
                for t in plan.tensors where t.scaleCols > 0 {
                    scales = [Float](repeating: 0, count: t.count)
                    let e: RecurError? = scales.withUnsafeMutableBufferPointer { sp in
                        guard let sb = sp.baseAddress else { return nil }
                        Shuffle.unshuffle(s0 + t.offset, count: t.count, dtype: .f32, into: sb)
                        return Quant.dequantise(rows: t.count, cols: t.scaleCols, codes: d0 + t.canonicalOffset, scales: sb, name: t.name)
                    }
                    if let e { return e }
                }
                return nil
            }
        }
        if let bad { throw bad }
        return (plan, params)
    }

    public static func decode(_ bytes: [UInt8], options: LoadOptions = LoadOptions()) throws(RecurError) -> Model {
        let r: Result<Model, RecurError> = bytes.withUnsafeBytes { p in
            do throws(RecurError) { return .success(try decode(p, options: options)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Reads and decodes a checkpoint file (read once, bounded to max_file_size + 1).
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws(RecurError) -> Model {
        try options.validate()
        let bytes = try FileIO.readFile(path: path, maxSize: options.maxFileSize)
        do {
            return try decode(bytes, options: options)
        } catch {
            throw RecurError(error.code, "\(path): \(error.message)")
        }
    }

    static func foreignFormatHint(_ b: UnsafeRawBufferPointer) -> String {
        if b.count >= 4 && b[0] == 0x47 && b[1] == 0x47 && b[2] == 0x55 && b[3] == 0x46 { return "; this is a GGUF file" }
        if b.count >= 4 && b[0] == 0x50 && b[1] == 0x4B && b[2] == 0x03 && b[3] == 0x04 {
            return "; this is a zip archive (npz / PyTorch .pt?)"
        }
        if b.count >= 9 && b[8] == UInt8(ascii: "{") { return "; this looks like a safetensors file" }
        if b.count >= 6 && b[0] == 0x93 && b[1] == 0x4E && b[2] == 0x55 { return "; this is a NumPy .npy file" }
        if b.count >= 8 && b[0] == 0x89 && b[1] == 0x52 && b[2] == 0x45 && b[3] == 0x43 && b[4] == 0x55 && b[5] == 0x52 {
            return "; the line-ending bytes were altered (text-mode transfer?)"
        }
        if b.count >= 8 && b[0] == 0x09 && b[1] == 0x52 && b[2] == 0x45 && b[3] == 0x43 {
            return "; the high bit was stripped (7-bit transfer?)"
        }
        return ""
    }
}
