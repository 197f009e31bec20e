"""Pythonic API over the native library: Model, Session, BatchSession."""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_char_p, c_int32, c_size_t, c_uint64
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._errors import InvalidArgumentError, make_error

ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
_F32 = np.dtype(np.float32)
_STAGE_MAX = 4096  # floats: inputs up to 16 KiB are staged (copying is cheaper than .ctypes.data)
TRANSFORMS = ("none", "softmax", "sigmoid")
#: RECUR_LAYER_* order.
LAYER_KINDS = ("elman", "gru", "gru_reset_before", "lstm")
DTYPES = ("f32", "f16", "i8")

PathLike = Union[str, "os.PathLike[str]"]
ArrayLike = Union[np.ndarray, Sequence[float], Sequence[Sequence[float]]]


def _check(status: int) -> None:
    if status != 0:
        raise make_error(status, _lib.lib().last_error())


def _f32(x: ArrayLike, shape: Tuple[int, ...], name: str) -> np.ndarray:
    """float32, C-contiguous view of x (no copy when it already is), shape-checked."""
    a = x if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous else \
        np.ascontiguousarray(x, dtype=np.float32)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


def _out(out: Optional[np.ndarray], shape: Tuple[int, ...], name: str = "out") -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not (type(out) is np.ndarray and out.dtype == np.float32 and out.flags.c_contiguous
            and out.flags.writeable):
        raise ValueError(f"{name} must be a writeable C-contiguous float32 numpy array")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    return out


def _labels(labels: Optional[Sequence[str]], n: int):
    if labels is None:
        return None
    enc = [str(x).encode("utf-8") for x in labels]
    if len(enc) != n:
        raise ValueError(f"{len(enc)} labels for {n} outputs")
    return (c_char_p * n)(*enc)


def _load_options(verify_checksums: bool = True, **limits: int) -> _lib.LoadOptions:
    o = _lib.lib().init_struct(_lib.LoadOptions)
    if not verify_checksums:
        o.flags |= _lib.LOAD_SKIP_CHECKSUMS
    for k, v in limits.items():
        if k not in {f[0] for f in _lib.LoadOptions._fields_} or k in ("struct_size", "flags"):
            raise TypeError(f"unknown load option {k!r}")
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"load option {k} must be a positive integer")
        setattr(o, k, v)
    return o


