"""recur.format against the native library: cross-language round trips and the hostile
cases, which must raise the same status (and exception class) on both sides."""

import re
import struct
import zlib

import numpy as np
import pytest

import recur
from recur import format as F
from recur._errors import STATUS, error_class
from conftest import ROOT, SHAPES, random_checkpoint


@pytest.mark.parametrize("wd", ["f32", "f16", "i8"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_cross_language_round_trip(tmp_path, shape, wd):
    _, i, layers, o, t = shape
    c = random_checkpoint(i, layers, o, seed=21, output_transform=t, weight_dtype=wd,
                          labels=[f"class {k} ✓" for k in range(o)],
                          metadata={"note": "tab\there \"q\" \\ \x7f é 😀", "n": "1"})
    # Python writes -> native reads
    p = tmp_path / "py.recur"
    c.save(p)
    m = recur.Model.load(p)
    stored = F._stored(c, wd)
    assert np.array_equal(m.parameters().view(np.uint32), stored.view(np.uint32))
    assert m.labels == c.labels and m.metadata == c.metadata and m.weight_dtype == wd
    # native writes -> Python reads
    q = tmp_path / "native.recur"
    m.save(q)
    back = F.read_file(q)
    assert np.array_equal(back.parameters().view(np.uint32), stored.view(np.uint32))
    assert back.labels == c.labels and back.metadata == c.metadata
    # and both writers produce the same bytes
    assert p.read_bytes() == q.read_bytes()
    assert m.to_bytes() == back.to_bytes()


def test_f16_rounding_matches_numpy():
    rng = np.random.default_rng(0)
    vals = np.concatenate([rng.standard_normal(5000).astype(np.float32) * 10.0 ** rng.integers(-8, 4, 5000),
                           np.array([6.1e-5, 5.9e-8, 2.98e-8, 65504, 65519.99, -1e-9], np.float32)])
    # one layer of width 1; a wide head holds the values
    O = len(vals)
    params = np.concatenate([[0.5, 0.25, 0.0], vals, np.zeros(O, np.float32)]).astype(np.float32)
    c = F.Checkpoint.from_parameters(1, [(1, "tanh")], O, params, weight_dtype="f16")
    m = F.read_bytes(c.to_bytes())
    native = recur.Model.from_bytes(c.to_bytes())
    assert np.array_equal(m.tensors["head.weight"].reshape(-1), vals.astype(np.float16).astype(np.float32))
    assert np.array_equal(native.parameters(), m.parameters())
    with pytest.raises(recur.NonFiniteError):
        F.Checkpoint.from_parameters(1, [(1, "tanh")], 1, np.array([0, 0, 0, 70000.0, 0], np.float32),
                                     weight_dtype="f16").to_bytes()


# ----------------------------------------------------------------------------------------
# Hostile files (the Swift suite's cases, forged in Python)
# ----------------------------------------------------------------------------------------

def small_bytes() -> bytes:
    c = random_checkpoint(3, [(4, "tanh")], 2, seed=42, labels=["a", "b"], metadata={"k": "v"})
    return c.to_bytes()


class Forge:
    def __init__(self, b: bytes):
        hl = struct.unpack_from("<I", b, 16)[0]
        self.major, self.minor, self.flags = 1, 0, 0
        self.header = b[40:40 + hl]
        self.payload = b[40 + hl:]
        self.header_len = self.payload_len = None
        self.trailing = b""

    def replace(self, a: str, b: str) -> "Forge":
        ab = a.encode()
        assert ab in self.header, f"pattern {a!r} missing"
        self.header = self.header.replace(ab, b.encode(), 1)
        return self

    def raw(self) -> bytes:
        n = int(self.header.split(b'"uncompressed_len":')[1].split(b"}")[0])
        return zlib.decompressobj().decompress(self.payload, n + 1)[:n]

    def set_raw(self, raw: bytes) -> "Forge":
        self.payload = zlib.compress(raw, 6)
        return self

    def bytes(self) -> bytes:
        pre = F.MAGIC + struct.pack("<HHIIIQI", self.major, self.minor, self.flags,
                                    len(self.header) if self.header_len is None else self.header_len,
                                    zlib.crc32(self.header),
                                    len(self.payload) if self.payload_len is None else self.payload_len,
                                    zlib.crc32(self.payload))
        return pre + struct.pack("<I", zlib.crc32(pre)) + self.header + self.payload + self.trailing


def forge(edit):
    def make():
        f = Forge(small_bytes())
        edit(f)
        return f.bytes()
    return make


def raw_edit(fn):
    return lambda: fn(small_bytes())


def flip(b: bytes, i: int, mask: int) -> bytes:
    a = bytearray(b)
    a[i] ^= mask
    return bytes(a)


def set_attr(**kw):
    def edit(f):
        for k, v in kw.items():
            setattr(f, k, v)
    return edit


def rep(a, b):
    return lambda f: f.replace(a, b)


def with_weight(index, value):
    def edit(f):
        raw = bytearray(f.raw())
        bits = struct.pack("<f", value)
        for k in range(4):
            raw[k * 12 + index] = bits[k]
        f.set_raw(bytes(raw))
    return edit


def all_zero_big():
    specs = F.tensor_specs(512, [(512, "tanh")], 1)
    n = sum(int(np.prod(shape)) for _, shape, _ in specs)
    c = F.Checkpoint.from_parameters(512, [(512, "tanh")], 1, np.zeros(n, np.float32))
    # the writer's own re-read would refuse it, so build it by hand
    raw = b"\0" * (n * 4)
    f = Forge(small_bytes())
    table = []
    off = 0
    for name, shape, _ in c.specs():
        nb = int(np.prod(shape)) * 4
        table.append({"name": name, "dtype": "f32", "shape": list(shape), "offset": off, "nbytes": nb})
        off += nb
    header = {"format": "recur", "requires": [], "model": {"input_size": 512, "layers": [{"size": 512, "activation": "tanh"}],
              "output_size": 1, "output_transform": "none"}, "metadata": {},
              "payload": {"codec": "zlib", "filter": "byteshuffle", "weight_dtype": "f32", "uncompressed_len": off},
              "tensors": table}
    f.header = F._json_dump(header).encode()
    f.payload = zlib.compress(raw, 6)
    return f.bytes()


CASES = [
    ("1 empty", "TRUNCATED", raw_edit(lambda b: b"")),
    ("1 short", "TRUNCATED", raw_edit(lambda b: b[:39])),
    ("2 GGUF", "BAD_MAGIC", raw_edit(lambda b: b"GGUF" + b[4:])),
    ("2 zip", "BAD_MAGIC", raw_edit(lambda b: b"PK\x03\x04" + b[4:])),
    ("3 CRLF mangled", "BAD_MAGIC", raw_edit(lambda b: b[:6] + b"\n" + b[8:])),
    ("3 high bit stripped", "BAD_MAGIC", raw_edit(lambda b: b"\x09" + b[1:])),
    ("4 major 0", "UNSUPPORTED_VERSION", forge(set_attr(major=0))),
    ("5 major 2", "UNSUPPORTED_VERSION", forge(set_attr(major=2))),
    ("6 byte-swapped", "UNSUPPORTED_VERSION", forge(set_attr(major=0x0100))),
    ("7 flag", "UNSUPPORTED_FEATURE", forge(set_attr(flags=1))),
    ("7 requires", "UNSUPPORTED_FEATURE", forge(rep('"requires":[]', '"requires":["sparse"]'))),
    ("7 codec", "UNSUPPORTED_FEATURE", forge(rep('"codec":"zlib"', '"codec":"zstd"'))),
    ("8 preamble CRC", "CORRUPT_PREAMBLE", raw_edit(lambda b: flip(b, 36, 1))),
    ("9 header_len 0", "HEADER_SIZE", forge(set_attr(header_len=0))),
    ("9 header_len huge", "HEADER_SIZE", forge(set_attr(header_len=2 << 20))),
    ("10 overflow", "TRUNCATED", forge(set_attr(payload_len=2**64 - 11))),
    ("11 truncated", "TRUNCATED", raw_edit(lambda b: b[:-1])),
    ("12 trailing", "TRAILING_DATA", forge(set_attr(trailing=b"\0"))),
    ("14 header CRC", "CORRUPT_HEADER", raw_edit(lambda b: flip(b, 45, 0x20))),
    ("14 payload CRC", "CORRUPT_PAYLOAD", raw_edit(lambda b: flip(b, len(b) - 3, 1))),
    ("15 overlong UTF-8", "HEADER_UTF8", forge(lambda f: setattr(f, "header", f.header.replace(b'"v"', b'"\xc1\x81"')))),
    ("15 surrogate", "HEADER_UTF8", forge(lambda f: setattr(f, "header", f.header.replace(b'"v"', b'"\xed\xa0\x80"')))),
    ("16 BOM", "HEADER_JSON", forge(lambda f: setattr(f, "header", b"\xef\xbb\xbf" + f.header))),
    ("16 whitespace", "HEADER_JSON", forge(lambda f: setattr(f, "header", b" " + f.header))),
    ("17 trailing content", "HEADER_JSON", forge(lambda f: setattr(f, "header", f.header + b"x"))),
    ("18 depth", "HEADER_DEPTH", forge(rep('"k":"v"', '"k":"v","x_deep":' + "[" * 1000 + "]" * 1000))),
    ("19 duplicate key", "DUPLICATE_KEY", forge(rep('"input_size":3,', '"input_size":3,"input_size":3,'))),
    ("20 NaN", "HEADER_JSON", forge(rep('"input_size":3', '"input_size":NaN'))),
    ("21 string int", "SCHEMA", forge(rep('"input_size":3', '"input_size":"3"'))),
    ("21 float int", "SCHEMA", forge(rep('"input_size":3', '"input_size":3.0'))),
    ("21 bool int", "SCHEMA", forge(rep('"input_size":3', '"input_size":true'))),
    ("22 negative", "SCHEMA", forge(rep('"input_size":3', '"input_size":-3'))),
    ("22 1e400", "SCHEMA", forge(rep('"input_size":3', '"input_size":1e400'))),
    ("22 5000 digits", "SCHEMA", forge(rep('"input_size":3', '"input_size":' + "9" * 5000))),
    ("23 missing key", "SCHEMA", forge(rep('"format":"recur",', ""))),
    ("23 unknown key", "SCHEMA", forge(rep('"format":"recur",', '"format":"recur","surprise":1,'))),
    ("24 too many tensors", "TOO_MANY_TENSORS", forge(lambda f: setattr(f, "header", f.header.split(b'"tensors":[')[0] + b'"tensors":[]}'))),
    ("25 duplicate tensor", "DUPLICATE_TENSOR", forge(rep('"name":"layers.0.w_rec"', '"name":"layers.0.w_in"'))),
    ("26 path name", "BAD_NAME", forge(rep('"name":"layers.0.w_rec"', '"name":"../w_rec"'))),
    ("27 dtype", "BAD_DTYPE", forge(rep('"dtype":"f32"', '"dtype":"f64"'))),
    ("28 ndim 5", "BAD_SHAPE", forge(rep('"shape":[4,3]', '"shape":[4,3,1,1,1]'))),
    ("29 negative dim", "BAD_SHAPE", forge(rep('"shape":[4,3]', '"shape":[-4,-3]'))),
    ("30 zero dim", "BAD_SHAPE", forge(rep('"shape":[4,3]', '"shape":[4,0]'))),
    ("31 overflow", "SHAPE_OVERFLOW", forge(rep('"shape":[4,3]', '"shape":[4611686018427387904,4]'))),
    ("32 too large", "TENSOR_TOO_LARGE", forge(rep('"shape":[4,3]', '"shape":[16777216,16]'))),
    ("33 nbytes", "SIZE_MISMATCH", forge(rep('"offset":0,"nbytes":48', '"offset":0,"nbytes":47'))),
    ("34 offsets", "BAD_OFFSETS", forge(rep('"offset":48,', '"offset":52,'))),
    ("35 sum", "SIZE_MISMATCH", forge(rep('"uncompressed_len":168', '"uncompressed_len":172'))),
    ("36 payload", "PAYLOAD_TOO_LARGE", forge(rep('"uncompressed_len":168', '"uncompressed_len":268435457'))),
    ("37 ratio", "RATIO", all_zero_big),
    ("38 more", "DECOMPRESSED_SIZE", forge(lambda f: f.set_raw(f.raw() + b"\0\0\0\0"))),
    ("39 less", "DECOMPRESSED_SIZE", forge(lambda f: f.set_raw(f.raw()[:-4]))),
    ("39 truncated stream", "CORRUPT_PAYLOAD", forge(lambda f: setattr(f, "payload", f.payload[: len(f.payload) // 2]))),
    ("40 raw deflate", "CORRUPT_PAYLOAD", forge(lambda f: setattr(f, "payload", f.payload[2:]))),
    ("41 adler", "CORRUPT_PAYLOAD", forge(lambda f: setattr(f, "payload", f.payload[:-1] + bytes([f.payload[-1] ^ 1])))),
    ("42 after stream", "TRAILING_DATA", forge(lambda f: setattr(f, "payload", f.payload + b"\0\1"))),
    ("42 two streams", "TRAILING_DATA", forge(lambda f: setattr(f, "payload", f.payload + f.payload))),
    ("43 no layers", "BAD_CONFIG", forge(rep('"layers":[{"size":4,"activation":"tanh"}]', '"layers":[]'))),
    ("43 layer size 0", "BAD_CONFIG", forge(rep('"size":4,', '"size":0,'))),
    ("44 labels count", "BAD_CONFIG", forge(rep('"labels":["a","b"]', '"labels":["a"]'))),
    ("45 activation", "BAD_CONFIG", forge(rep('"activation":"tanh"', '"activation":"relu6"'))),
    ("46 missing tensor", "MISSING_TENSOR", forge(lambda f: (f.replace(',{"name":"head.bias","dtype":"f32","shape":[2],"offset":160,"nbytes":8}', ""),
                                                             f.replace('"uncompressed_len":168', '"uncompressed_len":160')))),
    ("47 unexpected tensor", "UNEXPECTED_TENSOR", forge(rep('"name":"head.bias"', '"name":"head.extra"'))),
    ("48 shape mismatch", "SHAPE_MISMATCH", forge(rep('"shape":[4,3]', '"shape":[3,4]'))),
    ("49 dtype mismatch", "DTYPE_MISMATCH", forge(rep('"weight_dtype":"f32"', '"weight_dtype":"f16"'))),
    ("50 NaN weight", "NONFINITE_WEIGHT", forge(with_weight(5, float("nan")))),
    ("50 Inf weight", "NONFINITE_WEIGHT", forge(with_weight(0, float("-inf")))),
    ("51 empty label", "BAD_LABEL", forge(rep('"labels":["a","b"]', '"labels":["a",""]'))),
    ("51 duplicate label", "BAD_LABEL", forge(rep('"labels":["a","b"]', '"labels":["a","a"]'))),
    ("51 control label", "BAD_LABEL", forge(rep('"labels":["a","b"]', '"labels":["a","b\\u0007"]'))),
    ("52 metadata number", "BAD_METADATA", forge(rep('"k":"v"', '"k":1'))),
    ("52 metadata key long", "BAD_METADATA", forge(rep('"k":"v"', '"' + "k" * 129 + '":"v"'))),
]


@pytest.mark.parametrize("name,code,make", CASES, ids=[c[0] for c in CASES])
def test_hostile_file(name, code, make):
    data = make()
    status = STATUS["RECUR_E_" + code]
    with pytest.raises(recur.RecurError) as native:
        recur.Model.from_bytes(data)
    with pytest.raises(recur.RecurError) as python:
        F.read_bytes(data)
    assert native.value.status == status, native.value
    assert python.value.status == status, python.value
    assert type(native.value) is error_class(status) is type(python.value)
    assert isinstance(native.value, recur.CheckpointError if status <= -40 else recur.RecurError)


def test_every_format_status_is_reached_by_a_hostile_case():
    """Every checkpoint-format status the header defines (-40 ... -69) is what both readers
    return for at least one of the hostile files above (so a new status cannot ship untested,
    and a case whose forgery stopped producing its status would fail its own test)."""
    header = {n: int(v) for n, v in re.findall(r"#define (RECUR_E_[A-Z0-9_]+) \((-\d+)\)",
                                               (ROOT / "include" / "recur.h").read_text())}
    format_codes = {n for n, v in header.items() if -69 <= v <= -40}
    reached = set()
    for _, code, make in CASES + I8_CASES:
        data = make()
        with pytest.raises(recur.RecurError) as native:
            recur.Model.from_bytes(data)
        with pytest.raises(recur.RecurError) as python:
            F.read_bytes(data)
        assert native.value.status == python.value.status == STATUS["RECUR_E_" + code]
        reached.add("RECUR_E_" + code)
    missing = format_codes - reached
    assert not missing, f"format statuses no hostile case produces: {sorted(missing)}"


def test_limits_through_bindings():
    data = small_bytes()
    with pytest.raises(recur.RecurIOError) as e:
        recur.Model.from_bytes(data, max_file_size=100)
    assert e.value.status == -22
    with pytest.raises(recur.RecurIOError):
        F.read_bytes(data, max_file_size=100)
    recur.Model.from_bytes(data, max_file_size=len(data))
    F.read_bytes(data, max_file_size=len(data))
    bad = flip(data, 45, 0x20)  # header CRC
    with pytest.raises(recur.CheckpointError):
        recur.Model.from_bytes(bad)


def flip_disagreements(data: bytes, same_status: bool):
    """Every single-bit flip of `data` read by both readers, with and without checksums:
    (offset, bit, native status, Python status) where they disagree on accept/reject (or, with
    same_status, on the status itself)."""
    out = []
    for verify in (True, False):
        for i in range(len(data)):
            for bit in range(8):
                b = flip(data, i, 1 << bit)
                try:
                    recur.Model.from_bytes(b, verify_checksums=verify)
                    n = 0
                except recur.RecurError as e:
                    n = e.status
                try:
                    F.read_bytes(b, verify_checksums=verify)
                    p = 0
                except recur.RecurError as e:
                    p = e.status
                if (n != p) if same_status else ((n == 0) != (p == 0)):
                    out.append((verify, i, bit, n, p))
    return out


def test_readers_agree_on_every_bit_flip():
    """Swift and Python readers agree on accept/reject for every single-bit flip, with and
    without checksum verification."""
    d = flip_disagreements(small_bytes(), same_status=False)
    assert d == [], d[:5]


# --------------------------------------------------------------------------------------
# int8 weights
# --------------------------------------------------------------------------------------

def test_quantise_rows_is_a_projection():
    rng = np.random.default_rng(3)
    for mag in (0.0, 1e-44, 1e-38, 1e-3, 1.0, 1e10, 3e38):
        w = (rng.uniform(-1, 1, (20, 37)) * mag).astype(np.float32)
        q, s, d = F.quantise_rows(w)
        q2, s2, d2 = F.quantise_rows(d)
        assert np.array_equal(q, q2) and np.array_equal(s.view(np.uint32), s2.view(np.uint32))
        assert np.array_equal(d.view(np.uint32), d2.view(np.uint32))
        assert q.min() >= -127
        # within half a step of the original
        assert np.all(np.abs(d - w) <= s[:, None] * 0.5001 + 1e-45)


def i8_bytes() -> bytes:
    return random_checkpoint(3, [(4, "tanh")], 2, seed=42).to_bytes(weight_dtype="i8")


def _i8_scale(f, row, bits_fn):
    raw = bytearray(f.raw())  # w_in codes (12 bytes), then w_in.scale (4 floats, shuffled)
    cur = sum(raw[12 + k * 4 + row] << (8 * k) for k in range(4))
    new = bits_fn(cur)
    for k in range(4):
        raw[12 + k * 4 + row] = (new >> (8 * k)) & 0xFF
    f.set_raw(bytes(raw))


def _i8_case(edit):
    def make():
        f = Forge(i8_bytes())
        edit(f)
        return f.bytes()
    return make


def _code(f, i, v):
    raw = bytearray(f.raw())
    raw[i] = v & 0xFF
    f.set_raw(bytes(raw))


I8_CASES = [
    ("negative scale", "CORRUPT_PAYLOAD", _i8_case(lambda f: _i8_scale(f, 2, lambda b: b | 0x80000000))),
    ("NaN scale", "NONFINITE_WEIGHT", _i8_case(lambda f: _i8_scale(f, 0, lambda b: 0x7FC00000))),
    ("Inf scale", "NONFINITE_WEIGHT", _i8_case(lambda f: _i8_scale(f, 3, lambda b: 0x7F800000))),
    ("scale overflows with its codes", "NONFINITE_WEIGHT", _i8_case(lambda f: _i8_scale(f, 0, lambda b: struct.unpack("<I", struct.pack("<f", 1e37))[0]))),
    ("code -128", "CORRUPT_PAYLOAD", _i8_case(lambda f: _code(f, 0, 0x80))),
    ("requires missing", "SCHEMA", _i8_case(rep('"requires":["i8"]', '"requires":[]'))),
    ("requires twice", "SCHEMA", _i8_case(rep('"requires":["i8"]', '"requires":["i8","i8"]'))),
    ("unknown feature", "UNSUPPORTED_FEATURE", _i8_case(rep('"requires":["i8"]', '"requires":["i4"]'))),
    ("i8 required by an f32 file", "SCHEMA", forge(rep('"requires":[]', '"requires":["i8"]'))),
    ("scale renamed", "UNEXPECTED_TENSOR", _i8_case(rep('"name":"head.weight.scale"', '"name":"head.weight.scalx"'))),
    ("scale of wrong shape", "SHAPE_MISMATCH", _i8_case(rep('"name":"layers.0.w_in.scale","dtype":"f32","shape":[4]', '"name":"layers.0.w_in.scale","dtype":"f32","shape":[2,2]'))),
]


@pytest.mark.parametrize("name,code,make", I8_CASES, ids=[c[0] for c in I8_CASES])
def test_hostile_int8_file(name, code, make):
    test_hostile_file(name, code, make)


def test_readers_agree_on_every_bit_flip_of_an_int8_file():
    """The same on an int8 file, down to the status code."""
    d = flip_disagreements(i8_bytes(), same_status=True)
    assert d == [], d[:5]


def test_int8_model_runs_the_dequantised_network():
    from recur.reference import ReferenceNet
    c = random_checkpoint(16, [(32, "tanh"), (24, "relu")], 5, seed=8)
    m = recur.Model.create(16, [(32, "tanh"), (24, "relu")], 5, c.parameters(), weight_dtype="i8")
    assert m.weight_dtype == "i8"
    deq = F._stored(c, "i8")
    assert np.array_equal(m.parameters().view(np.uint32), deq.view(np.uint32))
    ref = ReferenceNet(F.Checkpoint.from_parameters(16, [(32, "tanh"), (24, "relu")], 5, deq))
    s = m.session()
    xs = np.random.default_rng(1).standard_normal((30, 16)).astype(np.float32)
    for x in xs:
        y = s.step(x)
        r = ref.step(x)
        np.testing.assert_allclose(y, r, rtol=2e-4, atol=2e-4)
