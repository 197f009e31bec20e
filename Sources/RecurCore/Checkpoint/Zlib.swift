import CZlib

/// CRC-32 (IEEE, zlib's `crc32`).
enum Checksum {
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        var crc: UInt = CZlib.crc32(0, nil, 0)
        var p = base.assumingMemoryBound(to: UInt8.self)
        var left = bytes.count
        // zlib takes uInt lengths: feed in chunks of at most 1 GiB.
        while left > 0 {
            let n = min(left, 1 << 30)
            crc = CZlib.crc32(crc, p, uInt(n))
            p += n
            left -= n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }
}

enum Zlib {
    /// RFC 1950 zlib stream of `input` at `level` (1...9). Deterministic.
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

    /// Inflates one zlib stream `input` into exactly `expected` bytes.
    /// Never writes more than `expected` (+1 probe byte); errors:
    ///  - stream produces more or fewer bytes than declared: `.decompressedSize`
    ///  - bad header / data / Adler-32 / truncated stream: `.corruptPayload`
    ///  - bytes left after the end of the stream: `.trailingData`
    static func inflateExact(_ input: UnsafeRawBufferPointer, expected: Int) throws(RecurError) -> [UInt8] {
        guard expected >= 0, expected < Int(UInt32.max) - 1, input.count < Int(UInt32.max) else {
            throw RecurError(.payloadTooLarge, "payload too large for this reader")
        }
        var out = [UInt8](repeating: 0, count: expected + 1)
        var outLen = uLongf(expected + 1)
        var inLen = uLong(input.count)
        let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let rc = out.withUnsafeMutableBufferPointer { dst in
            uncompress2(dst.baseAddress, &outLen, src, &inLen)
        }
        switch rc {
        case Z_OK:
            guard Int(outLen) == expected else {
                throw RecurError(.decompressedSize, "payload inflates to \(outLen) bytes; header declares \(expected)")
            }
            guard Int(inLen) == input.count else {
                throw RecurError(.trailingData, "\(input.count - Int(inLen)) bytes follow the end of the zlib stream")
            }
            out.removeLast()
            return out
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
