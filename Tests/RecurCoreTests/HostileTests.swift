import Testing
@testable import RecurCore

/// One hostile checkpoint: a name (with the number of the docs/REFERENCES.md checklist row it covers),
/// the status it must produce, and how to forge it from a small valid file.
struct HostileCase: CustomStringConvertible, Sendable {
    let name: String
    let code: RecurError.Code
    let make: @Sendable () throws -> (bytes: [UInt8], options: LoadOptions)
    var description: String { name }
}

func forged(_ edit: @escaping @Sendable (inout Forge) throws -> Void, options: LoadOptions = LoadOptions())
    -> @Sendable () throws -> (bytes: [UInt8], options: LoadOptions)
{
    return {
        var f = Forge(try smallBytes())
        try edit(&f)
        return (f.bytes(), options)
    }
}

func rawBytes(_ edit: @escaping @Sendable ([UInt8]) throws -> [UInt8], options: LoadOptions = LoadOptions())
    -> @Sendable () throws -> (bytes: [UInt8], options: LoadOptions)
{
    return { (try edit(try smallBytes()), options) }
}

func opts(_ edit: (inout LoadOptions) -> Void) -> LoadOptions {
    var o = LoadOptions()
    edit(&o)
    return o
}

/// Puts a float payload (4x3 w_in etc.) back with one value replaced.
func withWeight(_ index: Int, _ value: Float) -> @Sendable (inout Forge) throws -> Void {
    return { f in
        var raw = try f.raw()
        // layers.0.w_in is the first tensor: 12 floats byte-shuffled (stride 12).
        let bitsV = value.bitPattern
        for k in 0..<4 { raw[k * 12 + index] = UInt8((bitsV >> (8 * UInt32(k))) & 0xFF) }
        try f.setRaw(raw)
    }
}

