import CRecurKernels

/// One matrix product of a layer's step: outputs[r] = Σ_k w[r][k] · input[k] + bias[r] over
/// `rows` rows of the model's padded weight buffer (the same offsets in the int8 codes).
@usableFromInline
struct ProductSpec: Sendable {
    /// Where the input vector comes from, per stream: the layer's `[x | h]` block (at an offset:
    /// 0 for x, inputPad for h) or the stream's gate scratch.
    enum Source: Sendable, Equatable { case z(Int), gates(Int) }
    /// Where the outputs go, per stream: the layer's new-state block or the gate scratch.
    enum Sink: Sendable, Equatable { case next(Int), gates(Int) }
    let w: Int  // offset of the first row (at its first multiplied column)
    let stride: Int  // floats between rows
    let rows: Int
    let cols: Int  // a multiple of 8
    let split: Int  // int8: the first `split` columns use scale A, the rest scale B
    let scaleA: Int, scaleB: Int  // int8: offsets of the per-row scales in `qscales`
    let bias: Int  // offset of `rows` bias floats
    let input: Source
    let output: Sink
}

/// A layer's products (1 to 3), stored inline so a `LayerLayout` is plain data: reading one in
/// the step copies no array and retains nothing.
struct ProductList: RandomAccessCollection, Sendable {
    private let p0: ProductSpec, p1: ProductSpec, p2: ProductSpec
    let count: Int

    init(_ list: [ProductSpec]) {
        // 1 ... 3 products (LayerLayout.make builds every list); unused slots repeat the first.
        count = Swift.min(list.count, 3)
        p0 = list[0]
        p1 = list.count > 1 ? list[1] : list[0]
        p2 = list.count > 2 ? list[2] : list[0]
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }
    subscript(k: Int) -> ProductSpec { k == 0 ? p0 : k == 1 ? p1 : p2 }
}

/// Where one layer's weights sit in the model's padded buffer, and the products of its step.
///
/// Rows hold `[W row (inputPad) | U row (recurPad)]`. Elman: H rows, then the bias (sizePad).
/// Gated layers stack their gate blocks each padded to sizePad rows (so each gate's outputs are
/// aligned), then b_ih, b_hh and their sum (gates x sizePad each), then for a projected LSTM the
/// P projection rows (sizePad floats each) and a zero bias (projPad).
///
/// A small GRU (`fusedN`: sizePad x stride <= `LayerLayout.fuseLimit`) stacks a fourth block so
/// its whole step is one product: r, z rows `[W | U]`, then n's input rows `[W_in | 0]` and n's
/// recurrent rows `[0 | W_hn]` (the reset gate multiplies only the latter). That is a third more
/// multiply-adds than the three products of a large GRU, and cheaper while the layer is small
/// enough for the products' fixed cost to dominate (GRU-16: see bench/README.md).
@usableFromInline
struct LayerLayout: Sendable {
    let kind: LayerKind
    let activation: Activation
    let inputSize: Int  // I
    let size: Int  // H
    let recur: Int  // R: the output and recurrent width (P for a projected LSTM, else H)
    let proj: Int  // P (0: none)
    let inputPad: Int  // I rounded up to 8
    let sizePad: Int  // H rounded up to 8
    let recurPad: Int  // R rounded up to 8
    let projPad: Int
    let stride: Int  // inputPad + recurPad
    let weightOffset: Int
    let biasOffset: Int  // elman: the bias; gated: b_ih, then b_hh, then b_ih + b_hh
    let projOffset: Int
    let scaleOffset: Int  // int8: W-row scales (gates x sizePad), U-row scales (same), projection rows
    let products: ProductList
    /// Floats of per-stream gate scratch the step of this layer uses (0 for elman).
    let gateFloats: Int
    /// A small GRU's single product (see above): n's recurrent rows are a fourth block.
    let fusedN: Bool

    /// Largest sizePad x stride of a GRU that uses the fused single product.
    static let fuseLimit = 1024

