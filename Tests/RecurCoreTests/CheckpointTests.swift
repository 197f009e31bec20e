import Testing
@testable import RecurCore

#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint taken apart so tests can forge hostile variants with valid CRCs.
struct Forge {
    var magic = CheckpointFormat.magic
    var major: UInt16 = 1
    var minor: UInt16 = 0
    var flags: UInt32 = 0
    var header: String
    var payload: [UInt8]
    var headerLen: UInt32? = nil
    var payloadLen: UInt64? = nil
    var fixCRCs = true
    var trailing: [UInt8] = []

    init(_ bytes: [UInt8]) {
        let hl = Int(UInt32(bytes[16]) | UInt32(bytes[17]) << 8 | UInt32(bytes[18]) << 16 | UInt32(bytes[19]) << 24)
        header = String(decoding: bytes[40..<(40 + hl)], as: UTF8.self)
        payload = Array(bytes[(40 + hl)...])
    }

    var headerBytes: [UInt8] = []

    func bytes(rawHeader: [UInt8]? = nil) -> [UInt8] {
        let hb = rawHeader ?? Array(header.utf8)
        var out = magic
        func u16(_ v: UInt16) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { for k in 0..<4 { out.append(UInt8((v >> (8 * UInt32(k))) & 0xFF)) } }
        func u64(_ v: UInt64) { for k in 0..<8 { out.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) } }
        u16(major); u16(minor); u32(flags)
        u32(headerLen ?? UInt32(hb.count))
        u32(Checksum.crc32(hb))
        u64(payloadLen ?? UInt64(payload.count))
        u32(Checksum.crc32(payload))
        u32(out.withUnsafeBytes { Checksum.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<36])) })
        return out + hb + payload + trailing
    }

    /// Replace text in the header; the pattern must be present (no vacuous cases).
    mutating func replace(_ a: String, _ b: String) throws {
        guard header.contains(a) else { throw ForgeError.patternMissing(a) }
        header = header.replacingFirst(a, with: b)
    }

    /// Recompress a new raw payload.
    mutating func setRaw(_ raw: [UInt8]) throws {
        payload = try Zlib.compress(raw, level: 6)
    }

    func raw() throws -> [UInt8] {
        try payload.withUnsafeBytes { p throws(RecurError) in
            let hl = header
            let n = Int(hl.components("\"uncompressed_len\":").last!.prefix { $0.isNumber })!
            return try Zlib.inflateExact(p, expected: n)
        }
    }
}

enum ForgeError: Error { case patternMissing(String) }

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = range(of: a) else { return self }
        return String(self[..<r.lowerBound]) + b + String(self[r.upperBound...])
    }
    func components(_ sep: String) -> [Substring] {
        var out: [Substring] = []
        var rest = self[...]
        while let r = rest.range(of: sep) {
            out.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        out.append(rest)
        return out
    }
}

extension Substring {
    func range(of s: String) -> Range<Substring.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i..<index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}

extension String {
    func range(of s: String) -> Range<String.Index>? { self[...].range(of: s) }
    func contains(_ s: String) -> Bool { range(of: s) != nil }
}

let smallConfig = ModelConfig(inputSize: 3, layers: [LayerConfig(size: 4)], outputSize: 2)

func smallModel() throws -> Model {
    try randomModel(smallConfig, seed: 42, labels: ["a", "b"], metadata: [("k", "v")])
}

func smallBytes() throws -> [UInt8] { try smallModel().checkpointBytes() }

@Suite struct CheckpointTests {
    @Test func headerIsAsDocumented() throws {
        let f = Forge(try smallBytes())
        #expect(f.header.hasPrefix(#"{"format":"recur","requires":[],"model":{"input_size":3,"layers":[{"size":4,"activation":"tanh"}],"output_size":2,"output_transform":"none","labels":["a","b"]},"metadata":{"k":"v"},"payload":{"codec":"zlib","filter":"byteshuffle","weight_dtype":"f32","uncompressed_len":168},"tensors":[{"name":"layers.0.w_in","dtype":"f32","shape":[4,3],"offset":0,"nbytes":48}"#))
    }