let hostileCases: [HostileCase] = [
    // Preamble (rows 1-13)
    HostileCase(name: "1 empty file", code: .truncated, make: rawBytes { _ in [] }),
    HostileCase(name: "1 shorter than preamble", code: .truncated, make: rawBytes { Array($0.prefix(39)) }),
    HostileCase(name: "2 GGUF magic", code: .badMagic, make: rawBytes { b in Array("GGUF".utf8) + b.dropFirst(4) }),
    HostileCase(name: "2 zip magic", code: .badMagic, make: rawBytes { b in [0x50, 0x4B, 0x03, 0x04] + b.dropFirst(4) }),
    HostileCase(name: "2 random bytes", code: .badMagic, make: rawBytes { b in (0..<b.count).map { UInt8(($0 * 97 + 13) & 0xFF) } }),
    HostileCase(name: "3 CRLF mangled to LF", code: .badMagic, make: rawBytes { b in Array(b.prefix(6)) + [0x0A] + b.dropFirst(8) }),
    HostileCase(name: "3 high bit stripped", code: .badMagic, make: rawBytes { b in [0x09] + b.dropFirst() }),
    HostileCase(name: "4 major version 0", code: .unsupportedVersion, make: forged { $0.major = 0 }),
    HostileCase(name: "5 future major 2", code: .unsupportedVersion, make: forged { $0.major = 2 }),
    HostileCase(name: "5 future major 0xFFFF", code: .unsupportedVersion, make: forged { $0.major = 0xFFFF }),
    HostileCase(name: "6 byte-swapped version", code: .unsupportedVersion, make: forged { $0.major = 0x0100 }),
    HostileCase(name: "7 unknown flag bit", code: .unsupportedFeature, make: forged { $0.flags = 1 }),
    HostileCase(name: "7 unknown requires entry", code: .unsupportedFeature, make: forged { try $0.replace(#""requires":[]"#, #""requires":["sparse"]"#) }),
    HostileCase(name: "8 preamble CRC mismatch", code: .corruptPreamble, make: rawBytes { b in var c = b; c[36] ^= 1; return c }),
    HostileCase(name: "8 minor version bit flip (CRC catches)", code: .corruptPreamble, make: rawBytes { b in var c = b; c[10] ^= 4; return c }),
    HostileCase(name: "9 header_len 0", code: .headerSize, make: forged { $0.headerLen = 0 }),
    HostileCase(name: "9 header_len above limit", code: .headerSize, make: forged { $0.headerLen = 2 << 20 }),
    HostileCase(name: "9 header_len above host limit", code: .headerSize, make: forged({ _ in }, options: opts { $0.maxHeaderSize = 100 })),
    HostileCase(name: "10 lengths overflow u64", code: .truncated, make: forged { $0.payloadLen = UInt64.max - 10 }),
    HostileCase(name: "11 truncated payload", code: .truncated, make: rawBytes { Array($0.dropLast()) }),
    HostileCase(name: "11 payload_len beyond file", code: .truncated, make: forged { $0.payloadLen = UInt64($0.payload.count + 1) }),
    HostileCase(name: "12 trailing byte", code: .trailingData, make: forged { $0.trailing = [0] }),
    HostileCase(name: "12 appended zip", code: .trailingData, make: forged { $0.trailing = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18) }),
    HostileCase(name: "13 file above max_file_size", code: .fileTooLarge, make: forged({ _ in }, options: opts { $0.maxFileSize = 200 })),
    HostileCase(name: "14 header CRC mismatch", code: .corruptHeader, make: rawBytes { b in var c = b; c[45] ^= 0x20; return c }),
    HostileCase(name: "14 payload CRC mismatch", code: .corruptPayload, make: rawBytes { b in var c = b; c[c.count - 3] ^= 0x01; return c }),
    // Header text (rows 15-23)
    HostileCase(name: "15 overlong UTF-8", code: .headerUTF8, make: { var f = Forge(try smallBytes()); let h = Array(f.header.utf8); let i = h.firstIndex(of: UInt8(ascii: "v"))!; var hb = h; hb.replaceSubrange(i...i, with: [0xC1, 0x81]); f.header = ""; return (f.bytes(rawHeader: hb), LoadOptions()) }),
    HostileCase(name: "15 encoded surrogate", code: .headerUTF8, make: { let f = Forge(try smallBytes()); var hb = Array(f.header.utf8); let i = hb.lastIndex(of: UInt8(ascii: "v"))!; hb.replaceSubrange(i...i, with: [0xED, 0xA0, 0x80]); return (f.bytes(rawHeader: hb), LoadOptions()) }),
    HostileCase(name: "15 truncated sequence", code: .headerUTF8, make: { let f = Forge(try smallBytes()); var hb = Array(f.header.utf8); let i = hb.lastIndex(of: UInt8(ascii: "v"))!; hb.replaceSubrange(i...i, with: [0xE2, 0x82]); return (f.bytes(rawHeader: hb), LoadOptions()) }),
    HostileCase(name: "15 byte 0xF5", code: .headerUTF8, make: { let f = Forge(try smallBytes()); var hb = Array(f.header.utf8); let i = hb.lastIndex(of: UInt8(ascii: "v"))!; hb[i] = 0xF5; return (f.bytes(rawHeader: hb), LoadOptions()) }),
    HostileCase(name: "16 BOM", code: .headerJSON, make: forged { $0.header = "\u{FEFF}" + $0.header }),
    HostileCase(name: "16 leading whitespace", code: .headerJSON, make: forged { $0.header = " " + $0.header }),
    HostileCase(name: "17 malformed JSON", code: .headerJSON, make: forged { try $0.replace(#""format":"recur","#, #""format":"recur",,"#) }),
    HostileCase(name: "17 trailing content", code: .headerJSON, make: forged { $0.header += "x" }),
    HostileCase(name: "17 second top-level value", code: .headerJSON, make: forged { $0.header += "{}" }),
    HostileCase(name: "18 depth > 16", code: .headerDepth, make: forged { try $0.replace(#""k":"v""#, #""k":"v","x_deep":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)) }),
    HostileCase(name: "19 duplicate key", code: .duplicateKey, make: forged { try $0.replace(#""input_size":3,"#, #""input_size":3,"input_size":3,"#) }),
    HostileCase(name: "19 duplicate metadata key", code: .duplicateKey, make: forged { try $0.replace(#""k":"v""#, #""k":"v","k":"w""#) }),
    HostileCase(name: "20 NaN literal", code: .headerJSON, make: forged { try $0.replace(#""input_size":3"#, #""input_size":NaN"#) }),
    HostileCase(name: "20 Infinity literal", code: .headerJSON, make: forged { try $0.replace(#""input_size":3"#, #""input_size":-Infinity"#) }),
    HostileCase(name: "21 string where integer", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":"3""#) }),
    HostileCase(name: "21 1.0 where integer", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":3.0"#) }),
    HostileCase(name: "21 true where integer", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":true"#) }),
    HostileCase(name: "21 null shape", code: .schema, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":null"#) }),
    HostileCase(name: "22 negative integer", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":-3"#) }),
    HostileCase(name: "22 above 2^31-1", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":2147483648"#) }),
    HostileCase(name: "22 1e400", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":1e400"#) }),
    HostileCase(name: "22 5000-digit integer", code: .schema, make: forged { try $0.replace(#""input_size":3"#, #""input_size":"# + String(repeating: "9", count: 5000)) }),
    HostileCase(name: "23 missing key", code: .schema, make: forged { try $0.replace(#""format":"recur","#, "") }),
    HostileCase(name: "23 unknown key", code: .schema, make: forged { try $0.replace(#""format":"recur","#, #""format":"recur","surprise":1,"#) }),
    HostileCase(name: "23 wrong format name", code: .schema, make: forged { try $0.replace(#""format":"recur""#, #""format":"fbnn""#) }),
    // Tensor table (rows 24-42)
    HostileCase(name: "24 zero tensors", code: .tooManyTensors, make: forged { f in
        let start = f.header.range(of: #""tensors":["#)!.upperBound
        f.header = String(f.header[..<start]) + "]}"
    }),
    HostileCase(name: "24 more tensors than max_tensors", code: .tooManyTensors, make: forged({ _ in }, options: opts { $0.maxTensors = 4 })),
    HostileCase(name: "25 duplicate tensor name", code: .duplicateTensor, make: forged { try $0.replace(#""name":"layers.0.w_rec""#, #""name":"layers.0.w_in""#) }),
    HostileCase(name: "26 path-like tensor name", code: .badName, make: forged { try $0.replace(#""name":"layers.0.w_rec""#, #""name":"../w_rec""#) }),
    HostileCase(name: "26 empty tensor name", code: .badName, make: forged { try $0.replace(#""name":"layers.0.w_rec""#, #""name":"""#) }),
    HostileCase(name: "26 non-ASCII tensor name", code: .badName, make: forged { try $0.replace(#""name":"layers.0.w_rec""#, #""name":"layers.0.w_réc""#) }),
    HostileCase(name: "26 name over 128 bytes", code: .badName, make: forged { try $0.replace(#""name":"layers.0.w_rec""#, #""name":""# + String(repeating: "a", count: 129) + "\"") }),
    HostileCase(name: "27 dtype f64", code: .badDType, make: forged { try $0.replace(#""dtype":"f32""#, #""dtype":"f64""#) }),
    HostileCase(name: "27 dtype 'F32 '", code: .badDType, make: forged { try $0.replace(#""dtype":"f32""#, #""dtype":"F32 ""#) }),
    HostileCase(name: "27 weight_dtype q4_0", code: .badDType, make: forged { try $0.replace(#""weight_dtype":"f32""#, #""weight_dtype":"q4_0""#) }),
    HostileCase(name: "28 ndim 0", code: .badShape, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[]"#) }),
    HostileCase(name: "28 ndim 5", code: .badShape, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[4,3,1,1,1]"#) }),
    HostileCase(name: "29 negative dimension", code: .badShape, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[-4,-3]"#) }),
    HostileCase(name: "30 zero dimension", code: .badShape, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[4,0]"#) }),
    HostileCase(name: "31 shape product overflow 2^62 x 4", code: .shapeOverflow, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[4611686018427387904,4]"#) }),
    HostileCase(name: "31 shape product overflow 2^32 x 2^32", code: .shapeOverflow, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[4294967296,4294967296]"#) }),
    HostileCase(name: "31 dimension above max_dimension", code: .badShape, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[4,16777217]"#) }),
    HostileCase(name: "32 elements above cap", code: .tensorTooLarge, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[16777216,16]"#) }),
    HostileCase(name: "32 elements above host cap", code: .tensorTooLarge, make: forged({ _ in }, options: opts { $0.maxTensorElements = 11 })),
    HostileCase(name: "33 nbytes != elements x itemsize", code: .sizeMismatch, make: forged { try $0.replace(#""offset":0,"nbytes":48"#, #""offset":0,"nbytes":47"#) }),
    HostileCase(name: "34 first offset not 0", code: .badOffsets, make: forged { try $0.replace(#""offset":0,"nbytes":48"#, #""offset":4,"nbytes":48"#) }),
    HostileCase(name: "34 overlapping offsets", code: .badOffsets, make: forged { try $0.replace(#""offset":48,"#, #""offset":40,"#) }),
    HostileCase(name: "34 gap between tensors", code: .badOffsets, make: forged { try $0.replace(#""offset":48,"#, #""offset":52,"#) }),
    HostileCase(name: "35 sum != uncompressed_len", code: .sizeMismatch, make: forged { try $0.replace(#""uncompressed_len":168"#, #""uncompressed_len":172"#) }),
    HostileCase(name: "36 uncompressed_len above max", code: .payloadTooLarge, make: forged { try $0.replace(#""uncompressed_len":168"#, #""uncompressed_len":268435457"#) }),
    HostileCase(name: "36 uncompressed_len above host max", code: .payloadTooLarge, make: forged({ _ in }, options: opts { $0.maxPayloadSize = 100 })),
    HostileCase(name: "37 compression ratio (all-zero 2 MiB model)", code: .ratio, make: {
        let c = ModelConfig(inputSize: 512, layers: [LayerConfig(size: 512)], outputSize: 1)
        let m = try Model(config: c, parameters: [Float](repeating: 0, count: c.parameterCount))
        return (try m.checkpointBytes(), LoadOptions())
    }),
    HostileCase(name: "38 stream inflates to more than declared", code: .decompressedSize, make: forged { f in try f.setRaw(try f.raw() + [0, 0, 0, 0]) }),
    HostileCase(name: "39 stream inflates to less than declared", code: .decompressedSize, make: forged { f in try f.setRaw(Array(try f.raw().dropLast(4))) }),
    HostileCase(name: "39 truncated zlib stream", code: .corruptPayload, make: forged { f in f.payload = Array(f.payload.prefix(f.payload.count / 2)) }),
    HostileCase(name: "40 raw deflate without zlib header", code: .corruptPayload, make: forged { f in f.payload = Array(f.payload.dropFirst(2)) }),
    HostileCase(name: "40 FDICT set", code: .corruptPayload, make: forged { f in f.payload[1] = 0xBB }),
    HostileCase(name: "41 Adler-32 mismatch with valid CRC", code: .corruptPayload, make: forged { f in f.payload[f.payload.count - 1] ^= 0x01 }),
    HostileCase(name: "42 bytes after the zlib stream", code: .trailingData, make: forged { f in f.payload += [0x00, 0x01] }),
    HostileCase(name: "42 two concatenated zlib streams", code: .trailingData, make: forged { f in f.payload += f.payload }),
    // Config (rows 43-52)
    HostileCase(name: "43 layer count 0", code: .badConfig, make: forged { try $0.replace(#""layers":[{"size":4,"activation":"tanh"}]"#, #""layers":[]"#) }),
    HostileCase(name: "43 layer count 65", code: .badConfig, make: forged { try $0.replace(#""layers":[{"size":4,"activation":"tanh"}]"#, #""layers":["# + Array(repeating: #"{"size":4,"activation":"tanh"}"#, count: 65).joined(separator: ",") + "]") }),
    HostileCase(name: "43 layer size 0", code: .badConfig, make: forged { try $0.replace(#""size":4,"#, #""size":0,"#) }),
    HostileCase(name: "43 layer size 65537", code: .badConfig, make: forged { try $0.replace(#""size":4,"#, #""size":65537,"#) }),
    HostileCase(name: "43 input size 0", code: .badConfig, make: forged { try $0.replace(#""input_size":3"#, #""input_size":0"#) }),
    HostileCase(name: "44 labels count != output_size", code: .badConfig, make: forged { try $0.replace(#""labels":["a","b"]"#, #""labels":["a"]"#) }),
    HostileCase(name: "44 output_size 0", code: .badConfig, make: forged { try $0.replace(#""output_size":2"#, #""output_size":0"#) }),
    HostileCase(name: "45 unknown activation", code: .badConfig, make: forged { try $0.replace(#""activation":"tanh""#, #""activation":"relu6""#) }),
    HostileCase(name: "45 injected activation", code: .badConfig, make: forged { try $0.replace(#""activation":"tanh""#, #""activation":"tanh; rm -rf""#) }),
    HostileCase(name: "45 unknown output transform", code: .badConfig, make: forged { try $0.replace(#""output_transform":"none""#, #""output_transform":"argmax""#) }),
    HostileCase(name: "46 missing tensor", code: .missingTensor, make: forged { f in
        try f.replace(#",{"name":"head.bias","dtype":"f32","shape":[2],"offset":160,"nbytes":8}"#, "")
        try f.replace(#""uncompressed_len":168"#, #""uncompressed_len":160"#)
    }),
    HostileCase(name: "47 unexpected tensor", code: .unexpectedTensor, make: forged { try $0.replace(#""name":"head.bias""#, #""name":"head.extra""#) }),
    HostileCase(name: "48 shape differs from config", code: .shapeMismatch, make: forged { try $0.replace(#""shape":[4,3]"#, #""shape":[3,4]"#) }),
    HostileCase(name: "48 rank differs from config", code: .shapeMismatch, make: forged { try $0.replace(#""shape":[2],"#, #""shape":[1,2],"#) }),
    HostileCase(name: "49 dtype differs from slot", code: .dtypeMismatch, make: forged { try $0.replace(#""weight_dtype":"f32""#, #""weight_dtype":"f16""#) }),
    HostileCase(name: "50 NaN weight", code: .nonFiniteWeight, make: forged(withWeight(5, .nan))),
    HostileCase(name: "50 Inf weight", code: .nonFiniteWeight, make: forged(withWeight(0, -.infinity))),
    HostileCase(name: "51 empty label", code: .badLabel, make: forged { try $0.replace(#""labels":["a","b"]"#, #""labels":["a",""]"#) }),
    HostileCase(name: "51 duplicate label", code: .badLabel, make: forged { try $0.replace(#""labels":["a","b"]"#, #""labels":["a","a"]"#) }),
    HostileCase(name: "51 label with control character", code: .badLabel, make: forged { try $0.replace(#""labels":["a","b"]"#, #""labels":["a","b\u0007"]"#) }),
    HostileCase(name: "51 label over 256 bytes", code: .badLabel, make: forged { try $0.replace(#""labels":["a","b"]"#, #""labels":["a",""# + String(repeating: "b", count: 257) + "\"]") }),
    HostileCase(name: "51 label not a string", code: .badLabel, make: forged { try $0.replace(#""labels":["a","b"]"#, #""labels":["a",7]"#) }),
    HostileCase(name: "52 metadata value not a string", code: .badMetadata, make: forged { try $0.replace(#""k":"v""#, #""k":1"#) }),
    HostileCase(name: "52 metadata not an object", code: .badMetadata, make: forged { try $0.replace(#""metadata":{"k":"v"}"#, #""metadata":["k"]"#) }),
    HostileCase(name: "52 more than 256 metadata entries", code: .badMetadata, make: forged { try $0.replace(#""k":"v""#, (0..<257).map { "\"k\($0)\":\"v\"" }.joined(separator: ",")) }),
    HostileCase(name: "52 metadata key over 128 bytes", code: .badMetadata, make: forged { try $0.replace(#""k":"v""#, "\"" + String(repeating: "k", count: 129) + "\":\"v\"") }),
    HostileCase(name: "52 metadata value over 64 KiB", code: .badMetadata, make: forged { try $0.replace(#""k":"v""#, "\"k\":\"" + String(repeating: "v", count: 65537) + "\"") }),
    // Codec and filter are features (row 7 family).
    HostileCase(name: "7 codec zstd", code: .unsupportedFeature, make: forged { try $0.replace(#""codec":"zlib""#, #""codec":"zstd""#) }),
    HostileCase(name: "7 filter bitshuffle", code: .unsupportedFeature, make: forged { try $0.replace(#""filter":"byteshuffle""#, #""filter":"bitshuffle""#) }),
]

@Suite struct HostileTests {
    @Test(arguments: hostileCases)
    func hostileFileRejected(_ c: HostileCase) throws {
        let (bytes, options) = try c.make()
        expectCode(c.code, c.name) { () throws(RecurError) in _ = try CheckpointReader.decode(bytes, options: options) }
    }

    @Test func caseCountAndCoverage() {
        #expect(hostileCases.count >= 40)
        // Every format error code in the header is produced by at least one case.
        let produced = Set(hostileCases.map { $0.code })
        for code in RecurError.Code.allCases where code.rawValue <= -40 {
            #expect(produced.contains(code), "no hostile case yields \(code.name)")
        }
    }

    @Test func extensionKeysAreIgnored() throws {
        var f = Forge(try smallBytes())
        try f.replace(#""format":"recur","#, #""format":"recur","x_vendor":{"a":[1,2.5,"s",null,true]},"#)
        let m = try CheckpointReader.decode(f.bytes())
        #expect(bits(m.parameters()) == bits(try smallModel().parameters()))
    }

    @Test func limitsAreInclusive() throws {
        // Exactly at a limit passes, one below fails (both sides of every bound).
        let bytes = try smallBytes()
        let headerLen = Forge(bytes).header.utf8.count
        let bounds: [(WritableKeyPath<LoadOptions, Int>, Int, RecurError.Code)] = [
            (\.maxFileSize, bytes.count, .fileTooLarge),
            (\.maxHeaderSize, headerLen, .headerSize),
            (\.maxTensors, 5, .tooManyTensors),
            (\.maxTensorElements, 16, .tensorTooLarge),
            (\.maxPayloadSize, 168, .payloadTooLarge),
            (\.maxDimension, 4, .badShape),
        ]
        for (key, limit, code) in bounds {
            var o = LoadOptions()
            o[keyPath: key] = limit
            _ = try CheckpointReader.decode(bytes, options: o)
            o[keyPath: key] = limit - 1
            expectCode(code, "\(key) = \(limit - 1)") { () throws(RecurError) in _ = try CheckpointReader.decode(bytes, options: o) }
        }
        // Options themselves are validated: zero and above-ceiling values are refused.
        var o = LoadOptions()
        o.maxRatio = 0
        expectCode(.invalidArgument) { () throws(RecurError) in _ = try CheckpointReader.decode(bytes, options: o) }
        o.maxRatio = 100
        o.maxFileSize = Int.max
        expectCode(.invalidArgument) { () throws(RecurError) in _ = try CheckpointReader.decode(bytes, options: o) }
    }

    @Test func everyTruncationIsRejected() throws {
        let bytes = try smallBytes()
        for n in 0..<bytes.count {
            expectCode(.truncated, "length \(n)") { () throws(RecurError) in
                _ = try CheckpointReader.decode(Array(bytes.prefix(n)))
            }
        }
    }

    @Test func everyBitFlipIsRejectedWithChecksums() throws {
        let bytes = try smallBytes()
        var failures = 0
        for i in 0..<bytes.count {
            for bit in 0..<8 {
                var b = bytes
                b[i] ^= UInt8(1 << bit)
                do {
                    _ = try CheckpointReader.decode(b)
                    failures += 1
                } catch {
                    // Any specific error is fine; a crash would end the test process.
                    #expect(error.code.rawValue < 0)
                }
            }
        }
        #expect(failures == 0, "\(failures) bit flips were accepted")
    }

    @Test func bitFlipsWithoutChecksumsNeverCrash() throws {
        // With CRCs off every structural rule must still hold: each flip is either
        // rejected or yields a model that passes all validation (a flipped weight bit).
        let model = try smallModel()
        let bytes = try model.checkpointBytes()
        var o = LoadOptions()
        o.verifyChecksums = false
        var accepted = 0
        var rejected = 0
        for i in 0..<bytes.count {
            for bit in 0..<8 {
                var b = bytes
                b[i] ^= UInt8(1 << bit)
                do {
                    let m = try CheckpointReader.decode(b, options: o)
                    accepted += 1
                    #expect(m.parameters().allSatisfy { $0.isFinite })
                    // An accepted model must still run.
                    let s = try Session(model: m)
                    _ = try s.step([Float](repeating: 0.5, count: m.config.inputSize))
                } catch {
                    rejected += 1
                }
            }
        }
        #expect(rejected > 0)
        #expect(accepted + rejected == bytes.count * 8)
    }
}