    var gates: Int { kind.gates }
    /// Stacked row blocks of the weight matrix: the gates, plus one for a fused GRU's n_h rows.
    var blocks: Int { kind.gates + (fusedN ? 1 : 0) }
    /// Padded rows of the stacked weight block (elman: sizePad, as its scales are laid out).
    var rowsPad: Int { blocks * sizePad }
    var biasInOffset: Int { biasOffset }
    var biasRecOffset: Int { biasOffset + rowsPad }
    var biasSumOffset: Int { biasOffset + 2 * rowsPad }
    /// Floats of this layer's block in a stream's state: [x | h], then the LSTM cell (sizePad).
    var stateBlock: Int { stride + (kind == .lstm ? sizePad : 0) }
    /// Floats of this layer's new state per stream: h (recurPad), then the LSTM cell (sizePad).
    var nextBlock: Int { recurPad + (kind == .lstm ? sizePad : 0) }

    /// The layout of layer `l` of `config` whose weights start at `base` and scales at `scales`;
    /// `end` and `scalesEnd` receive the ends.
    static func make(_ config: ModelConfig, _ l: Int, base: Int, scales: Int) -> (LayerLayout, end: Int, scalesEnd: Int) {
        let layer = config.layers[l]
        let i = config.layerInputSize(l), h = layer.size, r = layer.outputWidth, p = layer.projSize
        let ip = Kernels.pad8(i), hp = Kernels.pad8(h), rp = Kernels.pad8(r), pp = Kernels.pad8(p)
        let stride = ip + rp
        let fused = layer.kind == .gru && hp * stride <= LayerLayout.fuseLimit
        let g = layer.kind.gates + (fused ? 1 : 0)
        let rowsPad = g * hp
        let w = base
        var end = base
        var products: [ProductSpec] = []
        var gateFloats = 0
        let biasOffset: Int
        var projOffset = 0
        switch layer.kind {
        case .elman:
            end += h * stride
            biasOffset = end
            end += hp
            products = [ProductSpec(
                w: w, stride: stride, rows: h, cols: stride, split: ip, scaleA: scales, scaleB: scales + hp,
                bias: biasOffset, input: .z(0), output: .next(0))]
        case .gru, .gruResetBefore:
            end += rowsPad * stride
            biasOffset = end
            end += 3 * rowsPad
            let sum = biasOffset + 2 * rowsPad, bIn = biasOffset, bRec = biasOffset + rowsPad
            // r and z from [x | h] at once; n's input and recurrent halves apart, since the reset
            // gate multiplies only the recurrent one: gates scratch = [r | z | W_in x | W_hn · | v].
            // Fused: all four blocks in one product, whose bias is the sum area with b_in and
            // b_hn in blocks 2 and 3 (`Model` fills it).
            products = fused ? [
                ProductSpec(w: w, stride: stride, rows: 4 * hp, cols: stride, split: ip, scaleA: scales,
                            scaleB: scales + rowsPad, bias: sum, input: .z(0), output: .gates(0))
            ] : [
                ProductSpec(w: w, stride: stride, rows: 2 * hp, cols: stride, split: ip, scaleA: scales,
                            scaleB: scales + rowsPad, bias: sum, input: .z(0), output: .gates(0)),
                ProductSpec(w: w + 2 * hp * stride, stride: stride, rows: hp, cols: ip, split: ip,
                            scaleA: scales + 2 * hp, scaleB: scales + 2 * hp, bias: bIn + 2 * hp, input: .z(0),
                            output: .gates(2 * hp)),
                ProductSpec(w: w + 2 * hp * stride + ip, stride: stride, rows: hp, cols: rp, split: rp,
                            scaleA: scales + rowsPad + 2 * hp, scaleB: scales + rowsPad + 2 * hp, bias: bRec + 2 * hp,
                            input: layer.kind == .gru ? .z(ip) : .gates(4 * hp), output: .gates(3 * hp)),
            ]
            gateFloats = 5 * hp
        case .lstm:
            end += rowsPad * stride
            biasOffset = end
            end += 3 * rowsPad
            products = [ProductSpec(
                w: w, stride: stride, rows: rowsPad, cols: stride, split: ip, scaleA: scales,
                scaleB: scales + rowsPad, bias: biasOffset + 2 * rowsPad, input: .z(0), output: .gates(0))]
            gateFloats = 4 * hp
            if p > 0 {
                projOffset = end
                end += p * hp
                let zeroBias = end
                end += pp
                // h' = W_hr (o ⊙ tanh(c')): the unprojected h waits in the gate scratch.
                products.append(ProductSpec(
                    w: projOffset, stride: hp, rows: p, cols: hp, split: hp, scaleA: scales + 2 * rowsPad,
                    scaleB: scales + 2 * rowsPad, bias: zeroBias, input: .gates(4 * hp), output: .next(0)))
                gateFloats += hp
            }
        }
        let lay = LayerLayout(
            kind: layer.kind, activation: layer.activation, inputSize: i, size: h, recur: r, proj: p, inputPad: ip,
            sizePad: hp, recurPad: rp, projPad: pp, stride: stride, weightOffset: w, biasOffset: biasOffset,
            projOffset: projOffset, scaleOffset: scales, products: ProductList(products), gateFloats: gateFloats,
            fusedN: fused)
        return (lay, end, scales + 2 * rowsPad + pp)
    }