    @Test(arguments: [WeightDType.f32, .f16])
    func roundTripIsBitIdentical(_ dtype: WeightDType) throws {
        let configs = [
            smallConfig,
            ModelConfig(inputSize: 10, layers: [LayerConfig(size: 20)], outputSize: 5, outputTransform: .softmax, weightDType: dtype),
            ModelConfig(inputSize: 7, layers: [LayerConfig(size: 13, activation: .relu), LayerConfig(size: 9),
                                               LayerConfig(size: 16, activation: .sigmoid)], outputSize: 4, outputTransform: .sigmoid, weightDType: dtype),
        ]
        for (i, c) in configs.enumerated() {
            let m = try randomModel(c, seed: UInt64(i), labels: (0..<c.outputSize).map { "class \($0) ✓" },
                                    metadata: [("created_by", "test"), ("note", "line\nbreak \"quoted\" \u{1F600}")])
            let bytes = try m.checkpointBytes(dtype: dtype)
            let back = try CheckpointReader.decode(bytes)
            // Matrices take the storage dtype; biases stay float32.
            var expected = m.parameters()
            var off = 0
            for s in c.tensorSpecs {
                if s.isMatrix && dtype == .f16 {
                    for i in off..<(off + s.count) { expected[i] = Half.toFloat(Half.fromFloat(expected[i])) }
                }
                off += s.count
            }
            let got = back.parameters()
            #expect(got.count == expected.count)
            #expect(zip(got, expected).filter { $0.bitPattern != $1.bitPattern }.count == 0, "config \(i)")
            #expect(back.config.weightDType == dtype)
            #expect(back.labels == m.labels)
            #expect(back.metadata.map { $0.key } == m.metadata.map { $0.key })
            #expect(back.metadata.map { $0.value } == m.metadata.map { $0.value })
            // Re-encoding the decoded model gives the same bytes.
            #expect(try back.checkpointBytes() == bytes)
        }
    }

    @Test func fileRoundTripAndAtomicity() throws {
        let dir = tempDir()
        let path = dir + "/model.recur"
        let m = try smallModel()
        try m.save(to: path)
        let back = try Model.load(path: path)
        #expect(bits(back.parameters()) == bits(m.parameters()))
        let onDisk = try FileIO.readFile(path: path, maxSize: 1 << 20)
        #expect(onDisk == (try m.checkpointBytes()))
        // Overwrite with another model: the new one is there, no temp files remain.
        let m2 = try randomModel(smallConfig, seed: 9)
        try m2.save(to: path)
        #expect(bits(try Model.load(path: path).parameters()) == bits(m2.parameters()))
        #expect(listDir(dir) == ["model.recur"])
        // Saving onto a directory fails cleanly and leaves it alone.
        mkdir(dir + "/sub", 0o755)
        expectCode(.notRegularFile) { () throws(RecurError) in try m.save(to: dir + "/sub") }
        // A missing directory fails with an I/O error.
        expectCode(.io) { () throws(RecurError) in try m.save(to: dir + "/missing/x.recur") }
        #expect(listDir(dir) == ["model.recur", "sub"])
        #expect(bits(try Model.load(path: path).parameters()) == bits(m2.parameters()))
        // Loading: directory, missing file.
        expectCode(.notRegularFile) { () throws(RecurError) in _ = try Model.load(path: dir + "/sub") }
        expectCode(.io) { () throws(RecurError) in _ = try Model.load(path: dir + "/nope.recur") }
        // A FIFO is not a regular file (and opening it must not hang: O_RDONLY on a FIFO blocks, so
        // only check with a writer present is impractical; /dev/null is a character device).
        expectCode(.notRegularFile) { () throws(RecurError) in _ = try Model.load(path: "/dev/null") }
        // File over the size limit.
        var o = LoadOptions()
        o.maxFileSize = 100
        expectCode(.fileTooLarge) { () throws(RecurError) in _ = try Model.load(path: path, options: o) }
    }

    @Test func compressionSizes() throws {
        let c = ModelConfig(inputSize: 64, layers: [LayerConfig(size: 256)], outputSize: 10)
        let m = try randomModel(c, seed: 3)
        let raw = Double(m.parameterCount * 4)
        let f32 = Double(try m.checkpointBytes(dtype: .f32).count) / raw
        let f16 = Double(try m.checkpointBytes(dtype: .f16).count) / raw
        // Byte shuffle + deflate: uniform random weights compress less than trained ones,
        // but the sign/exponent bytes still shrink.
        #expect(f32 < 0.95, "f32 ratio \(f32)")
        #expect(f16 < 0.5, "f16 ratio \(f16)")
    }

    @Test func halfConversionMatchesFloat16() {
        #if arch(x86_64) || arch(arm64)
        for h in 0...0xFFFF {
            let hb = UInt16(h)
            let f = Half.toFloat(hb)
            let ref = Float(Float16(bitPattern: hb))
            if f.isNaN {
                #expect(ref.isNaN)
            } else {
                #expect(f.bitPattern == ref.bitPattern, "half \(h)")
                #expect(Half.fromFloat(f) == hb, "round trip \(h)")
            }
        }
        var rng = SplitMix(5)
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if f.isNaN { continue }
            #expect(Half.fromFloat(f) == Float16(f).bitPattern, "\(f)")
        }
        #endif
    }
}

func listDir(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { p in
            String(decoding: p.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
