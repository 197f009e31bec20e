import CRecurAPI
import RecurCore

// recur_sampler_*: thin shims over RecurCore.Sampler.

final class SamplerBox {
    let sampler: Sampler
    init(_ s: Sampler) { sampler = s }
}

func samplerBox(_ h: OpaquePointer?, _ what: String = "sampler") throws(RecurError) -> SamplerBox {
    try typedBox(h, .sampler, what)
}

func defaultSamplerParams() -> recur_sampler_params {
    let d = SamplerParams()
    return recur_sampler_params(
        struct_size: UInt32(MemoryLayout<recur_sampler_params>.size), temperature: d.temperature, top_k: UInt32(d.topK),
        top_p: d.topP, min_p: d.minP, repetition_penalty: d.repetitionPenalty, repetition_last_n: UInt32(d.repetitionLastN),
        seed: d.seed)
}

@_cdecl("recur_sampler_params_init")
public func recur_sampler_params_init(_ params: UnsafeMutablePointer<recur_sampler_params>?, _ size: Int) -> recur_status {
    initSized(params, size, defaults: defaultSamplerParams(), v1Size: StructSizes.samplerParams, type: "recur_sampler_params")
}

@_cdecl("recur_sampler_create")
public func recur_sampler_create(
    _ params: UnsafePointer<recur_sampler_params>?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> recur_status {
    out?.pointee = nil
    return withStatus { () throws(RecurError) in
        guard let out else { throw RecurError(.nullPointer, "out is NULL") }
        var p = SamplerParams()
        if let params {
            let c = try readSized(params, defaults: defaultSamplerParams(), v1Size: StructSizes.samplerParams,
                                  type: "recur_sampler_params", initName: "recur_sampler_params_init")
            p.temperature = c.temperature
            p.topK = Int(c.top_k)
            p.topP = c.top_p
            p.minP = c.min_p
            p.repetitionPenalty = c.repetition_penalty
            p.repetitionLastN = Int(c.repetition_last_n)
            p.seed = c.seed
        }
        try publishHandle(.sampler, SamplerBox(try Sampler(params: p)), out)
    }
}

@_cdecl("recur_sampler_free")
public func recur_sampler_free(_ sampler: OpaquePointer?) {
    freeHandle(sampler, .sampler)
}

@_cdecl("recur_sampler_sample")
public func recur_sampler_sample(
    _ sampler: OpaquePointer?, _ logits: UnsafePointer<Float>?, _ n: Int, _ token: UnsafeMutablePointer<Int32>?
) -> recur_status {
    withStatus { () throws(RecurError) in
        let s = try samplerBox(sampler).sampler
        guard let token else { throw RecurError(.nullPointer, "token is NULL") }
        guard n > 0 else { throw RecurError(.invalidArgument, "n is 0: no logits to sample from") }
        guard let logits else { throw RecurError(.nullPointer, "logits is NULL") }
        token.pointee = try s.sample(UnsafeBufferPointer(start: logits, count: n))
    }
}

@_cdecl("recur_sampler_accept")
public func recur_sampler_accept(_ sampler: OpaquePointer?, _ token: Int32) -> recur_status {
    withStatus { () throws(RecurError) in try samplerBox(sampler).sampler.accept(token) }
}

@_cdecl("recur_sampler_reset")
public func recur_sampler_reset(_ sampler: OpaquePointer?) -> recur_status {
    withStatus { () throws(RecurError) in try samplerBox(sampler).sampler.reset() }
}
