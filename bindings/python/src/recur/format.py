"""Pure-Python reader and writer of ``.recur`` checkpoints (standard library + numpy).

Follows ``docs/FORMAT.md`` exactly, with the same validation order, limits and status
codes as the Swift reader: a hostile file raises the same ``RecurError`` subclass with the
same ``.status`` on both sides, and files written by either side read back bit-identically
on the other (the writers produce the same bytes).
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._errors import STATUS, RecurError, make_error

MAGIC = b"\x89RECUR\r\n"
PREAMBLE = 40
VERSION_MAJOR, VERSION_MINOR = 1, 0
VERSION_MINOR_GATED = 1  # files with gated layers (which also list "gru" / "lstm" in requires)
FEATURES = ("i8", "gru", "lstm")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
#: Gated layer kinds (docs/FORMAT.md section 2.3); a plain feedback layer is named by its activation.
KINDS = ("gru", "gru_reset_before", "lstm")
GATES = {"gru": 3, "gru_reset_before": 3, "lstm": 4}
FEATURE = {"gru": "gru", "gru_reset_before": "gru", "lstm": "lstm"}


def normalize_layer(layer) -> tuple:
    """A layer spec as the package writes it: ``size`` (elman tanh) or ``(size, activation)``
    for a plain feedback layer, ``(size, "gru")``, ``(size, "gru_reset_before")``,
    ``(size, "lstm")`` or ``(size, "lstm", proj_size)``. Returns ``(size, name)`` or
    ``(size, "lstm", P)`` with P > 0."""
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        return (int(layer), "tanh")
    t = tuple(layer)
    if len(t) == 2:
        return (int(t[0]), str(t[1]))
    if len(t) == 3 and t[1] == "lstm":
        return (int(t[0]), "lstm", int(t[2])) if int(t[2]) else (int(t[0]), "lstm")
    raise ValueError(f"layer {layer!r} is not size, (size, activation or kind) or (size, 'lstm', proj_size)")


def layer_kind(layer) -> str:
    """"elman" or the gated kind."""
    return layer[1] if layer[1] in KINDS else "elman"


def layer_proj(layer) -> int:
    return int(layer[2]) if len(layer) > 2 else 0


def layer_width(layer) -> int:
    """The layer's output (and recurrent) width: P for a projected LSTM, else its size."""
    return layer_proj(layer) or int(layer[0])
TRANSFORMS = ("none", "softmax", "sigmoid")
ITEMSIZE = {"f32": 4, "f16": 2, "i8": 1}
MAX_LAYERS, MAX_WIDTH = 64, 65536
MAX_SCHEMA_INT, MAX_BYTE_INT = 2**31 - 1, 2**53 - 1
RATIO_GRACE = 1 << 20
MAX_DEPTH = 16

DEFAULT_LIMITS = dict(max_file_size=64 << 20, max_header_size=1 << 20, max_tensors=1024,
                      max_dimension=1 << 24, max_ratio=100, max_tensor_elements=1 << 26,
                      max_payload_size=256 << 20)
CEILINGS = dict(max_file_size=1 << 32, max_header_size=16 << 20, max_tensors=65536,
                max_dimension=1 << 24, max_ratio=1 << 20, max_tensor_elements=1 << 32,
                max_payload_size=16 << 30)


def _fail(name: str, message: str) -> RecurError:
    return make_error(STATUS[name], message)