class _Managed:
    """Owns one native handle: idempotent ``close()``, context manager, ``__del__`` as a
    fallback; using the object after ``close()`` raises ``ValueError``, never crashes."""

    _h = None

    def _free(self, handle) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _released(self) -> None:
        """Hook: drop cached state when the handle goes away."""

    @property
    def handle(self):
        if self._h is None:
            raise ValueError(f"this {type(self).__name__} is closed")
        return self._h

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Release the native object (idempotent)."""
        h, self._h = self._h, None
        self._released()
        if h is not None:
            self._free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Model(_Managed):
    """An immutable feedback network loaded in librecur.

    Thread rule: a model may be used from any number of threads at once. Close it with
    ``close()`` or a ``with`` block; sessions keep the native model alive on their own.
    """

    def __init__(self, handle: _lib.ModelHandle):
        self._h: Optional[_lib.ModelHandle] = handle
        self._lib = _lib.lib()

    # -- construction ------------------------------------------------------------------

    @classmethod
    def load(cls, path: PathLike, *, verify_checksums: bool = True, **limits: int) -> "Model":
        """Load a ``.recur`` file. ``limits`` override the reader's limits (``max_file_size``,
        ``max_header_size``, ``max_tensors``, ``max_dimension``, ``max_ratio``,
        ``max_tensor_elements``, ``max_payload_size``)."""
        lib = _lib.lib()
        opts = _load_options(verify_checksums, **limits)
        h = _lib.ModelHandle()
        _check(lib.recur_model_load(os.fsencode(path), byref(opts), byref(h)))
        return cls(h)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], *, verify_checksums: bool = True,
                   **limits: int) -> "Model":
        """Load a checkpoint held in memory (the bytes are only read during the call)."""
        lib = _lib.lib()
        buf = np.frombuffer(data, dtype=np.uint8)
        opts = _load_options(verify_checksums, **limits)
        h = _lib.ModelHandle()
        _check(lib.recur_model_load_memory(buf.ctypes.data, buf.size, byref(opts), byref(h)))
        return cls(h)

    @classmethod
    def create(cls, input_size: int, layers: Sequence[Union[int, Tuple]], output_size: int,
               parameters: ArrayLike, *, output_transform: str = "none", weight_dtype: str = "f32",
               labels: Optional[Sequence[str]] = None,
               metadata: Optional[Dict[str, str]] = None) -> "Model":
        """Build a model from a config and all parameters in ``recur_model_create`` order.

        ``layers``: per layer ``size`` or ``(size, activation)`` (a plain feedback layer),
        ``(size, "gru")``, ``(size, "gru_reset_before")``, ``(size, "lstm")`` or
        ``(size, "lstm", proj_size)``. Parameters per layer: elman W (H x I), U (H x H), b (H);
        gated PyTorch's weight_ih, weight_hh, bias_ih, bias_hh (+ weight_hr); then Wo, bo."""
        lib = _lib.lib()
        cfg, _keep = cls._config(input_size, layers, output_size, output_transform, weight_dtype, labels, metadata)
        n = c_size_t()
        _check(lib.recur_model_config_num_params(byref(cfg), byref(n)))
        p = _f32(np.asarray(parameters, dtype=np.float32).reshape(-1), (n.value,), "parameters")
        h = _lib.ModelHandle()
        _check(lib.recur_model_create(byref(cfg), p.ctypes.data, p.size, byref(h)))
        return cls(h)

    @classmethod
    def new(cls, input_size: int, layers: Sequence[Union[int, Tuple]], output_size: int, *, seed: int = 0,
            output_transform: str = "none", weight_dtype: str = "f32", labels: Optional[Sequence[str]] = None,
            metadata: Optional[Dict[str, str]] = None) -> "Model":
        """A model from scratch (``recur_model_init``): ``layers`` as in :meth:`create`, every
        parameter drawn from ``seed`` as PyTorch initialises the same modules (recurrent layers
        uniform in ±1/√H, the head in ±1/√fan_in). The same seed gives the same bits on every
        machine.

        >>> m = recur.Model.new(12, [(64, "gru")], 9, output_transform="softmax", seed=1)"""
        if not isinstance(seed, int) or not 0 <= seed < 1 << 64:
            raise ValueError(f"seed {seed!r} is not an integer in 0 ... 2**64 - 1")
        lib = _lib.lib()
        cfg, _keep = cls._config(input_size, layers, output_size, output_transform, weight_dtype, labels, metadata)
        h = _lib.ModelHandle()
        _check(lib.recur_model_init(byref(cfg), ctypes.c_uint64(seed), byref(h)))
        return cls(h)

    @staticmethod
    def _config(input_size, layers, output_size, output_transform, weight_dtype, labels, metadata):
        """A filled recur_model_config and the ctypes arrays it points into (keep them alive)."""
        from .format import KINDS, layer_kind, layer_proj, normalize_layer

        lib = _lib.lib()
        sizes, acts, kinds, projs = [], [], [], []
        for layer in layers:
            layer = normalize_layer(layer)
            size, name = layer[0], layer[1]
            if name not in ACTIVATIONS and name not in KINDS:
                raise ValueError(f"layer {layer!r}: {name!r} is not an activation {ACTIVATIONS} or a kind {KINDS}")
            sizes.append(int(size))
            acts.append(ACTIVATIONS.index(name) if name in ACTIVATIONS else 0)
            kinds.append(LAYER_KINDS.index(layer_kind(layer)))
            projs.append(layer_proj(layer))
        if output_transform not in TRANSFORMS:
            raise ValueError(f"output_transform {output_transform!r} is not one of {TRANSFORMS}")
        if weight_dtype not in DTYPES:
            raise ValueError(f"weight_dtype {weight_dtype!r} is not one of {DTYPES}")
        for name, v in (("input_size", input_size), ("output_size", output_size), *(("layer size", s) for s in sizes)):
            if not 0 <= int(v) <= 0xFFFFFFFF:
                raise ValueError(f"{name} {v} is out of range")
        cfg = lib.init_struct(_lib.ModelConfig)
        cfg.input_size = int(input_size)
        cfg.output_size = int(output_size)
        cfg.num_layers = len(sizes)
        c_sizes = (ctypes.c_uint32 * max(len(sizes), 1))(*sizes)
        c_acts = (ctypes.c_int32 * max(len(acts), 1))(*acts)
        cfg.layer_sizes = c_sizes
        cfg.activations = c_acts
        c_kinds = (ctypes.c_int32 * max(len(kinds), 1))(*kinds)
        c_projs = (ctypes.c_uint32 * max(len(projs), 1))(*projs)
        cfg.layer_kinds = c_kinds
        cfg.proj_sizes = c_projs
        cfg.output_transform = TRANSFORMS.index(output_transform)
        cfg.weight_dtype = DTYPES.index(weight_dtype)
        keep = []
        if labels is not None:
            enc = [str(x).encode("utf-8") for x in labels]
            if len(enc) != output_size:
                raise ValueError(f"{len(enc)} labels for {output_size} outputs")
            arr = (c_char_p * max(len(enc), 1))(*enc)
            keep.append(arr)
            cfg.labels = arr
        if metadata:
            ks = [str(k).encode("utf-8") for k in metadata]
            vs = [str(v).encode("utf-8") for v in metadata.values()]
            ka, va = (c_char_p * len(ks))(*ks), (c_char_p * len(vs))(*vs)
            keep += [ka, va]
            cfg.num_metadata = len(ks)
            cfg.metadata_keys = ka
            cfg.metadata_values = va
        keep += [c_sizes, c_acts, c_kinds, c_projs]
        return cfg, keep

    def _free(self, handle) -> None:
        """Release the caller's reference; sessions keep the native model alive."""
        self._lib.recur_model_free(handle)

    # -- introspection -----------------------------------------------------------------

    def _size(self, fn) -> int:
        v = c_size_t()
        _check(fn(self.handle, byref(v)))
        return v.value

    @property
    def input_size(self) -> int:
        return self._size(self._lib.recur_model_input_size)

    @property
    def output_size(self) -> int:
        return self._size(self._lib.recur_model_output_size)

    @property
    def num_parameters(self) -> int:
        return self._size(self._lib.recur_model_num_params)

    @property
    def state_size(self) -> int:
        """Floats of recurrent state per stream: per layer its output width, plus its size for
        an LSTM's cell state (the layout of ``Session.hidden``: per layer h, then c)."""
        return self._size(self._lib.recur_model_state_floats)

    @property
    def layers(self) -> List[tuple]:
        """Per layer ``(size, activation)`` (plain feedback layers), ``(size, "gru")``,
        ``(size, "gru_reset_before")``, ``(size, "lstm")`` or ``(size, "lstm", proj_size)``."""
        out = []
        for i in range(self._size(self._lib.recur_model_num_layers)):
            size, act, kind, proj = c_size_t(), c_int32(), c_int32(), c_size_t()
            _check(self._lib.recur_model_layer(self.handle, i, byref(size), byref(act)))
            _check(self._lib.recur_model_layer_kind(self.handle, i, byref(kind), byref(proj)))
            if kind.value == 0:
                out.append((size.value, ACTIVATIONS[act.value]))
            elif proj.value:
                out.append((size.value, "lstm", proj.value))
            else:
                out.append((size.value, LAYER_KINDS[kind.value]))
        return out

    @property
    def output_transform(self) -> str:
        v = c_int32()
        _check(self._lib.recur_model_output_transform(self.handle, byref(v)))
        return TRANSFORMS[v.value]

    @property
    def weight_dtype(self) -> str:
        v = c_int32()
        _check(self._lib.recur_model_weight_dtype(self.handle, byref(v)))
        return DTYPES[v.value]

    @property
    def labels(self) -> List[str]:
        out = []
        for i in range(self._size(self._lib.recur_model_num_labels)):
            s = c_char_p()
            _check(self._lib.recur_model_label(self.handle, i, byref(s)))
            out.append((s.value or b"").decode("utf-8"))
        return out

    @property
    def metadata(self) -> Dict[str, str]:
        out = {}
        for i in range(self._size(self._lib.recur_model_num_metadata)):
            k, v = c_char_p(), c_char_p()
            _check(self._lib.recur_model_metadata_at(self.handle, i, byref(k), byref(v)))
            out[(k.value or b"").decode("utf-8")] = (v.value or b"").decode("utf-8")
        return out

    def parameters(self) -> np.ndarray:
        """All parameters in ``recur_model_create`` order (a copy)."""
        out = np.empty(self.num_parameters, dtype=np.float32)
        _check(self._lib.recur_model_get_params(self.handle, out.ctypes.data, out.size))
        return out

    def __repr__(self) -> str:
        if self._h is None:
            return "<recur.Model closed>"
        layers = ", ".join(f"{l[0]} {l[1]}" + (f"(proj {l[2]})" if len(l) > 2 else "") for l in self.layers)
        return f"<recur.Model {self.input_size} -> [{layers}] -> {self.output_size} {self.output_transform}>"

    # -- saving ------------------------------------------------------------------------

    def _save_options(self, weight_dtype: Optional[str], compression_level: int) -> _lib.SaveOptions:
        o = self._lib.init_struct(_lib.SaveOptions)
        if weight_dtype is not None:
            if weight_dtype not in DTYPES:
                raise ValueError(f"weight_dtype {weight_dtype!r} is not one of {DTYPES}")
            o.weight_dtype = DTYPES.index(weight_dtype)
        o.compression_level = int(compression_level)
        return o

    def save(self, path: PathLike, *, weight_dtype: Optional[str] = None, compression_level: int = 6) -> None:
        """Write a ``.recur`` file atomically (temp file, fsync, rename, directory fsync)."""
        o = self._save_options(weight_dtype, compression_level)
        _check(self._lib.recur_model_save(self.handle, os.fsencode(path), byref(o)))

    def to_bytes(self, *, weight_dtype: Optional[str] = None, compression_level: int = 6) -> bytes:
        """The ``.recur`` bytes of this model."""
        o = self._save_options(weight_dtype, compression_level)
        n = c_size_t()
        st = self._lib.recur_model_save_memory(self.handle, byref(o), None, 0, byref(n))
        if st != -5:  # RECUR_E_BUFFER_TOO_SMALL is the size answer
            _check(st)
        buf = ctypes.create_string_buffer(n.value)
        _check(self._lib.recur_model_save_memory(self.handle, byref(o), buf, n.value, byref(n)))
        return buf.raw[: n.value]

    # -- sessions ----------------------------------------------------------------------

    # -- heads and adapters (fine-tuning, docs/FINETUNING.md) --

    def with_new_head(self, n_outputs: int, labels: Optional[Sequence[str]] = None, seed: int = 0,
                      output_transform: Optional[str] = None) -> "Model":
        """This body with a fresh head of ``n_outputs`` outputs, initialised like PyTorch's
        ``nn.Linear`` from ``seed``; ``output_transform`` None keeps the current one."""
        if output_transform is not None and output_transform not in TRANSFORMS:
            raise ValueError(f"output_transform {output_transform!r} is not one of {TRANSFORMS}")
        if not isinstance(n_outputs, (int, np.integer)) or n_outputs < 1:
            raise ValueError(f"n_outputs must be a positive integer, got {n_outputs!r}")
        out = _lib.ModelHandle()
        t = -1 if output_transform is None else TRANSFORMS.index(output_transform)
        _check(self._lib.recur_model_with_new_head(self.handle, int(n_outputs), _labels(labels, int(n_outputs)), t,
                                                  int(seed), byref(out)))
        return Model(out)

    def extend_head(self, new_classes: int, labels: Optional[Sequence[str]] = None, seed: int = 0) -> "Model":
        """This model with ``new_classes`` more outputs (old rows and labels kept)."""
        if not isinstance(new_classes, (int, np.integer)) or new_classes < 1:
            raise ValueError(f"new_classes must be a positive integer, got {new_classes!r}")
        out = _lib.ModelHandle()
        _check(self._lib.recur_model_extend_head(self.handle, int(new_classes), _labels(labels, int(new_classes)),
                                                int(seed), byref(out)))
        return Model(out)

    def save_adapter(self, path: PathLike) -> None:
        """Save only the head (a few hundred bytes), bound to this body, atomically."""
        _check(self._lib.recur_model_save_adapter(self.handle, os.fsencode(path)))

    def adapter_bytes(self) -> bytes:
        """The adapter of ``save_adapter`` as bytes."""
        n = c_size_t()
        st = self._lib.recur_model_save_adapter_memory(self.handle, None, 0, byref(n))
        if st != -5:
            _check(st)
        buf = ctypes.create_string_buffer(n.value)
        _check(self._lib.recur_model_save_adapter_memory(self.handle, buf, n.value, byref(n)))
        return buf.raw[: n.value]

    def apply_adapter(self, adapter: Union[PathLike, bytes, bytearray, memoryview], **limits: int) -> "Model":
        """This body with the adapter's head (a path or bytes); ``AdapterMismatchError`` if the
        adapter was trained on another body."""
        opts = _load_options(True, **limits)
        out = _lib.ModelHandle()
        if isinstance(adapter, (bytes, bytearray, memoryview)):
            buf = np.frombuffer(adapter, dtype=np.uint8)
            _check(self._lib.recur_model_apply_adapter_memory(self.handle, buf.ctypes.data, buf.size, byref(opts),
                                                             byref(out)))
        else:
            _check(self._lib.recur_model_apply_adapter(self.handle, os.fsencode(adapter), byref(opts), byref(out)))
        return Model(out)

    @property
    def fingerprint(self) -> Tuple[int, int]:
        """(body, full) FNV-1a fingerprints."""
        body, full = c_uint64(), c_uint64()
        _check(self._lib.recur_model_fingerprint(self.handle, byref(body), byref(full)))
        return body.value, full.value

    def evaluate(self, sequences, targets, loss: str = "mse") -> Dict[str, float]:
        """``recur.evaluate(self, sequences, targets, loss)``."""
        from .training import evaluate

        return evaluate(self, sequences, targets, loss)

    def session(self, batch: Optional[int] = None) -> "Session":
        """A new session (state zero). ``batch=B`` gives a ``BatchSession`` of B streams."""
        return Session(self) if batch is None else BatchSession(self, batch)


