import CRecurAPI
import RecurCore

func publishSession(_ s: Session, _ out: UnsafeMutablePointer<OpaquePointer?>) throws(RecurError) {
    try publishHandle(.session, SessionBox(s), out)
}

@_cdecl("recur_session_create")
public func recur_session_create(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> recur_status {
    recur_session_create_batch(model, 1, out)
}

@_cdecl("recur_session_create_batch")
public func recur_session_create_batch(
    _ model: OpaquePointer?, _ batch: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let m = try modelBox(model).model
        try publishSession(try Session(model: m, batchSize: batch), out)
    }
}

@_cdecl("recur_session_clone")
public func recur_session_clone(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        let s = try sessionBox(session).session
        try publishSession(try s.clone(), out)
    }
}

@_cdecl("recur_session_free")
public func recur_session_free(_ session: OpaquePointer?) {
    freeHandle(session, .session)
}

@_cdecl("recur_session_batch_size")
public func recur_session_batch_size(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    withStatus { () throws(RecurError) in
        try writeOut(out, try sessionBox(session).session.batchSize)
    }
}

@_cdecl("recur_session_set_threads")
public func recur_session_set_threads(_ session: OpaquePointer?, _ threads: UInt32) -> recur_status {
    withStatus { () throws(RecurError) in
        try sessionBox(session).session.setThreads(Int(threads))
    }
}

@_cdecl("recur_session_threads")
public func recur_session_threads(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<UInt32>?) -> recur_status {
    withStatus { () throws(RecurError) in
        try writeOut(out, UInt32(try sessionBox(session).session.threads))
    }
}

@_cdecl("recur_session_reset")
public func recur_session_reset(_ session: OpaquePointer?) -> recur_status {
    withStatus { () throws(RecurError) in
        try sessionBox(session).session.reset()
    }
}

@_cdecl("recur_session_reset_stream")
public func recur_session_reset_stream(_ session: OpaquePointer?, _ stream: Int) -> recur_status {
    withStatus { () throws(RecurError) in
        try sessionBox(session).session.reset(stream: stream)
    }
}

/// Checks a (pointer, length) input pair: NULL with a nonzero length is an error.
@inline(__always)
func inBuffer(_ p: UnsafePointer<Float>?, _ n: Int, _ what: String) throws(RecurError) -> UnsafeBufferPointer<Float> {
    guard n >= 0 else { throw RecurError(.lengthMismatch, "\(what)_len is negative") }
    guard p != nil || n == 0 else { throw RecurError(.nullPointer, "\(what) is NULL with \(what)_len \(n)") }
    return UnsafeBufferPointer(start: p, count: n)
}

/// Output pair: NULL pointer means "no output" and requires length 0.
@inline(__always)
func outBuffer(_ p: UnsafeMutablePointer<Float>?, _ n: Int, _ what: String) throws(RecurError) -> UnsafeMutableBufferPointer<Float>? {
    guard n >= 0 else { throw RecurError(.lengthMismatch, "\(what)_len is negative") }
    guard let p else {
        guard n == 0 else { throw RecurError(.nullPointer, "\(what) is NULL with \(what)_len \(n)") }
        return nil
    }
    return UnsafeMutableBufferPointer(start: p, count: n)
}

@_cdecl("recur_session_step")
public func recur_session_step(
    _ session: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xLen: Int, _ y: UnsafeMutablePointer<Float>?, _ yLen: Int
) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try sessionBox(session).session
        try s.step(try inBuffer(x, xLen, "x"), try outBuffer(y, yLen, "y"))
    }
}

@_cdecl("recur_session_run")
public func recur_session_run(
    _ session: OpaquePointer?, _ xs: UnsafePointer<Float>?, _ xsLen: Int, _ nSteps: Int,
    _ ys: UnsafeMutablePointer<Float>?, _ ysLen: Int
) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try sessionBox(session).session
        guard nSteps >= 0 else { throw RecurError(.invalidArgument, "n_steps is negative") }
        try s.run(try inBuffer(xs, xsLen, "xs"), steps: nSteps, try outBuffer(ys, ysLen, "ys"))
    }
}

@_cdecl("recur_session_get_hidden")
public func recur_session_get_hidden(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ outLen: Int) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try sessionBox(session).session
        guard let buf = try outBuffer(out, outLen, "out") else {
            throw RecurError(.nullPointer, "out is NULL")
        }
        try s.getHidden(buf)
    }
}

@_cdecl("recur_session_set_hidden")
public func recur_session_set_hidden(_ session: OpaquePointer?, _ h: UnsafePointer<Float>?, _ hLen: Int) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try sessionBox(session).session
        try s.setHidden(try inBuffer(h, hLen, "h"))
    }
}

@_cdecl("recur_session_state_bytes")
public func recur_session_state_bytes(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    withStatus { () throws(RecurError) in
        try writeOut(out, try sessionBox(session).session.snapshotSize)
    }
}

/// Deprecated name of recur_session_state_bytes.
@_cdecl("recur_session_state_size")
public func recur_session_state_size(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> recur_status {
    recur_session_state_bytes(session, out)
}

@_cdecl("recur_session_get_state")
public func recur_session_get_state(_ session: OpaquePointer?, _ buf: UnsafeMutableRawPointer?, _ len: Int) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try sessionBox(session).session
        guard let buf else { throw RecurError(.nullPointer, "buf is NULL") }
        guard len >= 0 else { throw RecurError(.lengthMismatch, "len is negative") }
        try s.writeSnapshot(into: UnsafeMutableRawBufferPointer(start: buf, count: len))
    }
}

@_cdecl("recur_session_set_state")
public func recur_session_set_state(_ session: OpaquePointer?, _ buf: UnsafeRawPointer?, _ len: Int) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try sessionBox(session).session
        guard let buf else { throw RecurError(.nullPointer, "buf is NULL") }
        guard len >= 0 else { throw RecurError(.lengthMismatch, "len is negative") }
        try s.restore(snapshot: UnsafeRawBufferPointer(start: buf, count: len))
    }
}
