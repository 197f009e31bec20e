// Support/: the engine's shared ground. Files here use only the standard library and libc,
// never Model, Checkpoint, Runtime, Training or Kernels.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// 64-byte aligned, zero-initialised float buffers from the C allocator, so that an
/// allocation failure is a `RecurError(.outOfMemory)` instead of a trap.
enum AlignedBuffer {
    static func allocate(floats count: Int) throws(RecurError) -> UnsafeMutablePointer<Float> {
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow else { throw RecurError(.outOfMemory, "cannot allocate \(count) floats") }
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, bytes) == 0, let p = raw else {
            throw RecurError(.outOfMemory, "cannot allocate \(bytes) bytes")
        }
        memset(p, 0, bytes)
        return p.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    static func free(_ p: UnsafeMutablePointer<Float>) {
        freeRaw(UnsafeMutableRawPointer(p))
    }

    /// 64-byte aligned, zeroed int8 buffer.
    static func allocate(int8 count: Int) throws(RecurError) -> UnsafeMutablePointer<Int8> {
        let f = try allocate(floats: (max(count, 1) + 3) / 4)
        return UnsafeMutableRawPointer(f).bindMemory(to: Int8.self, capacity: max(count, 1))
    }

    /// 64-byte aligned, zeroed int16 buffer.
    static func allocate(int16 count: Int) throws(RecurError) -> UnsafeMutablePointer<Int16> {
        let f = try allocate(floats: (max(count, 1) + 1) / 2)
        return UnsafeMutableRawPointer(f).bindMemory(to: Int16.self, capacity: max(count, 1))
    }

    static func free(_ p: UnsafeMutablePointer<Int16>) {
        freeRaw(UnsafeMutableRawPointer(p))
    }

    static func free(_ p: UnsafeMutablePointer<Int8>) {
        freeRaw(UnsafeMutableRawPointer(p))
    }
}

@inline(__always)
private func freeRaw(_ p: UnsafeMutableRawPointer) {
    free(p)
}
