import CZlib

package enum Zlib {
    /// RFC 1950 zlib stream of `input` at `level` (1...9), the whole payload at once. Deterministic.
    /// Adapters use it (a head of a few hundred bytes: plane by plane measured 750 bytes against
    /// 722 for a 4-16-3 head); model files use `compressPlanes`.
    static func compress(_ input: [UInt8], level: Int32) throws(RecurError) -> [UInt8] {
        guard input.count <= Int(UInt32.max) else {
            throw RecurError(.invalidArgument, "payload of \(input.count) bytes is too large to compress")
        }
        let bound = Int(compressBound(uLong(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        var outLen = uLongf(bound)
        let rc = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &outLen, src.baseAddress, uLong(src.count), level)
            }
        }
        guard rc == Z_OK else {
            throw RecurError(rc == Z_MEM_ERROR ? .outOfMemory : .io, "zlib compress2 failed (\(rc))")
        }
        out.removeSubrange(Int(outLen)...)
        return out
    }

    /// The writer's zlib stream: each byte plane of `input` (lengths `planes`, summing to
    /// input.count) deflated on its own at `level` (raw deflate ending in a sync flush) when that
    /// saves at least 3 %, else stored, so the random low mantissa planes of float weights cost a
    /// copy rather than Huffman decoding on load; then an empty final stored block and the
    /// Adler-32. Any zlib inflater reads it; the Python writer produces the same bytes.
    static func compressPlanes(_ input: [UInt8], planes: [Int], level: Int32) throws(RecurError) -> [UInt8] {
        guard input.count <= Int(UInt32.max), planes.reduce(0, +) == input.count, planes.allSatisfy({ $0 >= 0 }) else {
            throw RecurError(.invalidArgument, "payload of \(input.count) bytes cannot be compressed in these planes")
        }
        let cmf: UInt8 = 0x78
        var flg: UInt8 = (level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3) << 6
        flg += UInt8(31 - (Int(cmf) * 256 + Int(flg)) % 31)
        var out: [UInt8] = [cmf, flg]
        out.reserveCapacity(input.count + input.count / 1000 + 64)
        var pos = 0
        for n in planes {
            let z = try deflateRaw(input, from: pos, count: n, level: level)
            let storedLen = n + 5 * max(1, (n + 65534) / 65535)
            if 100 * z.count <= 97 * storedLen {
                out += z
            } else {
                var i = 0
                while i < n {
                    let m = min(65535, n - i)
                    out += [0, UInt8(m & 0xFF), UInt8(m >> 8), UInt8(~m & 0xFF), UInt8((~m >> 8) & 0xFF)]
                    out += input[(pos + i)..<(pos + i + m)]
                    i += m
                }
            }
            pos += n
        }
        let adler = input.withUnsafeBufferPointer { p in
            UInt32(truncatingIfNeeded: adler32(adler32(0, nil, 0), p.baseAddress, uInt(p.count)))
        }
        out += [1, 0, 0, 0xFF, 0xFF]
        out += [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF)]
        return out
    }

    /// Raw deflate (no header or trailer) of input[from ..< from+count] at `level`, memLevel 8,
    /// default strategy, ending in a sync flush (byte-aligned, not final).
    private static func deflateRaw(_ input: [UInt8], from: Int, count: Int, level: Int32) throws(RecurError) -> [UInt8] {
        var strm = z_stream()
        guard deflateInit2_(&strm, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw RecurError(.outOfMemory, "zlib deflateInit2 failed")
        }
        defer { deflateEnd(&strm) }
        let bound = Int(deflateBound(&strm, uLong(count))) + 64  // + the sync flush's empty block
        var rc: Int32 = Z_OK
        var room = 0
        let out = input.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: bound) { dst, initialized in
                strm.next_in = UnsafeMutablePointer(mutating: src.baseAddress.map { $0 + from })
                strm.avail_in = uInt(count)
                strm.next_out = dst.baseAddress
                strm.avail_out = uInt(bound)
                rc = deflate(&strm, Z_SYNC_FLUSH)
                initialized = bound - Int(strm.avail_out)
                room = Int(strm.avail_out)
            }
        }
        // All input consumed and output space left over: the flush completed.
        guard rc == Z_OK, strm.avail_in == 0, room > 0 else {
            throw RecurError(.io, "zlib deflate failed (\(rc))")
        }
        return out
    }

    /// Stream framing: RFC 1950 zlib (checkpoints) or RFC 1951 raw deflate (zip members of .npz
    /// files, read by the CLI).
    package enum Framing: Sendable { case zlib, raw }

    /// Inflates one zlib (or raw deflate) stream `input` into exactly `expected` bytes.
    /// Never writes more than `expected` (+1 probe byte); errors:
    ///  - stream produces more or fewer bytes than declared: `.decompressedSize`
    ///  - bad header / data / Adler-32 / truncated stream: `.corruptPayload`
    ///  - bytes left after the end of the stream: `.trailingData`
    package static func inflateExact(_ input: UnsafeRawBufferPointer, expected: Int, framing: Framing = .zlib) throws(RecurError) -> [UInt8] {
        guard expected >= 0, expected < Int(UInt32.max) - 1, input.count < Int(UInt32.max) else {
            throw RecurError(.payloadTooLarge, "payload too large for this reader")
        }
        // uncompress2's loop with all input and output given at once, except that zlib skips
        // the Adler-32 (inflateValidate) and we check it with the CPU kernel when there is one
        // (AVX2: several times zlib's speed); the result codes map exactly as uncompress2 maps them.
        let fastAdler = framing == .zlib ? Kernels.adler32 : nil
        var outLen = uLongf(0)
        var inLen = uLong(0)
        var adlerStored: UInt32 = 0
        var rc: Int32 = Z_OK
        // Uninitialised capacity (no zero-fill pass): only the bytes inflate wrote are kept.
        let out = [UInt8](unsafeUninitializedCapacity: expected + 1) { dst, initialized in
            initialized = 0
            var strm = z_stream()
            strm.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            strm.avail_in = uInt(input.count)
            let windowBits: Int32 = framing == .zlib ? 15 : -15
            guard inflateInit2_(&strm, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                rc = Z_MEM_ERROR
                return
            }
            defer { inflateEnd(&strm) }
            if fastAdler != nil { _ = inflateValidate(&strm, 0) }
            strm.next_out = dst.baseAddress
            strm.avail_out = uInt(expected + 1)
            repeat { rc = inflate(&strm, Z_NO_FLUSH) } while rc == Z_OK
            outLen = strm.total_out
            inLen = strm.total_in
            initialized = min(Int(outLen), expected + 1)
            if rc == Z_STREAM_END {
                rc = Z_OK
                if fastAdler != nil, inLen >= 4, let b = input.baseAddress {
                    let t = b + Int(inLen) - 4
                    adlerStored = UInt32(t.load(fromByteOffset: 0, as: UInt8.self)) << 24 | UInt32(t.load(fromByteOffset: 1, as: UInt8.self)) << 16
                        | UInt32(t.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt32(t.load(fromByteOffset: 3, as: UInt8.self))
                }
            } else if rc == Z_NEED_DICT || (rc == Z_BUF_ERROR && strm.avail_out > 0) {
                rc = Z_DATA_ERROR  // a dictionary stream, or the input ended early
            }
        }
        if rc == Z_OK, let adler = fastAdler {
            let computed = out.withUnsafeBufferPointer { adler(1, $0.baseAddress, $0.count) }
            guard computed == adlerStored else {
                throw RecurError(.corruptPayload, "zlib stream is corrupt (Adler-32 stored \(Hex.prefixed(adlerStored)), computed \(Hex.prefixed(computed)))")
            }
        }
        switch rc {
        case Z_OK:
            guard Int(outLen) == expected else {
                throw RecurError(.decompressedSize, "payload inflates to \(outLen) bytes; header declares \(expected)")
            }
            guard Int(inLen) == input.count else {
                throw RecurError(.trailingData, "\(input.count - Int(inLen)) bytes follow the end of the zlib stream")
            }
            return out  // exactly `expected` bytes initialised
        case Z_BUF_ERROR:
            if Int(outLen) == expected + 1 {
                throw RecurError(.decompressedSize, "payload inflates to more than the declared \(expected) bytes")
            }
            throw RecurError(.corruptPayload, "zlib stream is truncated (ended after \(outLen) of \(expected) bytes)")
        case Z_MEM_ERROR:
            throw RecurError(.outOfMemory, "zlib inflate ran out of memory")
        default:
            throw RecurError(.corruptPayload, "zlib stream is corrupt (bad header, data or Adler-32; code \(rc))")
        }
    }
}
