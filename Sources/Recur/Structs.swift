import CRecurAPI
import CRecurSupport
import RecurCore

// The append-only rule for parameter structs (include/recur.h, "ABI evolution"): every such
// struct starts with `uint32_t struct_size`, the caller's sizeof. A library reads only the
// bytes the caller's size covers, takes its defaults for fields beyond them, and accepts a
// larger struct only when the bytes past its own fields are zero.
//
// Maintainers: a new field goes at the end, at an offset >= the previous version's sizeof (never
// into tail padding), and gets a default in the `default*` function below; the by-value
// `recur_*_default*` functions are frozen at the version-1 layout (see `StructSizes.v1Frozen`).

/// The version-1 sizes (the `RECUR_*_SIZE_V1` macros of the header: the end of each struct's last
/// version-1 field).
enum StructSizes {
    static let loadOptions = (MemoryLayout<recur_load_options>.offset(of: \.max_payload_size) ?? 0) + 8
    static let modelConfig = (MemoryLayout<recur_model_config>.offset(of: \.metadata_values) ?? 0) + MemoryLayout<Int>.size
    static let saveOptions = (MemoryLayout<recur_save_options>.offset(of: \.compression_level) ?? 0) + 4
    static let trainerConfig = (MemoryLayout<recur_trainer_config>.offset(of: \.progress_every_batch) ?? 0) + 4
    static let dataset = (MemoryLayout<recur_dataset>.offset(of: \.values_len) ?? 0) + MemoryLayout<Int>.size
    /// New in 0.3.0: its first version is the whole struct.
    static let samplerParams = MemoryLayout<recur_sampler_params>.size
    static let max = Int(RECUR_STRUCT_SIZE_MAX)

    /// True while the deprecated by-value functions return exactly the version-1 layout: those
    /// whose struct has not grown return the current struct, recur_model_default_config (its
    /// struct grew in 0.3.0) returns the frozen `rcx_model_config_v1`. A test asserts it: when
    /// another struct grows, it fails until that function returns a frozen copy too.
    static var v1Frozen: Bool {
        MemoryLayout<recur_load_options>.size == loadOptions && MemoryLayout<rcx_model_config_v1>.size == modelConfig
            && MemoryLayout<recur_save_options>.size == saveOptions
            && MemoryLayout<recur_trainer_config>.size == trainerConfig && MemoryLayout<recur_dataset>.size == dataset
    }
}

/// Reads the caller's struct at `p` under the append-only rule.
func readSized<T>(_ p: UnsafePointer<T>, defaults: T, v1Size: Int, type: String, initName: String) throws(RecurError) -> T {
    let raw = UnsafeRawPointer(p)
    let size = Int(raw.loadUnaligned(as: UInt32.self))
    let ours = MemoryLayout<T>.size
    guard size >= v1Size && size <= StructSizes.max else {
        throw RecurError(
            .invalidArgument,
            "\(type).struct_size is \(size) (accepted \(v1Size)...\(StructSizes.max)); initialise the struct with \(initName)(&x, sizeof x)")
    }
    if size > ours {
        for i in ours..<size where raw.load(fromByteOffset: i, as: UInt8.self) != 0 {
            throw RecurError(
                .invalidArgument,
                "\(type) is \(size) bytes and byte \(i) is set, past the \(ours) bytes this library (recur \(RecurVersion.string)) knows: a newer field it cannot honour")
        }
    }
    var out = defaults
    withUnsafeMutableBytes(of: &out) { dst in
        if let d = dst.baseAddress { d.copyMemory(from: raw, byteCount: min(size, ours)) }
    }
    return out
}

/// The `recur_*_init(ptr, size)` functions: zero `size` bytes, write the defaults of the fields
/// that fit, set struct_size = size.
func initSized<T>(_ p: UnsafeMutablePointer<T>?, _ size: Int, defaults: T, v1Size: Int, type: String) -> recur_status {
    withStatus { () throws(RecurError) in
        guard let p else { throw RecurError(.nullPointer, "\(type) pointer is NULL") }
        guard size >= v1Size && size <= StructSizes.max else {
            throw RecurError(.invalidArgument, "size \(size) is not a \(type) size (accepted \(v1Size)...\(StructSizes.max)); pass sizeof(\(type))")
        }
        let raw = UnsafeMutableRawPointer(p)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        var d = defaults
        withUnsafeBytes(of: &d) { src in
            if let s = src.baseAddress { raw.copyMemory(from: s, byteCount: min(size, MemoryLayout<T>.size)) }
        }
        raw.storeBytes(of: UInt32(size), as: UInt32.self)
    }
}