# --------------------------------------------------------------------------------------
# The checkpoint object
# --------------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """A model held in Python: config, float32 tensors (canonical names), labels, metadata.

    ``weight_dtype`` is the type of the weight matrices ("f32", "f16" or "i8"); biases
    are always stored as float32. For "i8" the tensors hold the dequantised values (what
    ``quantise_rows`` gives back); writing quantises again, which reproduces them exactly. ``save``/``to_bytes`` need no native library;
    ``to_model`` builds a native ``recur.Model``.
    """

    input_size: int
    layers: List[Tuple[int, str]]
    output_size: int
    tensors: Dict[str, np.ndarray]
    output_transform: str = "none"
    weight_dtype: str = "f32"
    labels: List[str] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layers = [normalize_layer(l) for l in self.layers]

    # -- shape ------------------------------------------------------------------------

    def specs(self) -> List[Tuple[str, Tuple[int, ...], bool]]:
        """(name, shape, is_matrix) of every tensor the config requires, canonical order."""
        return tensor_specs(self.input_size, self.layers, self.output_size)

    def parameters(self) -> np.ndarray:
        """All parameters in canonical order (``recur_model_create`` order), float32."""
        return np.concatenate([np.asarray(self.tensors[n], np.float32).reshape(-1) for n, _, _ in self.specs()])

    def validate(self) -> None:
        """The reader's rules, applied to this object (used by the writer)."""
        _check_config(self.input_size, self.layers, self.output_size, self.output_transform)
        if self.weight_dtype not in ITEMSIZE:
            raise _fail("RECUR_E_BAD_DTYPE", f"weight_dtype {self.weight_dtype!r} is not f32, f16 or i8")
        _check_labels(list(self.labels), self.output_size)
        _check_metadata(list(self.metadata.items()))
        names = set(self.tensors)
        for name, shape, _ in self.specs():
            if name not in self.tensors:
                raise _fail("RECUR_E_MISSING_TENSOR", f"tensor {name} is missing")
            t = np.asarray(self.tensors[name])
            if tuple(t.shape) != shape:
                raise _fail("RECUR_E_SHAPE_MISMATCH", f"tensor {name} has shape {list(t.shape)}; the config requires {list(shape)}")
            if not np.all(np.isfinite(t)):
                raise _fail("RECUR_E_NONFINITE_WEIGHT", f"tensor {name} contains NaN or Inf")
            names.discard(name)
        if names:
            raise _fail("RECUR_E_UNEXPECTED_TENSOR", f"tensor {sorted(names)[0]} is not part of this model config")

    # -- writing ----------------------------------------------------------------------

    def to_bytes(self, *, weight_dtype: Optional[str] = None, compression_level: int = 6) -> bytes:
        """Serialise exactly as the Swift writer does (same bytes for the same model)."""
        wd = weight_dtype or self.weight_dtype
        if wd not in ITEMSIZE:
            raise _fail("RECUR_E_BAD_DTYPE", f"weight_dtype {wd!r} is not f32, f16 or i8")
        if not 1 <= compression_level <= 9:
            raise _fail("RECUR_E_INVALID_ARGUMENT", f"compression level {compression_level} is outside 1...9")
        self.validate()
        raw = bytearray()
        table = []
        planes: List[int] = []  # lengths of the byte planes, in payload order
        for name, shape, is_matrix in self.specs():
            dt = wd if is_matrix else "f32"
            a = np.ascontiguousarray(self.tensors[name], dtype=np.float32)
            if dt == "i8":
                codes, scales, _ = quantise_rows(a)
                for tname, tshape, tdt, tdata in ((name, shape, "i8", codes), (name + ".scale", (shape[0],), "f32", scales.astype("<f4"))):
                    off = len(raw)
                    raw += shuffle(tdata.tobytes(), ITEMSIZE[tdt])
                    planes += [(len(raw) - off) // ITEMSIZE[tdt]] * ITEMSIZE[tdt]
                    table.append({"name": tname, "dtype": tdt, "shape": list(tshape), "offset": off, "nbytes": len(raw) - off})
                continue
            if dt == "f16":
                with np.errstate(over="ignore"):
                    h = a.astype(np.float16)
                if not np.all(np.isfinite(h)):
                    raise _fail("RECUR_E_NONFINITE_WEIGHT", f"{name} does not fit in float16 storage")
                data = h.astype("<f2")
            else:
                data = a.astype("<f4")
            off = len(raw)
            raw += shuffle(data.tobytes(), ITEMSIZE[dt])
            planes += [(len(raw) - off) // ITEMSIZE[dt]] * ITEMSIZE[dt]
            table.append({"name": name, "dtype": dt, "shape": list(shape), "offset": off, "nbytes": len(raw) - off})
        payload = compress_planes(bytes(raw), planes, compression_level)
        layers = [normalize_layer(l) for l in self.layers]
        model: Dict[str, Any] = {
            "input_size": self.input_size,
            "layers": [_layer_json(l) for l in layers],
            "output_size": self.output_size,
            "output_transform": self.output_transform,
        }
        if self.labels:
            model["labels"] = list(self.labels)
        requires = (["i8"] if wd == "i8" else []) + [f for f in ("gru", "lstm") if any(FEATURE.get(layer_kind(l)) == f for l in layers)]
        gated = any(layer_kind(l) != "elman" for l in layers)
        header = {
            "format": "recur", "requires": requires, "model": model, "metadata": dict(self.metadata),
            "payload": {"codec": "zlib", "filter": "byteshuffle", "weight_dtype": wd, "uncompressed_len": len(raw)},
            "tensors": table,
        }
        hb = _json_dump(header).encode("utf-8")
        pre = MAGIC + struct.pack("<HHIIIQI", VERSION_MAJOR, VERSION_MINOR_GATED if gated else VERSION_MINOR, 0, len(hb), zlib.crc32(hb),
                                  len(payload), zlib.crc32(payload))
        out = pre + struct.pack("<I", zlib.crc32(pre)) + hb + payload
        # Re-read before anyone trusts these bytes (writer protocol step 3).
        back = read_bytes(out, **CEILINGS)
        if not np.array_equal(back.parameters().view(np.uint32), _stored(self, wd).view(np.uint32)):
            raise _fail("RECUR_E_IO", "internal error: the written checkpoint does not read back identically")
        return out

    def save(self, path: "os.PathLike[str] | str", **kw: Any) -> None:
        """Write atomically: temp file in the same directory, fsync, rename, fsync the directory."""
        write_atomically(os.fspath(path), self.to_bytes(**kw))

    def to_model(self):
        """A native ``recur.Model`` with these weights (through ``recur_model_create``)."""
        from .model import Model

        return Model.create(self.input_size, self.layers, self.output_size, self.parameters(),
                            output_transform=self.output_transform, weight_dtype=self.weight_dtype,
                            labels=self.labels or None, metadata=self.metadata or None)

    @classmethod
    def from_parameters(cls, input_size: int, layers: Sequence[Any], output_size: int,
                        parameters: np.ndarray, **kw: Any) -> "Checkpoint":
        """Split a canonical parameter vector into named tensors (``recur_model_create`` order)."""
        layers = [normalize_layer(l) for l in layers]
        p = np.asarray(parameters, dtype=np.float32).reshape(-1)
        tensors, off = {}, 0
        for name, shape, _ in tensor_specs(input_size, layers, output_size):
            n = int(np.prod(shape))
            if off + n > p.size:
                raise _fail("RECUR_E_LENGTH_MISMATCH", f"{p.size} parameters are too few for this config")
            tensors[name] = p[off:off + n].reshape(shape).copy()
            off += n
        if off != p.size:
            raise _fail("RECUR_E_LENGTH_MISMATCH", f"expected {off} parameters for this config, got {p.size}")
        return cls(int(input_size), layers, int(output_size), tensors, **kw)

    @classmethod
    def from_model(cls, model) -> "Checkpoint":
        """Copy a native ``recur.Model`` into a Python checkpoint."""
        return cls.from_parameters(model.input_size, model.layers, model.output_size, model.parameters(),
                                   output_transform=model.output_transform, weight_dtype=model.weight_dtype,
                                   labels=model.labels, metadata=model.metadata)


def _stored(c: Checkpoint, wd: str) -> np.ndarray:
    parts = []
    for name, _, is_matrix in c.specs():
        a = np.asarray(c.tensors[name], np.float32).reshape(-1)
        if is_matrix and wd == "f16":
            a = a.astype(np.float16).astype(np.float32)
        elif is_matrix and wd == "i8":
            a = quantise_rows(np.asarray(c.tensors[name], np.float32))[2].reshape(-1)
        parts.append(a)
    return np.concatenate(parts)


def quantise_rows(w: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical int8 quantisation of a float32 matrix, row by row (docs/FORMAT.md §3):
    the scale of a row with largest magnitude m is the smallest float32 s with
    fl(127·s) >= m (0 for an all-zero row); codes are round-half-even(w / s) clamped to
    ±127. Returns (codes int8, scales float32, dequantised float32 = codes·scale), the same
    bits as the Swift writer; quantising the dequantised matrix gives them back exactly."""
    w = np.asarray(w, np.float32)
    w2 = w.reshape(w.shape[0], -1)
    m = np.max(np.abs(w2), axis=1).astype(np.float32)
    k = np.float32(127)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        s = (m / k).astype(np.float32)
        for _ in range(16):
            low = (m > 0) & (k * s < m)
            if not low.any():
                break
            s = np.where(low, np.nextafter(s, np.float32(np.inf)), s).astype(np.float32)
        for _ in range(16):
            prev = np.nextafter(s, np.float32(0)).astype(np.float32)
            down = (m > 0) & (prev > 0) & (k * prev >= m)
            if not down.any():
                break
            s = np.where(down, prev, s).astype(np.float32)
        s = np.where(m > 0, s, np.float32(0)).astype(np.float32)
        safe = np.where(s > 0, s, np.float32(1)).astype(np.float32)
        r = np.rint(w2 / safe[:, None]).astype(np.float32)
    codes = np.where(s[:, None] > 0, np.clip(r, -127, 127), 0).astype(np.int8)
    deq = (codes.astype(np.float32) * s[:, None]).astype(np.float32)
    return codes.reshape(w.shape), s, deq.reshape(w.shape)


def _dequantise(name: str, codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Reader side of int8: scales finite, products finite, rows canonical; else the status
    the Swift reader gives for the first bad row."""
    q = codes.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        deq = (q * scales[:, None]).astype(np.float32)
    bad_scale = ~np.isfinite(scales)
    bad_prod = ~np.all(np.isfinite(deq), axis=1) & ~bad_scale
    recoded, cs, _ = quantise_rows(np.where(np.isfinite(deq), deq, 0).astype(np.float32))
    noncanon = ~(bad_scale | bad_prod) & ((cs.view(np.uint32) != scales.view(np.uint32)) | np.any(recoded != codes, axis=1))
    rows = np.flatnonzero(bad_scale | bad_prod | noncanon)
    if rows.size:
        r = int(rows[0])
        if bad_scale[r]:
            raise _fail("RECUR_E_NONFINITE_WEIGHT", f"tensor {name}.scale[{r}] is {scales[r]}")
        if bad_prod[r]:
            raise _fail("RECUR_E_NONFINITE_WEIGHT", f"tensor {name} row {r}: code x scale overflows float32")
        raise _fail("RECUR_E_CORRUPT_PAYLOAD", f"int8 tensor {name} row {r} is not in canonical form (docs/FORMAT.md section 3)")
    return deq


def tensor_specs(input_size: int, layers: Sequence[Any], output_size: int):
    """(name, shape, is_matrix) of every tensor, in canonical (``recur_model_create``) order:
    elman W, U, b; gated PyTorch's weight_ih, weight_hh, bias_ih, bias_hh (+ weight_hr)."""
    out = []
    prev = input_size
    for l, layer in enumerate(layers):
        layer = normalize_layer(layer)
        h, kind = layer[0], layer_kind(layer)
        if kind == "elman":
            out += [(f"layers.{l}.w_in", (h, prev), True), (f"layers.{l}.w_rec", (h, h), True), (f"layers.{l}.bias", (h,), False)]
        else:
            g, r = GATES[kind] * h, layer_width(layer)
            out += [(f"layers.{l}.w_in", (g, prev), True), (f"layers.{l}.w_rec", (g, r), True),
                    (f"layers.{l}.bias_in", (g,), False), (f"layers.{l}.bias_rec", (g,), False)]
            if layer_proj(layer):
                out.append((f"layers.{l}.w_proj", (layer_proj(layer), h), True))
        prev = layer_width(layer)
    out += [("head.weight", (output_size, prev), True), ("head.bias", (output_size,), False)]
    return out


def _layer_json(layer) -> Dict[str, Any]:
    kind = layer_kind(layer)
    if kind == "elman":
        return {"size": layer[0], "activation": layer[1]}
    o: Dict[str, Any] = {"kind": kind, "size": layer[0]}
    if layer_proj(layer):
        o["proj_size"] = layer_proj(layer)
    return o


def compress_planes(raw: bytes, planes: List[int], level: int) -> bytes:
    """The writer's zlib stream (byte-identical to Swift's Zlib.compressPlanes): each byte plane
    deflated on its own (raw deflate, sync flush) when that saves at least 3 %, else stored, so
    the random low mantissa planes of float weights cost a copy, not Huffman decoding, on load;
    then an empty final stored block and the Adler-32. Any zlib inflater reads it."""
    cmf = 0x78
    flg = (0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3) << 6
    flg += 31 - (cmf * 256 + flg) % 31
    out = bytearray([cmf, flg])
    pos = 0
    for n in planes:
        chunk = raw[pos:pos + n]
        pos += n
        co = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
        z = co.compress(chunk) + co.flush(zlib.Z_SYNC_FLUSH)
        stored_len = n + 5 * max(1, -(-n // 65535))
        if 100 * len(z) <= 97 * stored_len:
            out += z
        else:
            for i in range(0, n, 65535):
                blk = chunk[i:i + 65535]
                out += b"\x00" + struct.pack("<HH", len(blk), 0xFFFF ^ len(blk)) + blk
    assert pos == len(raw)
    out += b"\x01\x00\x00\xff\xff" + struct.pack(">I", zlib.adler32(raw))
    return bytes(out)


def shuffle(data: bytes, itemsize: int) -> bytes:
    a = np.frombuffer(data, dtype=np.uint8).reshape(-1, itemsize)
    return a.T.tobytes()


def unshuffle(data: bytes, itemsize: int) -> bytes:
    a = np.frombuffer(data, dtype=np.uint8).reshape(itemsize, -1)
    return a.T.tobytes()


# --------------------------------------------------------------------------------------
# JSON: the writer's exact serialisation and a strict parser
# --------------------------------------------------------------------------------------

def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_dump(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ",".join(_json_string(k) + ":" + _json_dump(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_json_dump(x) for x in v) + "]"
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    raise TypeError(f"cannot serialise {type(v).__name__}")


class _NonInteger:
    """A JSON number that is not an integer in Int64 range (the schema rejects it)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text[:24]


class _Dupes(dict):
    pass


def _parse_json(text: str) -> Any:
    if not text.startswith("{"):
        raise _fail("RECUR_E_HEADER_JSON", "header must start with '{' (no BOM or leading whitespace)")
    # Depth check first, on the raw text outside strings (json would recurse first).
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail("RECUR_E_HEADER_DEPTH", f"header nesting deeper than {MAX_DEPTH}")
        elif ch in "]}":
            depth -= 1

    def pairs(items):
        d = {}
        for k, v in items:
            if k in d:
                raise _fail("RECUR_E_DUPLICATE_KEY", f"duplicate key \"{k}\"")
            d[k] = v
        return d

    def bad_constant(c):
        raise _fail("RECUR_E_HEADER_JSON", f"{c} is not JSON")

    def parse_int(s):
        v = int(s) if len(s) <= 20 else None
        return v if v is not None and -(2**63) <= v < 2**63 else _NonInteger(s)

    try:
        dec = json.JSONDecoder(object_pairs_hook=pairs, parse_constant=bad_constant,
                               parse_float=_NonInteger, parse_int=parse_int, strict=True)
        v, end = dec.raw_decode(text)
    except RecurError:
        raise
    except (ValueError, RecursionError) as e:
        raise _fail("RECUR_E_HEADER_JSON", f"invalid JSON: {e}")
    if text[end:].strip(" \t\r\n"):
        raise _fail("RECUR_E_HEADER_JSON", f"unexpected content after the header object at character {end}")
    _check_surrogates(v)
    return v


def _check_surrogates(v: Any) -> None:
    """Reject lone surrogates that \\u escapes can smuggle into strings."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in x):
                raise _fail("RECUR_E_HEADER_JSON", "unpaired surrogate escape")
        elif isinstance(x, dict):
            stack += list(x.keys()) + list(x.values())
        elif isinstance(x, list):
            stack += x


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------

def _obj(v: Any, what: str) -> Dict[str, Any]:
    if not isinstance(v, dict):
        raise _fail("RECUR_E_SCHEMA", f"{what} must be an object")
    return v


def _keys(o: Dict[str, Any], allowed: Sequence[str], required: Sequence[str], what: str) -> None:
    for k in o:
        if k not in allowed and not k.startswith("x_"):
            raise _fail("RECUR_E_SCHEMA", f"unknown key \"{k}\" in {what}")
    for k in required:
        if k not in o:
            raise _fail("RECUR_E_SCHEMA", f"{what} is missing required key \"{k}\"")


def _int(v: Any, what: str, hi: int = MAX_SCHEMA_INT) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, _NonInteger)):
        raise _fail("RECUR_E_SCHEMA", f"{what} must be an integer")
    if isinstance(v, _NonInteger):
        raise _fail("RECUR_E_SCHEMA", f"{what} must be an integer in 0...{hi}, got {v!r}")
    if not 0 <= v <= hi:
        raise _fail("RECUR_E_SCHEMA", f"{what} = {v} is outside 0...{hi}")
    return v


def _str(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise _fail("RECUR_E_SCHEMA", f"{what} must be a string")
    return v


def _arr(v: Any, what: str) -> list:
    if not isinstance(v, list):
        raise _fail("RECUR_E_SCHEMA", f"{what} must be an array")
    return v


def _check_config(input_size: int, layers, output_size: int, transform: str) -> None:
    if not 1 <= input_size <= MAX_WIDTH:
        raise _fail("RECUR_E_BAD_CONFIG", f"input_size {input_size} is outside 1...{MAX_WIDTH}")
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise _fail("RECUR_E_BAD_CONFIG", f"layer count {len(layers)} is outside 1...{MAX_LAYERS}")
    for i, layer in enumerate(layers):
        s, a = layer[0], layer[1]
        if not 1 <= s <= MAX_WIDTH:
            raise _fail("RECUR_E_BAD_CONFIG", f"layer {i} size {s} is outside 1...{MAX_WIDTH}")
        if a not in ACTIVATIONS and a not in KINDS:
            raise _fail("RECUR_E_BAD_CONFIG", f"layer {i} activation {a!r} is not tanh, relu, sigmoid or identity "
                                              f"(nor a cell kind: {', '.join(KINDS)})")
        p = layer_proj(layer)
        if p and (a != "lstm" or not 1 <= p < s):
            raise _fail("RECUR_E_BAD_CONFIG", f"layer {i}: proj_size {p} needs an LSTM layer and 1...{s - 1}")
    if not 1 <= output_size <= MAX_WIDTH:
        raise _fail("RECUR_E_BAD_CONFIG", f"output_size {output_size} is outside 1...{MAX_WIDTH}")
    if transform not in TRANSFORMS:
        raise _fail("RECUR_E_BAD_CONFIG", f"output_transform {transform!r} is not none, softmax or sigmoid")


def _check_labels(labels: List[str], output_size: int) -> None:
    if not labels:
        return
    if len(labels) != output_size:
        raise _fail("RECUR_E_BAD_LABEL", f"{len(labels)} labels for {output_size} outputs (need 0 or {output_size})")
    seen = set()
    for i, l in enumerate(labels):
        if not isinstance(l, str):
            raise _fail("RECUR_E_BAD_LABEL", f"label {i} must be a string")
        b = l.encode("utf-8", "surrogatepass")
        if not 1 <= len(b) <= 256:
            raise _fail("RECUR_E_BAD_LABEL", f"label {i} is {len(b)} bytes (allowed 1...256)")
        if any(c < 0x20 or c == 0x7F for c in b):
            raise _fail("RECUR_E_BAD_LABEL", f"label {i} contains a control character")
        if l in seen:
            raise _fail("RECUR_E_BAD_LABEL", f"label {i} \"{l}\" is a duplicate")
        seen.add(l)


def _check_metadata(items: List[Tuple[str, Any]]) -> None:
    if len(items) > 256:
        raise _fail("RECUR_E_BAD_METADATA", f"{len(items)} metadata entries (max 256)")
    seen = set()
    for k, v in items:
        if not isinstance(v, str):
            raise _fail("RECUR_E_BAD_METADATA", f"metadata \"{k}\" must be a string")
        kb = k.encode("utf-8", "surrogatepass")
        if not 1 <= len(kb) <= 128:
            raise _fail("RECUR_E_BAD_METADATA", f"metadata key of {len(kb)} bytes (allowed 1...128)")
        if not all(0x21 <= c <= 0x7E for c in kb):
            raise _fail("RECUR_E_BAD_METADATA", f"metadata key \"{k}\" must be printable ASCII without spaces")
        if k in seen:
            raise _fail("RECUR_E_BAD_METADATA", f"duplicate metadata key \"{k}\"")
        seen.add(k)
        vb = v.encode("utf-8", "surrogatepass")
        if len(vb) > 65536:
            raise _fail("RECUR_E_BAD_METADATA", f"metadata value of \"{k}\" is {len(vb)} bytes (max 65536)")
        if b"\x00" in vb:
            raise _fail("RECUR_E_BAD_METADATA", f"metadata value of \"{k}\" contains a NUL byte")


def _limits(kw: Dict[str, Any]) -> Tuple[bool, Dict[str, int]]:
    verify = bool(kw.pop("verify_checksums", True))
    lim = dict(DEFAULT_LIMITS)
    for k, v in kw.items():
        if k not in lim:
            raise TypeError(f"unknown load option {k!r}")
        if not isinstance(v, int) or not 1 <= v <= CEILINGS[k]:
            raise _fail("RECUR_E_INVALID_ARGUMENT", f"load option {k} = {v} is outside 1...{CEILINGS[k]}")
        lim[k] = v
    return verify, lim


def read_bytes(data: bytes, **options: Any) -> Checkpoint:
    """Decode and validate a checkpoint held in memory (docs/FORMAT.md section 5).

    ``options``: ``verify_checksums`` and the limits (``max_file_size``, ...).
    """
    verify, lim = _limits(dict(options))
    data = bytes(data)
    size = len(data)
    if size > lim["max_file_size"]:
        raise _fail("RECUR_E_FILE_TOO_LARGE", f"checkpoint is {size} bytes; max_file_size is {lim['max_file_size']}")
    if size < PREAMBLE:
        raise _fail("RECUR_E_TRUNCATED", f"checkpoint is {size} bytes; the preamble alone is {PREAMBLE}")
    if data[:8] != MAGIC:
        raise _fail("RECUR_E_BAD_MAGIC", "not a recur checkpoint (magic bytes differ)")
    major, minor, flags, header_len, header_crc, payload_len, payload_crc, preamble_crc = \
        struct.unpack_from("<HHIIIQII", data, 8)
    if verify and zlib.crc32(data[:36]) != preamble_crc:
        raise _fail("RECUR_E_CORRUPT_PREAMBLE", "preamble CRC-32 mismatch")
    if major == 0:
        raise _fail("RECUR_E_UNSUPPORTED_VERSION", "checkpoint major version 0 is not a valid version")
    if major > VERSION_MAJOR:
        swapped = ((major & 0xFF) << 8) | (major >> 8)
        hint = " (looks byte-swapped: written big-endian?)" if 1 <= swapped <= VERSION_MAJOR else ""
        raise _fail("RECUR_E_UNSUPPORTED_VERSION", f"checkpoint version {major}.{minor}; this reader supports major <= {VERSION_MAJOR}{hint}")
    if flags:
        raise _fail("RECUR_E_UNSUPPORTED_FEATURE", f"checkpoint sets must-understand flags {flags:#010x}")
    if not 1 <= header_len <= lim["max_header_size"]:
        raise _fail("RECUR_E_HEADER_SIZE", f"header_len {header_len} is outside 1...{lim['max_header_size']}")
    total = PREAMBLE + header_len + payload_len
    if total > size:
        raise _fail("RECUR_E_TRUNCATED", f"preamble + header_len {header_len} + payload_len {payload_len} exceeds the file size {size}")
    if total < size:
        raise _fail("RECUR_E_TRAILING_DATA", f"{size - total} bytes follow the payload")
    if payload_len < 1:
        raise _fail("RECUR_E_CORRUPT_PAYLOAD", "payload is empty")
    header = data[PREAMBLE:PREAMBLE + header_len]
    payload = data[PREAMBLE + header_len:]
    if verify:
        if zlib.crc32(header) != header_crc:
            raise _fail("RECUR_E_CORRUPT_HEADER", "header CRC-32 mismatch")
        if zlib.crc32(payload) != payload_crc:
            raise _fail("RECUR_E_CORRUPT_PAYLOAD", "payload CRC-32 mismatch")
    try:
        text = header.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise _fail("RECUR_E_HEADER_UTF8", f"header is not valid UTF-8 (byte {e.start})")
    top = _obj(_parse_json(text), "header")
    plan = _check_header(top, lim, payload_len)
    raw = _inflate_exact(payload, plan["uncompressed_len"])
    tensors, scales = {}, {}
    for name, dt, shape, off, nbytes in plan["tensors"]:
        b = unshuffle(raw[off:off + nbytes], ITEMSIZE[dt])
        if dt == "i8":
            tensors[name] = np.frombuffer(b, dtype=np.int8).reshape(shape)
            continue
        a = np.frombuffer(b, dtype={"f32": "<f4", "f16": "<f2"}[dt]).astype(np.float32).reshape(shape)
        if name.endswith(".scale") and plan["weight_dtype"] == "i8":
            scales[name[:-6]] = a  # checked with its matrix below, after every other tensor
            continue
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise _fail("RECUR_E_NONFINITE_WEIGHT", f"tensor {name}[{bad[0]}] is {a.reshape(-1)[bad[0]]}")
        tensors[name] = a
    for name, dt, shape, off, nbytes in plan["tensors"]:
        if name.endswith(".scale") and name[:-6] in scales:
            tensors[name[:-6]] = _dequantise(name[:-6], tensors[name[:-6]], scales[name[:-6]])
    return Checkpoint(plan["input_size"], plan["layers"], plan["output_size"], tensors,
                      output_transform=plan["output_transform"], weight_dtype=plan["weight_dtype"],
                      labels=plan["labels"], metadata=plan["metadata"])


def read_file(path: "os.PathLike[str] | str", **options: Any) -> Checkpoint:
    """Read a ``.recur`` file (regular files only, bounded read)."""
    verify, lim = _limits(dict(options))
    p = os.fspath(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError as e:
        raise _fail("RECUR_E_NOT_REGULAR_FILE", f"{p} is not a regular file") from e
    except OSError as e:
        raise _fail("RECUR_E_IO", f"cannot open {p}: {e.strerror} (errno {e.errno})") from e
    try:
        st = os.fstat(fd)
        import stat as _stat

        if not _stat.S_ISREG(st.st_mode):
            raise _fail("RECUR_E_NOT_REGULAR_FILE", f"{p} is not a regular file")
        if st.st_size > lim["max_file_size"]:
            raise _fail("RECUR_E_FILE_TOO_LARGE", f"{p} is {st.st_size} bytes; max_file_size is {lim['max_file_size']}")
        chunks, got = [], 0
        while got <= st.st_size:
            b = os.read(fd, st.st_size + 1 - got)
            if not b:
                break
            chunks.append(b)
            got += len(b)
        data = b"".join(chunks)
        if len(data) > st.st_size:
            raise _fail("RECUR_E_IO", f"{p} changed size while being read")
    finally:
        os.close(fd)
    try:
        return read_bytes(data, verify_checksums=verify, **lim)
    except RecurError as e:
        raise make_error(e.status, f"{p}: {e.message}") from None


def _check_header(top: Dict[str, Any], lim: Dict[str, int], payload_len: int) -> Dict[str, Any]:
    _keys(top, ("format", "requires", "model", "metadata", "payload", "tensors"),
          ("format", "requires", "model", "metadata", "payload", "tensors"), "header")
    fmt = _str(top["format"], "format")
    if fmt != "recur":
        raise _fail("RECUR_E_SCHEMA", f"format is \"{fmt}\", expected \"recur\"")
    features = set()
    for i, r in enumerate(_arr(top["requires"], "requires")):
        feature = _str(r, f"requires[{i}]")
        if feature not in FEATURES:
            raise _fail("RECUR_E_UNSUPPORTED_FEATURE", f"checkpoint requires feature \"{feature}\" unknown to this reader")
        if feature in features:
            raise _fail("RECUR_E_SCHEMA", f"requires lists \"{feature}\" twice")
        features.add(feature)
    requires_i8 = "i8" in features
    pl = _obj(top["payload"], "payload")
    _keys(pl, ("codec", "filter", "weight_dtype", "uncompressed_len"), ("codec", "filter", "weight_dtype", "uncompressed_len"), "payload")
    if _str(pl["codec"], "payload.codec") != "zlib":
        raise _fail("RECUR_E_UNSUPPORTED_FEATURE", f"payload codec \"{pl['codec']}\" is not supported")
    if _str(pl["filter"], "payload.filter") != "byteshuffle":
        raise _fail("RECUR_E_UNSUPPORTED_FEATURE", f"payload filter \"{pl['filter']}\" is not supported")
    wd = _str(pl["weight_dtype"], "payload.weight_dtype")
    if wd not in ITEMSIZE:
        raise _fail("RECUR_E_BAD_DTYPE", f"payload.weight_dtype \"{wd}\" is not f32, f16 or i8")
    if (wd == "i8") != requires_i8:
        raise _fail("RECUR_E_SCHEMA", "payload.weight_dtype i8 and requires [\"i8\"] go together")
    ulen = _int(pl["uncompressed_len"], "payload.uncompressed_len", MAX_BYTE_INT)
    if ulen > lim["max_payload_size"]:
        raise _fail("RECUR_E_PAYLOAD_TOO_LARGE", f"payload inflates to {ulen} bytes; max_payload_size is {lim['max_payload_size']}")
    if ulen > RATIO_GRACE and ulen > payload_len * lim["max_ratio"]:
        raise _fail("RECUR_E_RATIO", f"compression ratio {ulen // max(payload_len, 1)}:1 exceeds max_ratio {lim['max_ratio']}")

    table = _arr(top["tensors"], "tensors")
    if not 1 <= len(table) <= lim["max_tensors"]:
        raise _fail("RECUR_E_TOO_MANY_TENSORS", f"{len(table)} tensors; allowed 1...{lim['max_tensors']}")
    entries, names, expected_off = [], set(), 0
    for i, tv in enumerate(table):
        t = _obj(tv, f"tensors[{i}]")
        _keys(t, ("name", "dtype", "shape", "offset", "nbytes"), ("name", "dtype", "shape", "offset", "nbytes"), f"tensors[{i}]")
        name = _str(t["name"], f"tensors[{i}].name")
        nb = name.encode("utf-8", "surrogatepass")
        if not (1 <= len(nb) <= 128 and all(c in b"abcdefghijklmnopqrstuvwxyz0123456789_." for c in nb)):
            raise _fail("RECUR_E_BAD_NAME", f"tensors[{i}].name must be 1...128 bytes of [a-z0-9_.]")
        if name in names:
            raise _fail("RECUR_E_DUPLICATE_TENSOR", f"tensor \"{name}\" appears twice")
        names.add(name)
        dt = _str(t["dtype"], f"{name}.dtype")
        if dt not in ITEMSIZE:
            raise _fail("RECUR_E_BAD_DTYPE", f"tensor {name} has unknown dtype \"{dt}\"")
        dims = _arr(t["shape"], f"{name}.shape")
        if not 1 <= len(dims) <= 4:
            raise _fail("RECUR_E_BAD_SHAPE", f"tensor {name} has {len(dims)} dimensions (allowed 1...4)")
        product, overflow = 1, False
        for k, d in enumerate(dims):
            if isinstance(d, bool) or not isinstance(d, int):
                raise _fail("RECUR_E_SCHEMA", f"{name}.shape[{k}] must be an integer")
            if d <= 0:
                raise _fail("RECUR_E_BAD_SHAPE", f"tensor {name} dimension {k} is {d} (must be >= 1)")
            product *= d
            if product >= 2**63:
                overflow = True
        if overflow:
            raise _fail("RECUR_E_SHAPE_OVERFLOW", f"tensor {name} shape {dims} overflows 64-bit element count")
        for k, d in enumerate(dims):
            if d > lim["max_dimension"]:
                raise _fail("RECUR_E_BAD_SHAPE", f"tensor {name} dimension {k} is {d}; max_dimension is {lim['max_dimension']}")
        if product > lim["max_tensor_elements"]:
            raise _fail("RECUR_E_TENSOR_TOO_LARGE", f"tensor {name} has {product} elements; max_tensor_elements is {lim['max_tensor_elements']}")
        want = product * ITEMSIZE[dt]
        if want > lim["max_payload_size"]:
            raise _fail("RECUR_E_TENSOR_TOO_LARGE", f"tensor {name} is larger than max_payload_size")
        nbytes = _int(t["nbytes"], f"{name}.nbytes", MAX_BYTE_INT)
        if nbytes != want:
            raise _fail("RECUR_E_SIZE_MISMATCH", f"tensor {name}: nbytes {nbytes} != {product} elements x {ITEMSIZE[dt]}")
        off = _int(t["offset"], f"{name}.offset", MAX_BYTE_INT)
        if off != expected_off:
            raise _fail("RECUR_E_BAD_OFFSETS", f"tensor {name} starts at offset {off}; expected {expected_off}")
        expected_off += nbytes
        entries.append((name, dt, tuple(dims), off, nbytes))
    if expected_off != ulen:
        raise _fail("RECUR_E_SIZE_MISMATCH", f"tensors cover {expected_off} bytes; payload.uncompressed_len is {ulen}")

    m = _obj(top["model"], "model")
    _keys(m, ("input_size", "layers", "output_size", "output_transform", "labels"),
          ("input_size", "layers", "output_size", "output_transform"), "model")
    input_size = _int(m["input_size"], "model.input_size")
    output_size = _int(m["output_size"], "model.output_size")
    lj = _arr(m["layers"], "model.layers")
    if not 1 <= len(lj) <= MAX_LAYERS:
        raise _fail("RECUR_E_BAD_CONFIG", f"model has {len(lj)} layers (allowed 1...{MAX_LAYERS})")
    layers = [_read_layer(lv, f"model.layers[{i}]") for i, lv in enumerate(lj)]
    for f in ("gru", "lstm"):
        used = any(FEATURE.get(layer_kind(l)) == f for l in layers)
        if used != (f in features):
            raise _fail("RECUR_E_SCHEMA", f"the model has {f} layers but requires does not list \"{f}\"" if used
                        else f"requires lists \"{f}\" but the model has no {f} layer")
    transform = _str(m["output_transform"], "model.output_transform")
    _check_config(input_size, layers, output_size, transform)
    labels: List[str] = []
    if "labels" in m:
        la = _arr(m["labels"], "model.labels")
        if len(la) != output_size:
            raise _fail("RECUR_E_BAD_CONFIG", f"model has {len(la)} labels for output_size {output_size}")
        for i, l in enumerate(la):
            if not isinstance(l, str):
                raise _fail("RECUR_E_BAD_LABEL", f"model.labels[{i}] must be a string")
        labels = list(la)
        _check_labels(labels, output_size)
    meta = top["metadata"]
    if not isinstance(meta, dict):
        raise _fail("RECUR_E_BAD_METADATA", "metadata must be an object of strings")
    if len(meta) > 256:
        raise _fail("RECUR_E_BAD_METADATA", f"{len(meta)} metadata entries (max 256)")
    for k, v in meta.items():
        if not isinstance(v, str):
            raise _fail("RECUR_E_BAD_METADATA", f"metadata \"{k}\" must be a string")
    _check_metadata(list(meta.items()))

    expected = {name: (shape, is_matrix) for name, shape, is_matrix in tensor_specs(input_size, layers, output_size)}
    if wd == "i8":
        for name, (shape, is_matrix) in list(expected.items()):
            if is_matrix:
                expected[name + ".scale"] = ((shape[0],), False)
    for name, dt, shape, _, _ in entries:
        if name not in expected:
            raise _fail("RECUR_E_UNEXPECTED_TENSOR", f"tensor {name} is not part of this model config")
        want_shape, is_matrix = expected[name]
        if shape != want_shape:
            raise _fail("RECUR_E_SHAPE_MISMATCH", f"tensor {name} has shape {list(shape)}; the config requires {list(want_shape)}")
        want = wd if is_matrix else "f32"
        if dt != want:
            raise _fail("RECUR_E_DTYPE_MISMATCH", f"tensor {name} is {dt}; expected {want}")
    for name in expected:
        if name not in names:
            raise _fail("RECUR_E_MISSING_TENSOR", f"tensor {name} is missing")
    return dict(input_size=input_size, layers=layers, output_size=output_size, output_transform=transform,
                weight_dtype=wd, labels=labels, metadata=dict(meta), uncompressed_len=ulen, tensors=entries)


def _read_layer(lv: Any, what: str) -> tuple:
    """One layer object, with the Swift reader's rules in its order."""
    lo = _obj(lv, what)
    if "kind" not in lo:
        _keys(lo, ("size", "activation"), ("size", "activation"), what)
        size = _int(lo["size"], f"{what}.size")
        act = _str(lo["activation"], f"{what}.activation")
        if act not in ACTIVATIONS:
            raise _fail("RECUR_E_BAD_CONFIG", f"{what}.activation \"{act}\" is not tanh, relu, sigmoid or identity")
        return (size, act)
    kind = _str(lo["kind"], f"{what}.kind")
    if kind not in KINDS:
        raise _fail("RECUR_E_BAD_CONFIG", f"{what}.kind \"{kind}\" is not gru, gru_reset_before or lstm")
    _keys(lo, ("kind", "size", "proj_size") if kind == "lstm" else ("kind", "size"), ("kind", "size"), what)
    size = _int(lo["size"], f"{what}.size")
    if "proj_size" in lo:
        p = _int(lo["proj_size"], f"{what}.proj_size")
        if not 1 <= p < size:
            raise _fail("RECUR_E_BAD_CONFIG", f"{what}.proj_size {p} must be 1...{size - 1} (smaller than the layer)")
        return (size, "lstm", p)
    return (size, kind)


def _inflate_exact(payload: bytes, expected: int) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(payload, expected + 1)
    except zlib.error as e:
        raise _fail("RECUR_E_CORRUPT_PAYLOAD", f"zlib stream is corrupt (bad header, data or Adler-32): {e}")
    if len(out) > expected:
        raise _fail("RECUR_E_DECOMPRESSED_SIZE", f"payload inflates to more than the declared {expected} bytes")
    if not d.eof:
        raise _fail("RECUR_E_CORRUPT_PAYLOAD", f"zlib stream is truncated (ended after {len(out)} of {expected} bytes)")
    if len(out) != expected:
        raise _fail("RECUR_E_DECOMPRESSED_SIZE", f"payload inflates to {len(out)} bytes; header declares {expected}")
    if d.unused_data:
        raise _fail("RECUR_E_TRAILING_DATA", f"{len(d.unused_data)} bytes follow the end of the zlib stream")
    return out


def write_atomically(path: str, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory; on error the
    destination is untouched and the temp file removed."""
    d = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise _fail("RECUR_E_NOT_REGULAR_FILE", f"{path} is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=d)
    except OSError as e:
        raise _fail("RECUR_E_IO", f"cannot create a temporary file in {d}: {e.strerror} (errno {e.errno})") from e
    ok = False
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        ok = True
    except OSError as e:
        raise _fail("RECUR_E_IO", f"cannot write {path}: {e.strerror} (errno {e.errno})") from e
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        dfd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass  # directories that cannot be synced: the rename stands
