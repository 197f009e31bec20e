import CRecurAPI
import CRecurSupport
import RecurCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Handles given to C are small malloc'd headers: [kind tag: UInt64][Unmanaged object].
// The tag lets every entry point reject a handle of the wrong kind (or a pointer to
// arbitrary readable memory) with RECUR_E_BAD_HANDLE instead of crashing; free()
// overwrites the tag before releasing, so a double free is usually caught too.

enum HandleKind: UInt64 {
    case model = 0x4C45_444F_4D52_4352  // "RCRMODEL"
    case session = 0x4E4F_4953_5353_4352  // "RCSSSION"
    case trainer = 0x5245_4E49_4152_5452  // "RTRAINER"
    case sampler = 0x5245_4C50_4D41_5352  // "RSAMPLER"

    var cName: String {
        switch self {
        case .model: return "recur_model"
        case .session: return "recur_session"
        case .trainer: return "recur_trainer"
        case .sampler: return "recur_sampler"
        }
    }
    static let dead: UInt64 = 0xDEAD_DEAD_DEAD_DEAD
}

/// What a model handle owns: the model and C copies of its strings.
final class ModelBox {
    let model: Model
    let labels: [UnsafeMutablePointer<CChar>]
    let metaKeys: [UnsafeMutablePointer<CChar>]
    let metaValues: [UnsafeMutablePointer<CChar>]

    init(_ model: Model) {
        self.model = model
        labels = model.labels.map { cString($0) }
        metaKeys = model.metadata.map { cString($0.key) }
        metaValues = model.metadata.map { cString($0.value) }
    }

    deinit {
        for p in labels + metaKeys + metaValues { free(p) }
    }
}

final class TrainerBox {
    let trainer: Trainer
    init(_ t: Trainer) { trainer = t }
}

func trainerBox(_ h: OpaquePointer?, _ what: String = "trainer") throws(RecurError) -> TrainerBox {
    try typedBox(h, .trainer, what)
}

final class SessionBox {
    let session: Session
    init(_ s: Session) { session = s }
}

/// A malloc'd NUL-terminated copy (strings come from validated models: no interior NUL).
func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
    let bytes = Array(s.utf8)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
    for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
    p[bytes.count] = 0
    return p
}

private let headerSize = 16

/// A new handle of `kind` for `object` in *out, or `.outOfMemory`.
func publishHandle(_ kind: HandleKind, _ object: AnyObject, _ out: UnsafeMutablePointer<OpaquePointer?>) throws(RecurError) {
    guard let h = makeHandle(kind, object) else { throw RecurError(.outOfMemory, "cannot allocate a \(kind.cName) handle") }
    out.pointee = h
}

/// The object of a live handle of `kind`, as `T` (the box type of that kind).
func typedBox<T: AnyObject>(_ h: OpaquePointer?, _ kind: HandleKind, _ what: String) throws(RecurError) -> T {
    guard let box = try handleObject(h, kind, what) as? T else {
        throw RecurError(.badHandle, "\(what) is not a \(kind.cName) handle")
    }
    return box
}

func makeHandle(_ kind: HandleKind, _ object: AnyObject) -> OpaquePointer? {
    guard let raw = malloc(headerSize) else { return nil }
    raw.storeBytes(of: kind.rawValue, as: UInt64.self)
    raw.storeBytes(of: Unmanaged.passRetained(object).toOpaque(), toByteOffset: 8, as: UnsafeMutableRawPointer.self)
    return OpaquePointer(raw)
}

