/// Limits applied while reading a checkpoint. Defaults follow docs/FORMAT.md; a host
/// may raise or lower each up to its ceiling.
public struct LoadOptions: Sendable, Equatable {
    /// Verify the three CRC-32s (turn off only for fuzzing and corruption sweeps).
    public var verifyChecksums = true
    public var maxFileSize: Int = 64 << 20
    public var maxHeaderSize: Int = 1 << 20
    public var maxTensors: Int = 1024
    public var maxDimension: Int = 1 << 24
    /// Maximum uncompressed/compressed ratio, applied when the payload inflates past 1 MiB.
    public var maxRatio: Int = 100
    public var maxTensorElements: Int = 1 << 26
    public var maxPayloadSize: Int = 256 << 20

    public init() {}

    public static let ceilings = LoadOptions.makeCeilings()

    private static func makeCeilings() -> LoadOptions {
        var o = LoadOptions()
        o.maxFileSize = 1 << 32
        o.maxHeaderSize = 16 << 20
        o.maxTensors = 65536
        o.maxDimension = 1 << 24
        o.maxRatio = 1 << 20
        o.maxTensorElements = 1 << 32
        o.maxPayloadSize = 16 << 30
        return o
    }

    /// Options that accept anything a valid model of this library could produce.
    public static var permissive: LoadOptions {
        var o = ceilings
        o.verifyChecksums = true
        return o
    }

    public func validate() throws(RecurError) {
        let c = LoadOptions.ceilings
        func check(_ name: String, _ v: Int, _ ceiling: Int) throws(RecurError) {
            guard v >= 1 && v <= ceiling else {
                throw RecurError(.invalidArgument, "load option \(name) = \(v) is outside 1...\(ceiling)")
            }
        }
        try check("max_file_size", maxFileSize, c.maxFileSize)
        try check("max_header_size", maxHeaderSize, c.maxHeaderSize)
        try check("max_tensors", maxTensors, c.maxTensors)
        try check("max_dimension", maxDimension, c.maxDimension)
        try check("max_ratio", maxRatio, c.maxRatio)
        try check("max_tensor_elements", maxTensorElements, c.maxTensorElements)
        try check("max_payload_size", maxPayloadSize, c.maxPayloadSize)
    }
}

/// Constants of the `.recur` format (docs/FORMAT.md).
public enum CheckpointFormat {
    /// `\x89 R E C U R \r \n`: high bit set, CR LF, so text-mode transfers and 7-bit
    /// channels are detected.
    public static let magic: [UInt8] = [0x89, 0x52, 0x45, 0x43, 0x55, 0x52, 0x0D, 0x0A]
    public static let preambleSize = 40
    public static let versionMajor: UInt16 = 1
    /// 0 for models of plain feedback layers; 1 when the model has gated layers (which
    /// `requires` also lists, so older readers refuse such files).
    public static let versionMinor: UInt16 = 0
    public static let versionMinorGated: UInt16 = 1
    /// The `requires` entries this reader understands.
    public static let features: Set<String> = ["i8", "gru", "lstm"]
    public static let ratioGraceBytes = 1 << 20
    public static let maxNameBytes = 128
    public static let maxNDim = 4
    public static let maxSchemaInteger: Int64 = (1 << 31) - 1
    public static let maxByteInteger: Int64 = (1 << 53) - 1
}