class Session(_Managed):
    """The recurrent state of one stream. One thread at a time.

    ``step(x)`` takes ``(input_size,)`` and returns ``(output_size,)``; ``run(xs)`` takes
    ``(T, input_size)`` and returns ``(T, output_size)``. Inputs may be any array-like;
    float32 C-contiguous arrays are passed without a copy. ``out=`` reuses a buffer.
    """

    _batch = 1

    def __init__(self, model: Model, batch: Optional[int] = None, *, _handle: Optional[_lib.SessionHandle] = None):
        self._lib = _lib.lib()
        self.model = model  # keeps the Python object alive; the native session holds its own reference
        if _handle is None:
            h = _lib.SessionHandle()
            if batch is None:
                _check(self._lib.recur_session_create(model.handle, byref(h)))
            else:
                if not isinstance(batch, (int, np.integer)) or batch < 1:
                    raise ValueError(f"batch must be a positive integer, got {batch!r}")
                _check(self._lib.recur_session_create_batch(model.handle, int(batch), byref(h)))
            _handle = h
        self._h: Optional[_lib.SessionHandle] = _handle
        self._raw = _handle.value
        self._in = model.input_size
        self._outn = model.output_size
        self._state_size = model.state_size
        self._step = self._lib.step_raw
        self._run = self._lib.run_raw
        self._xshape = (self._in,) if type(self) is Session else (self._batch, self._in)
        self._yshape = (self._outn,) if type(self) is Session else (self._batch, self._outn)
        self._xlen = self._batch * self._in
        self._ylen = self._batch * self._outn
        # Cached buffers and addresses for step() (see its docstring). Holding a reference
        # to a remembered array keeps its address valid.
        self._xstage = np.zeros(self._xshape, dtype=np.float32)
        self._xstage_p = self._xstage.ctypes.data
        self._ystage = np.zeros(self._yshape, dtype=np.float32)
        self._ystage_p = self._ystage.ctypes.data
        self._xprev = self._xkeep = self._okeep = None
        self._xkeep_p = self._okeep_p = 0

    def _free(self, handle) -> None:
        self._lib.recur_session_free(handle)

    def _released(self) -> None:
        self._raw = None
        self._xprev = self._xkeep = self._okeep = None

    @property
    def batch_size(self) -> int:
        return self._batch

    @property
    def threads(self) -> int:
        """Threads each step is split across (default 1). Setting it to n > 1 starts n - 1
        helper threads owned by this session (bit-identical results; worth it for large
        layers on idle cores, see bench/README.md)."""
        v = ctypes.c_uint32()
        _check(self._lib.recur_session_threads(self.handle, ctypes.byref(v)))
        return v.value

    @threads.setter
    def threads(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError("threads must be an int")
        if not 1 <= n <= 16:
            raise ValueError(f"threads {n} is outside 1...16")
        _check(self._lib.recur_session_set_threads(self.handle, n))

    # -- stepping ----------------------------------------------------------------------

    def step(self, x: ArrayLike, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Advance one step; returns the transformed output (a new array, or ``out``).

        Per-call cost is kept near the bare ctypes call: asking numpy for an array's address
        (``.ctypes.data``) costs about 2 us, so small inputs are staged through a cached
        buffer (a ~0.2 us copy), an array passed again is recognised by identity and used
        in place, and without ``out=`` the result is copied out of a cached buffer.
        """
        raw = self._raw
        if raw is None:
            raise ValueError("this Session is closed")
        if x is self._xkeep:
            xp = self._xkeep_p
        else:
            if not (type(x) is np.ndarray and x.dtype is _F32 and x.shape == self._xshape and x.flags.c_contiguous):
                x = _f32(x, self._xshape, "x")
            if x is self._xprev or x.size > _STAGE_MAX:
                xp = x.ctypes.data  # used in place, no copy; remembered for the next call
                self._xkeep, self._xkeep_p = x, xp
            else:
                self._xstage[...] = x
                xp = self._xstage_p
            self._xprev = x
        if out is None:
            st = self._step(raw, xp, self._xlen, self._ystage_p, self._ylen)
            if st:
                _check(st)
            return self._ystage.copy()
        if out is self._okeep:
            yp = self._okeep_p
        else:
            yp = _out(out, self._yshape).ctypes.data
            self._okeep, self._okeep_p = out, yp
        st = self._step(raw, xp, self._xlen, yp, self._ylen)
        if st:
            _check(st)
        return out

    def run(self, xs: ArrayLike, out: Optional[np.ndarray] = None, *, last_only: bool = False) -> np.ndarray:
        """Advance through a whole sequence in one native call.

        ``xs`` is ``(T, input)`` (``(T, batch, input)`` for a batch session). Returns every
        step's output ``(T, output)``, or with ``last_only=True`` just the last step's.
        Inputs are all checked before the first step: on error the state is unchanged.
        """
        if self._raw is None:
            raise ValueError("this Session is closed")
        a = np.asarray(xs, dtype=np.float32)
        if a.ndim != len(self._xshape) + 1 or a.shape[1:] != self._xshape:
            raise ValueError(f"xs must have shape (T, {', '.join(map(str, self._xshape))}), got {a.shape}")
        a = np.ascontiguousarray(a)
        steps = a.shape[0]
        yshape = self._yshape if last_only else (steps, *self._yshape)
        y = _out(out, yshape)
        if steps == 0:
            return y
        _check(self._run(self._raw, a.ctypes.data, a.size, steps, y.ctypes.data, y.size))
        return y

    def reset(self) -> None:
        """Zero the state of every stream."""
        _check(self._lib.recur_session_reset(self.handle))

    # -- state -------------------------------------------------------------------------

    @property
    def hidden(self) -> np.ndarray:
        """The raw recurrent state: ``(state_size,)`` (``(batch, state_size)`` for a batch)."""
        shape = (self._state_size,) if type(self) is Session else (self._batch, self._state_size)
        out = np.empty(shape, dtype=np.float32)
        _check(self._lib.recur_session_get_hidden(self.handle, out.ctypes.data, out.size))
        return out

    @hidden.setter
    def hidden(self, h: ArrayLike) -> None:
        shape = (self._state_size,) if type(self) is Session else (self._batch, self._state_size)
        a = _f32(h, shape, "hidden")
        _check(self._lib.recur_session_set_hidden(self.handle, a.ctypes.data, a.size))

    @property
    def state(self) -> bytes:
        """A snapshot of the state (bytes bound to the model body and batch size)."""
        n = c_size_t()
        _check(self._lib.recur_session_state_bytes(self.handle, byref(n)))
        buf = ctypes.create_string_buffer(n.value)
        _check(self._lib.recur_session_get_state(self.handle, buf, n.value))
        return buf.raw

    @state.setter
    def state(self, snapshot: Union[bytes, bytearray, memoryview]) -> None:
        buf = np.frombuffer(snapshot, dtype=np.uint8)
        _check(self._lib.recur_session_set_state(self.handle, buf.ctypes.data, buf.size))

    def clone(self) -> "Session":
        """A new session with the same model and a copy of the state."""
        h = _lib.SessionHandle()
        _check(self._lib.recur_session_clone(self.handle, byref(h)))
        c = type(self).__new__(type(self))
        c._batch = self._batch
        Session.__init__(c, self.model, _handle=h)
        return c

    def __repr__(self) -> str:
        return f"<recur.{type(self).__name__} {'closed' if self.closed else f'batch={self._batch}'}>"


class BatchSession(Session):
    """B independent streams stepped together: ``step`` takes ``(B, input)`` and returns
    ``(B, output)``; ``run`` takes ``(T, B, input)``. A stream's results depend only on its own
    inputs and state and repeat bit for bit; with 2 or 3 streams (or without AVX2+FMA) they
    equal a separate ``Session`` bit for bit, from 4 streams on AVX2+FMA CPUs (a GEMM kernel,
    ~1.4x the throughput) to float rounding (see ``recur_session_create_batch``)."""

    def __init__(self, model: Model, batch: int, *, _handle: Optional[_lib.SessionHandle] = None):
        if _handle is None:
            if not isinstance(batch, (int, np.integer)) or batch < 1:
                raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self._batch = int(batch)
        Session.__init__(self, model, int(batch), _handle=_handle)

    def reset(self, stream: Optional[int] = None) -> None:  # type: ignore[override]
        """Zero every stream, or just ``stream``."""
        if stream is None:
            _check(self._lib.recur_session_reset(self.handle))
        else:
            if not isinstance(stream, (int, np.integer)) or stream < 0:
                raise InvalidArgumentError(-8, f"stream {stream!r} out of range (batch size {self._batch})")
            _check(self._lib.recur_session_reset_stream(self.handle, int(stream)))
