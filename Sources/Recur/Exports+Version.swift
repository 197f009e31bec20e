import CRecurAPI
import CRecurSupport
import RecurCore

@_cdecl("recur_version_string")
public func recur_version_string() -> UnsafePointer<CChar> {
    rcx_version_string()
}

@_cdecl("recur_version_number")
public func recur_version_number() -> UInt32 {
    UInt32(RECUR_VERSION_MAJOR * 1_000_000 + RECUR_VERSION_MINOR * 1000 + RECUR_VERSION_PATCH)
}

@_cdecl("recur_kernels")
public func recur_kernels() -> UnsafePointer<CChar> {
    let name: StaticString = KernelSet.name == "portable" ? "portable" : "avx2+fma"
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("recur_abi_version")
public func recur_abi_version() -> UInt32 {
    UInt32(RECUR_ABI_VERSION)
}

/// Immutable table of "NAME: summary" C strings, built once (thread-safe lazy init;
/// never mutated afterwards, hence nonisolated(unsafe) is sound).
nonisolated(unsafe) private let statusStrings: [Int32: UnsafeMutablePointer<CChar>] = {
    var t: [Int32: UnsafeMutablePointer<CChar>] = [0: cString("RECUR_OK: success")]
    for c in RecurError.Code.allCases { t[c.rawValue] = cString("\(c.name): \(c.summary)") }
    return t
}()
private let unknownStatus: StaticString = "RECUR_E_UNKNOWN: unknown status code"

@_cdecl("recur_status_string")
public func recur_status_string(_ status: recur_status) -> UnsafePointer<CChar> {
    if let p = statusStrings[status] { return UnsafePointer(p) }
    return UnsafeRawPointer(unknownStatus.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("recur_last_error_message")
public func recur_last_error_message() -> UnsafePointer<CChar> {
    rcx_last_error()
}
