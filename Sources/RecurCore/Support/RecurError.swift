/// An error from the recur engine: a pinned status code plus a detail message.
///
/// `code.rawValue` equals the `RECUR_E_*` constant of `include/recur.h`
/// (a test checks every value against the header).
public struct RecurError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Status codes. Raw values are the C `recur_status` values and never change meaning.
    public enum Code: Int32, Sendable, CaseIterable {
        case invalidArgument = -1
        case nullPointer = -2
        case badHandle = -3
        case lengthMismatch = -4
        case bufferTooSmall = -5
        case nonFiniteInput = -6
        case outOfMemory = -7
        case indexOutOfRange = -8
        case notFound = -9
        case stateMismatch = -10
        case badConfig = -11
        case badLabel = -12
        case badMetadata = -13
        case nonFiniteWeight = -14
        case cancelled = -15
        case diverged = -16
        case adapterMismatch = -17
        case singular = -18
        case nonFiniteState = -19
        case io = -20
        case notRegularFile = -21
        case fileTooLarge = -22
        case truncated = -40
        case badMagic = -41
        case unsupportedVersion = -42
        case unsupportedFeature = -43
        case corruptPreamble = -44
        case headerSize = -45
        case trailingData = -46
        case corruptHeader = -47
        case corruptPayload = -48
        case headerUTF8 = -49
        case headerJSON = -50
        case headerDepth = -51
        case duplicateKey = -52
        case schema = -53
        case tooManyTensors = -54
        case duplicateTensor = -55
        case badName = -56
        case badDType = -57
        case badShape = -58
        case shapeOverflow = -59
        case tensorTooLarge = -60
        case sizeMismatch = -61
        case badOffsets = -62
        case payloadTooLarge = -63
        case ratio = -64
        case decompressedSize = -65
        case missingTensor = -66
        case unexpectedTensor = -67
        case shapeMismatch = -68
        case dtypeMismatch = -69

        /// The C macro name, e.g. `RECUR_E_BAD_MAGIC`.
        public var name: String {
            switch self {
            case .invalidArgument: return "RECUR_E_INVALID_ARGUMENT"
            case .nullPointer: return "RECUR_E_NULL_POINTER"
            case .badHandle: return "RECUR_E_BAD_HANDLE"
            case .lengthMismatch: return "RECUR_E_LENGTH_MISMATCH"
            case .bufferTooSmall: return "RECUR_E_BUFFER_TOO_SMALL"
            case .nonFiniteInput: return "RECUR_E_NONFINITE_INPUT"
            case .outOfMemory: return "RECUR_E_OUT_OF_MEMORY"
            case .indexOutOfRange: return "RECUR_E_INDEX_OUT_OF_RANGE"
            case .notFound: return "RECUR_E_NOT_FOUND"
            case .stateMismatch: return "RECUR_E_STATE_MISMATCH"
            case .badConfig: return "RECUR_E_BAD_CONFIG"
            case .badLabel: return "RECUR_E_BAD_LABEL"
            case .badMetadata: return "RECUR_E_BAD_METADATA"
            case .nonFiniteWeight: return "RECUR_E_NONFINITE_WEIGHT"
            case .cancelled: return "RECUR_E_CANCELLED"
            case .diverged: return "RECUR_E_DIVERGED"
            case .adapterMismatch: return "RECUR_E_ADAPTER_MISMATCH"
            case .singular: return "RECUR_E_SINGULAR"
            case .nonFiniteState: return "RECUR_E_NONFINITE_STATE"
            case .io: return "RECUR_E_IO"
            case .notRegularFile: return "RECUR_E_NOT_REGULAR_FILE"
            case .fileTooLarge: return "RECUR_E_FILE_TOO_LARGE"
            case .truncated: return "RECUR_E_TRUNCATED"
            case .badMagic: return "RECUR_E_BAD_MAGIC"
            case .unsupportedVersion: return "RECUR_E_UNSUPPORTED_VERSION"
            case .unsupportedFeature: return "RECUR_E_UNSUPPORTED_FEATURE"
            case .corruptPreamble: return "RECUR_E_CORRUPT_PREAMBLE"
            case .headerSize: return "RECUR_E_HEADER_SIZE"
            case .trailingData: return "RECUR_E_TRAILING_DATA"
            case .corruptHeader: return "RECUR_E_CORRUPT_HEADER"
            case .corruptPayload: return "RECUR_E_CORRUPT_PAYLOAD"
            case .headerUTF8: return "RECUR_E_HEADER_UTF8"
            case .headerJSON: return "RECUR_E_HEADER_JSON"
            case .headerDepth: return "RECUR_E_HEADER_DEPTH"
            case .duplicateKey: return "RECUR_E_DUPLICATE_KEY"
            case .schema: return "RECUR_E_SCHEMA"
            case .tooManyTensors: return "RECUR_E_TOO_MANY_TENSORS"
            case .duplicateTensor: return "RECUR_E_DUPLICATE_TENSOR"
            case .badName: return "RECUR_E_BAD_NAME"
            case .badDType: return "RECUR_E_BAD_DTYPE"
            case .badShape: return "RECUR_E_BAD_SHAPE"
            case .shapeOverflow: return "RECUR_E_SHAPE_OVERFLOW"
            case .tensorTooLarge: return "RECUR_E_TENSOR_TOO_LARGE"
            case .sizeMismatch: return "RECUR_E_SIZE_MISMATCH"
            case .badOffsets: return "RECUR_E_BAD_OFFSETS"
            case .payloadTooLarge: return "RECUR_E_PAYLOAD_TOO_LARGE"
            case .ratio: return "RECUR_E_RATIO"
            case .decompressedSize: return "RECUR_E_DECOMPRESSED_SIZE"
            case .missingTensor: return "RECUR_E_MISSING_TENSOR"
            case .unexpectedTensor: return "RECUR_E_UNEXPECTED_TENSOR"
            case .shapeMismatch: return "RECUR_E_SHAPE_MISMATCH"
            case .dtypeMismatch: return "RECUR_E_DTYPE_MISMATCH"
            }
        }

        /// A one-line static description.
        public var summary: String {
            switch self {
            case .invalidArgument: return "invalid argument"
            case .nullPointer: return "required pointer is NULL"
            case .badHandle: return "not a handle of the expected kind"
            case .lengthMismatch: return "buffer length differs from the required one"
            case .bufferTooSmall: return "output buffer too small"
            case .nonFiniteInput: return "input contains NaN or Inf"
            case .outOfMemory: return "out of memory"
            case .indexOutOfRange: return "index out of range"
            case .notFound: return "not found"
            case .stateMismatch: return "state snapshot belongs to another model body or batch size"
            case .badConfig: return "invalid model config"
            case .badLabel: return "invalid label"
            case .badMetadata: return "invalid metadata"
            case .nonFiniteWeight: return "weights contain NaN or Inf"
            case .cancelled: return "cancelled by the progress callback"
            case .diverged: return "training diverged (non-finite loss or weights)"
            case .adapterMismatch: return "adapter belongs to another base model"
            case .singular: return "linear system is singular"
            case .nonFiniteState: return "step would overflow the state or output (state unchanged)"
            case .io: return "I/O error"
            case .notRegularFile: return "not a regular file"
            case .fileTooLarge: return "file larger than the limit"
            case .truncated: return "checkpoint truncated"
            case .badMagic: return "not a recur checkpoint (bad magic)"
            case .unsupportedVersion: return "unsupported checkpoint version"
            case .unsupportedFeature: return "checkpoint requires an unsupported feature"
            case .corruptPreamble: return "checkpoint preamble corrupt (CRC mismatch)"
            case .headerSize: return "checkpoint header size out of range"
            case .trailingData: return "trailing data after the checkpoint payload"
            case .corruptHeader: return "checkpoint header corrupt (CRC mismatch)"
            case .corruptPayload: return "checkpoint payload corrupt"
            case .headerUTF8: return "checkpoint header is not valid UTF-8"
            case .headerJSON: return "checkpoint header is not valid strict JSON"
            case .headerDepth: return "checkpoint header nested too deeply"
            case .duplicateKey: return "duplicate key in checkpoint header"
            case .schema: return "checkpoint header does not match the schema"
            case .tooManyTensors: return "tensor count out of range"
            case .duplicateTensor: return "duplicate tensor name"
            case .badName: return "invalid tensor name"
            case .badDType: return "unknown tensor dtype"
            case .badShape: return "invalid tensor shape"
            case .shapeOverflow: return "tensor shape product overflows"
            case .tensorTooLarge: return "tensor larger than the limit"
            case .sizeMismatch: return "tensor byte size mismatch"
            case .badOffsets: return "tensor offsets not contiguous"
            case .payloadTooLarge: return "payload larger than the limit"
            case .ratio: return "compression ratio above the limit"
            case .decompressedSize: return "payload inflates to a size other than declared"
            case .missingTensor: return "required tensor missing"
            case .unexpectedTensor: return "unexpected tensor"
            case .shapeMismatch: return "tensor shape differs from the config"
            case .dtypeMismatch: return "tensor dtype differs from the config"
            }
        }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}