    /// Calls `run(at, count)` for each canonical row or vector of this layer, in canonical order
    /// (elman: W rows, U rows, b; gated: W_ih rows, W_hh rows, b_ih, b_hh, W_hr rows), with the
    /// offset of its first float in the weight buffer; `scale` gets the int8 scale offset of
    /// matrix rows (nil for biases).
    @inline(__always)
    func forEachCanonical(_ run: (_ at: Int, _ count: Int, _ scale: Int?) -> Void) {
        let hp = sizePad
        if kind == .elman {
            for r in 0..<size { run(weightOffset + r * stride, inputSize, scaleOffset + r) }
            for r in 0..<size { run(weightOffset + r * stride + inputPad, size, scaleOffset + hp + r) }
            run(biasOffset, size, nil)
            return
        }
        for g in 0..<gates { for r in 0..<size { run(weightOffset + (g * hp + r) * stride, inputSize, scaleOffset + g * hp + r) } }
        for g in 0..<gates {
            let b = fusedN && g == 2 ? 3 : g  // a fused GRU's W_hn rows are block 3
            for r in 0..<size { run(weightOffset + (b * hp + r) * stride + inputPad, recur, scaleOffset + rowsPad + b * hp + r) }
        }
        for g in 0..<gates { run(biasInOffset + g * hp, size, nil) }
        for g in 0..<gates { run(biasRecOffset + g * hp, size, nil) }
        for q in 0..<proj { run(projOffset + q * hp, size, scaleOffset + 2 * rowsPad + q) }
    }
}