func handleObject(_ h: OpaquePointer?, _ kind: HandleKind, _ what: String) throws(RecurError) -> AnyObject {
    guard let h else { throw RecurError(.nullPointer, "\(what) is NULL") }
    let raw = UnsafeRawPointer(h)
    let tag = raw.loadUnaligned(as: UInt64.self)
    guard tag == kind.rawValue else {
        if let other = HandleKind(rawValue: tag) {
            throw RecurError(.badHandle, "\(what) is a \(other.cName) handle, not a \(kind.cName)")
        }
        if tag == HandleKind.dead {
            throw RecurError(.badHandle, "\(what) was already freed")
        }
        throw RecurError(.badHandle, "\(what) is not a recur handle")
    }
    let obj = raw.loadUnaligned(fromByteOffset: 8, as: UnsafeMutableRawPointer.self)
    return Unmanaged<AnyObject>.fromOpaque(obj).takeUnretainedValue()
}

func modelBox(_ h: OpaquePointer?, _ what: String = "model") throws(RecurError) -> ModelBox {
    try typedBox(h, .model, what)
}

func sessionBox(_ h: OpaquePointer?, _ what: String = "session") throws(RecurError) -> SessionBox {
    try typedBox(h, .session, what)
}

/// Releases a handle of `kind`; anything else (NULL, wrong kind, already freed) is ignored.
func freeHandle(_ h: OpaquePointer?, _ kind: HandleKind) {
    guard let h else { return }
    let raw = UnsafeMutableRawPointer(h)
    guard raw.loadUnaligned(as: UInt64.self) == kind.rawValue else {
        setLastError(RecurError(.badHandle, "free of a pointer that is not a live \(kind.cName) handle (ignored)"))
        return
    }
    let obj = raw.loadUnaligned(fromByteOffset: 8, as: UnsafeMutableRawPointer.self)
    raw.storeBytes(of: HandleKind.dead, as: UInt64.self)
    Unmanaged<AnyObject>.fromOpaque(obj).release()
    free(raw)
}

// MARK: - Status plumbing

func setLastError(_ e: RecurError) {
    let text = e.description
    var utf8 = Array(text.utf8)
    utf8.withUnsafeMutableBufferPointer { p in
        p.baseAddress?.withMemoryRebound(to: CChar.self, capacity: p.count) { c in
            rcx_set_last_error(c, p.count)
        }
    }
}

/// Runs `body`; maps a thrown RecurError to its status and records the message.
@inline(__always)
func withStatus(_ body: () throws(RecurError) -> Void) -> recur_status {
    do {
        try body()
        return RECUR_OK
    } catch {
        setLastError(error)
        return error.code.rawValue
    }
}

@inline(__always)
func writeOut<T>(_ p: UnsafeMutablePointer<T>?, _ value: T, _ what: String = "out") throws(RecurError) {
    guard let p else { throw RecurError(.nullPointer, "\(what) is NULL") }
    p.pointee = value
}

/// Reads a C string argument (must be valid UTF-8).
func swiftString(_ p: UnsafePointer<CChar>?, _ what: String, error code: RecurError.Code = .invalidArgument) throws(RecurError) -> String {
    guard let p else { throw RecurError(.nullPointer, "\(what) is NULL") }
    let n = strlen(p)
    let buf = UnsafeRawBufferPointer(start: p, count: n)
    guard let s = String(validating: buf, as: UTF8.self) else {
        throw RecurError(code, "\(what) is not valid UTF-8")
    }
    return s
}

/// The size-query-then-write protocol of the `*_save_*_memory` functions: always report the
/// size in *outLen; copy only when `buf` holds at least that many bytes.
func copyOut(_ bytes: [UInt8], to buf: UnsafeMutableRawPointer?, cap: Int, outLen: UnsafeMutablePointer<Int>, what: String)
    throws(RecurError)
{
    outLen.pointee = bytes.count
    guard let buf, cap >= bytes.count else {
        throw RecurError(.bufferTooSmall, "the \(what) needs \(bytes.count) bytes; buffer capacity is \(buf == nil ? 0 : cap)")
    }
    bytes.withUnsafeBytes { p in
        if let b = p.baseAddress { buf.copyMemory(from: b, byteCount: bytes.count) }
    }
}