/// An immutable feedback network: config, weights, labels and metadata.
///
/// A model never changes after construction and may be shared by any number of
/// threads. Sessions (`Session`) hold the mutable recurrent state.
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    /// Class labels: empty, or exactly `config.outputSize` entries.
    public let labels: [String]
    /// Free-form string metadata, in file (insertion) order; keys are unique.
    public let metadata: [(key: String, value: String)]
    /// Hash of the body (input size, layer sizes, activations, body weights); state
    /// snapshots are bound to it. Computed on first use (FNV-1a is one multiply per byte:
    /// about half a millisecond for 85k parameters, which a load no longer pays).
    public var bodyFingerprint: UInt64 { fingerprints().body }
    /// Hash of the whole model (body fingerprint, head shape and weights, transform).
    public var fingerprint: UInt64 { fingerprints().full }

    @usableFromInline let layout: [LayerLayout]
    @usableFromInline let headOffset: Int  // outputSize rows of headStride floats
    @usableFromInline let headStride: Int
    @usableFromInline let headBiasOffset: Int
    @usableFromInline let weights: UnsafeMutablePointer<Float>
    let weightCount: Int
    /// int8 models only: the weight matrices as int8 at the float layout's offsets, and the
    /// per-row scales (layer l at `layout[l].scaleOffset`, the head at `headScaleOffset`).
    @usableFromInline let qweights: UnsafeMutablePointer<Int8>?
    @usableFromInline let qscales: UnsafeMutablePointer<Float>?
    @usableFromInline let headScaleOffset: Int
    /// Batched sessions on the AVX2 kernels (`Session.packedMinBatch` streams or more): the
    /// layer weight rows copied into panels of 16 rows for the packed GEMM kernel, layer l at
    /// `packedOffsets[l]` (`packedCount` floats). Built on first use by `packedWeights()`,
    /// then shared read-only; published through a pointer slot that ends the weight buffer.
    let packedOffsets: [[Int]]  // [layer][product]
    let packedCount: Int

    /// Builds a model from canonical parameters (see `ModelConfig.tensorSpecs`:
    /// per layer W (H x I), U (H x H), b (H); then Wo (O x H), bo (O); row-major).
    public convenience init(
        config: ModelConfig, parameters: UnsafeBufferPointer<Float>,
        labels: [String] = [], metadata: [(key: String, value: String)] = []
    ) throws(RecurError) {
        let s = try Model.build(config: config, parameters: parameters, labels: labels, metadata: metadata)
        self.init(config: config, labels: labels, metadata: metadata, storage: s)
    }

    /// Convenience: build from a Swift array of canonical parameters.
    public convenience init(
        config: ModelConfig, parameters: [Float],
        labels: [String] = [], metadata: [(key: String, value: String)] = []
    ) throws(RecurError) {
        let r: Result<Storage, RecurError> = parameters.withUnsafeBufferPointer { p in
            do throws(RecurError) {
                return .success(try Model.build(config: config, parameters: p, labels: labels, metadata: metadata))
            } catch {
                return .failure(error)
            }
        }
        let s = try r.get()
        self.init(config: config, labels: labels, metadata: metadata, storage: s)
    }

    private init(config: ModelConfig, labels: [String], metadata: [(key: String, value: String)], storage s: Storage) {
        self.config = config
        self.labels = labels
        self.metadata = metadata
        self.layout = s.layout
        self.headOffset = s.headOffset
        self.headStride = s.headStride
        self.headBiasOffset = s.headBiasOffset
        self.weights = s.weights
        self.weightCount = s.weightCount
        self.qweights = s.qweights
        self.qscales = s.qscales
        self.headScaleOffset = s.headScaleOffset
        var off = 0
        var offsets: [[Int]] = []
        for lay in s.layout {
            var per: [Int] = []
            for pr in lay.products {
                per.append(off)
                off += (pr.rows + 15) / 16 * 16 * pr.cols
            }
            offsets.append(per)
        }
        self.packedOffsets = offsets
        self.packedCount = off
    }

    deinit {
        if let p = rk_slot_load(packedSlot) { AlignedBuffer.free(p.assumingMemoryBound(to: Float.self)) }
        AlignedBuffer.free(weights)
        if let q = qweights { AlignedBuffer.free(q) }
        if let q = qscales { AlignedBuffer.free(q) }
    }

    private struct Storage {
        var layout: [LayerLayout]
        var headOffset: Int
        var headStride: Int
        var headBiasOffset: Int
        var weights: UnsafeMutablePointer<Float>
        var weightCount: Int
        var qweights: UnsafeMutablePointer<Int8>?
        var qscales: UnsafeMutablePointer<Float>?
        var headScaleOffset: Int
    }

    private static func build(
        config: ModelConfig, parameters: UnsafeBufferPointer<Float>,
        labels: [String], metadata: [(key: String, value: String)]
    ) throws(RecurError) -> Storage {
        guard config.weightDType == .i8 else {
            return try buildLayout(config: config, parameters: parameters, labels: labels, metadata: metadata)
        }
        // int8: the canonical parameters become the dequantised values (validated first,
        // so NaN never reaches the quantiser).
        try config.validate()
        let expected = config.parameterCount
        guard parameters.count == expected, let base = parameters.baseAddress else {
            throw RecurError(.lengthMismatch, "expected \(expected) parameters for this config, got \(parameters.count)")
        }
        for i in 0..<expected where !base[i].isFinite {
            throw RecurError(.nonFiniteWeight, "parameter \(i) is \(base[i])")
        }
        var p = Array(parameters)
        let r: Result<Storage, RecurError> = p.withUnsafeMutableBufferPointer { mp in
            guard let mb = mp.baseAddress else { return .failure(RecurError(.nullPointer, "parameters buffer is empty")) }
            var off = 0
            for spec in config.tensorSpecs {
                if spec.isMatrix {
                    let cols = spec.shape[1]
                    for row in 0..<spec.shape[0] { Quant.quantiseRow(mb + off + row * cols, cols, codes: nil) }
                }
                off += spec.count
            }
            do throws(RecurError) {
                return .success(try buildLayout(config: config, parameters: UnsafeBufferPointer(mp), labels: labels, metadata: metadata))
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }

    private static func buildLayout(
        config: ModelConfig, parameters: UnsafeBufferPointer<Float>,
        labels: [String], metadata: [(key: String, value: String)]
    ) throws(RecurError) -> Storage {
        try config.validate()
        let specs = config.tensorSpecs
        let expected = specs.reduce(0) { $0 + $1.count }
        guard parameters.count == expected else {
            throw RecurError(.lengthMismatch, "expected \(expected) parameters for this config, got \(parameters.count)")
        }
        guard let base = parameters.baseAddress else {
            throw RecurError(.nullPointer, "parameters buffer is empty")
        }
        var off = 0
        for s in specs {
            if !Kernels.allFinite(base + off, s.count) {
                for i in off..<(off + s.count) where !base[i].isFinite {
                    throw RecurError(.nonFiniteWeight, "\(s.name)[\(i - off)] is \(base[i])")
                }
            }
            off += s.count
        }
        try Model.validate(labels: labels, outputSize: config.outputSize)
        try Model.validate(metadata: metadata)

        // Padded layout.
        var layout: [LayerLayout] = []
        var total = 0
        var scales = 0
        for l in config.layers.indices {
            let (lay, end, scalesEnd) = LayerLayout.make(config, l, base: total, scales: scales)
            layout.append(lay)
            total = end
            scales = scalesEnd
        }
        let hs = Kernels.pad8(config.lastLayerSize)
        let headOffset = total
        total += config.outputSize * hs
        let headBiasOffset = total
        total += Kernels.pad8(config.outputSize)
        // `slotFloats` zeroed floats after the weights: the packed-weights pointer and the
        // fingerprint cache (`packedSlot`, `fingerprintCache`).
        let buf = try AlignedBuffer.allocate(floats: total + Model.slotFloats)

        // Scatter canonical parameters into the padded layout (padding stays zero), and for
        // gated layers the summed biases b_ih + b_hh their products use.
        var src = 0
        for lay in layout {
            lay.forEachCanonical { at, n, _ in
                (buf + at).update(from: base + src, count: n)
                src += n
            }
            if lay.kind != .elman {
                for k in 0..<lay.rowsPad { buf[lay.biasSumOffset + k] = buf[lay.biasInOffset + k] + buf[lay.biasRecOffset + k] }
            }
            if lay.fusedN {  // the single product's bias: [b_r sum | b_z sum | b_in | b_hn]
                let hp = lay.sizePad
                (buf + lay.biasSumOffset + 2 * hp).update(from: buf + lay.biasInOffset + 2 * hp, count: hp)
                (buf + lay.biasSumOffset + 3 * hp).update(from: buf + lay.biasRecOffset + 2 * hp, count: hp)
            }
        }
        let h = config.lastLayerSize
        for o in 0..<config.outputSize {
            (buf + headOffset + o * hs).update(from: base + src + o * h, count: h)
        }
        src += config.outputSize * h
        (buf + headBiasOffset).update(from: base + src, count: config.outputSize)

        // int8 rows (the floats are already dequantised, so this reproduces the codes).
        var qweights: UnsafeMutablePointer<Int8>? = nil
        var qscales: UnsafeMutablePointer<Float>? = nil
        let headScaleOffset = scales
        if config.weightDType == .i8 {
            let tmp: UnsafeMutablePointer<Float>
            do {
                qweights = try AlignedBuffer.allocate(int8: total)
                qscales = try AlignedBuffer.allocate(floats: scales + Kernels.pad8(config.outputSize))
                tmp = try AlignedBuffer.allocate(floats: max(hs, layout.map { max($0.stride, $0.sizePad) }.max() ?? 0))
            } catch {
                AlignedBuffer.free(buf)
                if let q = qweights { AlignedBuffer.free(q) }
                if let q = qscales { AlignedBuffer.free(q) }
                throw error
            }
            defer { AlignedBuffer.free(tmp) }
            if let q = qweights, let sc = qscales {
                func row(_ at: Int, _ n: Int) -> Float {
                    tmp.update(from: buf + at, count: n)
                    return Quant.quantiseRow(tmp, n, codes: q + at)
                }
                for lay in layout {
                    lay.forEachCanonical { at, n, scale in
                        if let scale { sc[scale] = row(at, n) }
                    }
                }
                for o in 0..<config.outputSize {
                    sc[headScaleOffset + o] = row(headOffset + o * hs, h)
                }
            }
        }

        return Storage(
            layout: layout, headOffset: headOffset, headStride: hs, headBiasOffset: headBiasOffset,
            weights: buf, weightCount: total, qweights: qweights, qscales: qscales, headScaleOffset: headScaleOffset)
    }

    /// Floats reserved after the weights (zeroed, 32-byte aligned): the `packedSlot` pointer,
    /// then the cached fingerprints (body, full) and their "computed" flag, 8 bytes each.
    static let slotFloats = 8

    /// The atomic pointer slot behind `packedWeights()` (NULL until the first batched session).
    var packedSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        UnsafeMutableRawPointer(weights + weightCount).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    }

    private var fingerprintCache: UnsafeMutablePointer<UInt64> {
        UnsafeMutableRawPointer(weights + weightCount + 2).assumingMemoryBound(to: UInt64.self)
    }

    /// The fingerprints, computed once and cached (concurrent first uses compute the same
    /// values; the flag is published after them with release order).
    func fingerprints() -> (body: UInt64, full: UInt64) {
        let c = fingerprintCache
        if rk_u64_load(c + 2) == 1 { return (rk_u64_load(c), rk_u64_load(c + 1)) }
        var fp = FNV1a()
        fp.add(0x7265_6375_725f_6264)  // "recur_bd"
        fp.add(UInt64(config.inputSize))
        fp.add(UInt64(config.layers.count))
        for layer in config.layers {
            fp.add(UInt64(layer.size))
            fp.add(UInt64(UInt32(bitPattern: layer.activation.rawValue)))
            if layer.kind != .elman {  // elman bodies hash as they always did
                fp.add(0x6B69_6E64_0000_0000 | UInt64(UInt32(bitPattern: layer.kind.rawValue)))  // "kind"
                fp.add(UInt64(layer.projSize))
            }
        }
        var body: UInt64 = 0
        forEachCanonicalRun({ p, n in
            for i in 0..<n { fp.add(float: p[i].bitPattern) }
        }, headStart: {
            body = fp.value
            fp.add(UInt64(config.outputSize))
            fp.add(UInt64(UInt32(bitPattern: config.outputTransform.rawValue)))
        })
        rk_u64_store(c, body)
        rk_u64_store(c + 1, fp.value)
        rk_u64_store(c + 2, 1)
        return (body, fp.value)
    }

    /// The packed panels for batched sessions, built once per model (under concurrent first
    /// uses every thread gets the same published copy); nil on int8 models or without the
    /// AVX2 kernels (the portable kernels use the row layout). Throws only `.outOfMemory`.
    func packedWeights() throws(RecurError) -> UnsafePointer<Float>? {
        guard qweights == nil, Kernels.hasPackedGEMM else { return nil }
        if let p = rk_slot_load(packedSlot) { return UnsafePointer(p.assumingMemoryBound(to: Float.self)) }
        let buf = try AlignedBuffer.allocate(floats: packedCount)
        for (l, lay) in layout.enumerated() {
            for (k, pr) in lay.products.enumerated() {
                Kernels.pack16(rows: pr.rows, cols: pr.cols, w: weights + pr.w, ws: pr.stride, into: buf + packedOffsets[l][k])
            }
        }
        guard let won = rk_slot_publish(packedSlot, UnsafeMutableRawPointer(buf)) else {
            AlignedBuffer.free(buf)
            return nil
        }
        if won != UnsafeMutableRawPointer(buf) { AlignedBuffer.free(buf) }
        return UnsafePointer(won.assumingMemoryBound(to: Float.self))
    }

    /// The head's raw output z = Wo f + bo (before the output transform) for one padded feature
    /// row `f` (`headStride` floats); int8 models use the int8 kernel with `scratch` (`headStride`
    /// Int16). Training's evaluation uses it on cached features.
    func headRaw(_ f: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Int16>) {
        let O = config.outputSize
        let b = weights + headBiasOffset
        if let q = qweights, let sc = qscales {
            let qs = sc + headScaleOffset
            Kernels.matvecI8(rows: O, cols: headStride, split: headStride, q: q + headOffset, stride: headStride,
                             scaleA: qs, scaleB: qs, x: f, bias: b, out: z, scratch: scratch)
        } else {
            Kernels.matvecBias(rows: O, cols: headStride, w: weights + headOffset, stride: headStride, x: f, bias: b, out: z)
        }
    }

    /// Number of parameters (canonical count).
    public var parameterCount: Int { config.parameterCount }

    /// The canonical parameters (the order of `init(config:parameters:)`).
    public func parameters() -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(parameterCount)
        forEachCanonicalRun({ p, n in out.append(contentsOf: UnsafeBufferPointer(start: p, count: n)) }, headStart: {})
        return out
    }

    /// Calls `run` with each contiguous run of canonical parameters, in canonical order, read
    /// from the padded layout (int8 models: the dequantised values): per layer the W rows, the
    /// U rows and the bias; then `headStart()`; then the head rows and its bias.
    @inline(__always)
    func forEachCanonicalRun(_ run: (UnsafePointer<Float>, Int) -> Void, headStart: () -> Void) {
        for lay in layout {
            lay.forEachCanonical { at, n, _ in run(weights + at, n) }
        }
        headStart()
        for o in 0..<config.outputSize { run(weights + headOffset + o * headStride, config.lastLayerSize) }
        run(weights + headBiasOffset, config.outputSize)
    }

    /// A copy of this model whose metadata has `entries` set: an existing key keeps its place and
    /// takes the new value, a new key is appended. Weights, labels and config are unchanged (bit
    /// for bit, int8 models included).
    public func settingMetadata(_ entries: [(key: String, value: String)]) throws(RecurError) -> Model {
        var m = metadata
        for (k, v) in entries {
            if let i = m.firstIndex(where: { $0.key == k }) { m[i].value = v } else { m.append((key: k, value: v)) }
        }
        return try Model(config: config, parameters: parameters(), labels: labels, metadata: m)
    }

    /// Value of metadata `key`, if present.
    public func metadataValue(_ key: String) -> String? {
        metadata.first(where: { $0.key == key })?.value
    }

    /// A copy of this model with another storage dtype. f32/f16: weights unchanged in memory;
    /// i8: the weights are quantised (and an i8 model converted back keeps the dequantised
    /// values).
    public func withWeightDType(_ dtype: WeightDType) throws(RecurError) -> Model {
        var c = config
        c.weightDType = dtype
        return try Model(config: c, parameters: parameters(), labels: labels, metadata: metadata)
    }

    // MARK: - Validation of strings

    static func validate(labels: [String], outputSize: Int) throws(RecurError) {
        if labels.isEmpty { return }
        guard labels.count == outputSize else {
            throw RecurError(.badLabel, "\(labels.count) labels for \(outputSize) outputs (need 0 or \(outputSize))")
        }
        var seen = Set<String>()
        for (i, l) in labels.enumerated() {
            let n = l.utf8.count
            guard n >= 1 && n <= ModelLimits.maxLabelBytes else {
                throw RecurError(.badLabel, "label \(i) is \(n) bytes (allowed 1...\(ModelLimits.maxLabelBytes))")
            }
            if l.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                throw RecurError(.badLabel, "label \(i) contains a control character")
            }
            guard seen.insert(l).inserted else {
                throw RecurError(.badLabel, "label \(i) \"\(l)\" is a duplicate")
            }
        }
    }

    static func validate(metadata: [(key: String, value: String)]) throws(RecurError) {
        guard metadata.count <= ModelLimits.maxMetadataEntries else {
            throw RecurError(.badMetadata, "\(metadata.count) metadata entries (max \(ModelLimits.maxMetadataEntries))")
        }
        var seen = Set<String>()
        for (k, v) in metadata {
            let kn = k.utf8.count
            guard kn >= 1 && kn <= ModelLimits.maxMetadataKeyBytes else {
                throw RecurError(.badMetadata, "metadata key of \(kn) bytes (allowed 1...\(ModelLimits.maxMetadataKeyBytes))")
            }
            guard k.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                throw RecurError(.badMetadata, "metadata key \"\(k)\" must be printable ASCII without spaces")
            }
            guard seen.insert(k).inserted else {
                throw RecurError(.badMetadata, "duplicate metadata key \"\(k)\"")
            }
            guard v.utf8.count <= ModelLimits.maxMetadataValueBytes else {
                throw RecurError(.badMetadata, "metadata value of \"\(k)\" is \(v.utf8.count) bytes (max \(ModelLimits.maxMetadataValueBytes))")
            }
            guard !v.utf8.contains(0) else {
                throw RecurError(.badMetadata, "metadata value of \"\(k)\" contains a NUL byte")
            }
        }
    }
}
