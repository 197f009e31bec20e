"""ctypes declarations mirroring ``include/recur.h`` one to one.

Every function of the header is declared here with explicit ``argtypes`` and
``restype`` (the C prototype is quoted above each). Handles are distinct
``c_void_p`` subclasses whose ``from_param`` refuses the other kind, so a model
cannot be passed where a session is expected. ``tests/test_drift.py`` checks
that this file, the header and the library's exported symbols declare the same
set of functions.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from ctypes import POINTER, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import List, Optional

#: The ABI version this package was written for (RECUR_ABI_VERSION).
ABI_VERSION = 1


def _handle_type(c_name: str):
    """A ``c_void_p`` subclass for one opaque handle type whose ``from_param`` refuses every
    other kind, so a model can never be passed where a session is expected."""

    @classmethod
    def from_param(cls, obj):
        if obj is None or isinstance(obj, cls):
            return obj
        raise TypeError(f"expected a {c_name} handle, got {type(obj).__name__}")

    return type(c_name, (c_void_p,), {"from_param": from_param, "__doc__": f"``{c_name} *``."})


ModelHandle = _handle_type("recur_model")
SessionHandle = _handle_type("recur_session")
TrainerHandle = _handle_type("recur_trainer")
SamplerHandle = _handle_type("recur_sampler")


class LoadOptions(ctypes.Structure):
    """``recur_load_options``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("flags", c_uint32),
        ("max_file_size", c_uint64),
        ("max_header_size", c_uint32),
        ("max_tensors", c_uint32),
        ("max_dimension", c_uint32),
        ("max_ratio", c_uint32),
        ("max_tensor_elements", c_uint64),
        ("max_payload_size", c_uint64),
    ]


class ModelConfig(ctypes.Structure):
    """``recur_model_config``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("input_size", c_uint32),
        ("num_layers", c_uint32),
        ("output_size", c_uint32),
        ("layer_sizes", POINTER(c_uint32)),
        ("activations", POINTER(c_int32)),
        ("output_transform", c_int32),
        ("weight_dtype", c_int32),
        ("labels", POINTER(c_char_p)),
        ("num_metadata", c_size_t),
        ("metadata_keys", POINTER(c_char_p)),
        ("metadata_values", POINTER(c_char_p)),
        ("layer_kinds", POINTER(c_int32)),
        ("proj_sizes", POINTER(c_uint32)),
    ]


class SaveOptions(ctypes.Structure):
    """``recur_save_options``."""

    _fields_ = [("struct_size", c_uint32), ("weight_dtype", c_int32), ("compression_level", c_int32)]


class TrainerConfig(ctypes.Structure):
    """``recur_trainer_config``."""

    _fields_ = [
        ("struct_size", c_uint32), ("loss", c_int32), ("optimizer", c_int32), ("nesterov", c_int32),
        ("learning_rate", ctypes.c_double), ("momentum", ctypes.c_double), ("beta1", ctypes.c_double),
        ("beta2", ctypes.c_double), ("epsilon", ctypes.c_double), ("weight_decay", ctypes.c_double),
        ("clip_norm", ctypes.c_double), ("batch_size", c_uint32), ("epochs", c_uint32), ("shuffle", c_int32),
        ("scope_layers", c_int32), ("seed", c_uint64), ("bptt_steps", c_uint32), ("progress_every_batch", c_int32),
    ]


class SamplerParams(ctypes.Structure):
    """``recur_sampler_params``."""

    _fields_ = [
        ("struct_size", c_uint32), ("temperature", ctypes.c_float), ("top_k", c_uint32), ("top_p", ctypes.c_float),
        ("min_p", ctypes.c_float), ("repetition_penalty", ctypes.c_float), ("repetition_last_n", c_uint32),
        ("seed", c_uint64),
    ]


class Dataset(ctypes.Structure):
    """``recur_dataset``."""

    _fields_ = [
        ("struct_size", c_uint32), ("target_kind", c_int32), ("inputs", c_void_p), ("inputs_len", c_size_t),
        ("lengths", c_void_p), ("num_sequences", c_size_t), ("classes", c_void_p), ("classes_len", c_size_t),
        ("values", c_void_p), ("values_len", c_size_t),
    ]


class Progress(ctypes.Structure):
    """``recur_progress``."""

    _fields_ = [("epoch", c_uint32), ("epochs", c_uint32), ("step", c_uint64), ("loss", ctypes.c_double),
                ("metric", ctypes.c_double), ("end_of_epoch", c_int32)]


class Evaluation(ctypes.Structure):
    """``recur_evaluation``."""

    _fields_ = [("loss", ctypes.c_double), ("accuracy", ctypes.c_double), ("rmse", ctypes.c_double),
                ("count", c_size_t)]


#: ``recur_progress_fn``
PROGRESS_FN = ctypes.CFUNCTYPE(c_int32, POINTER(Progress), c_void_p)

LOAD_SKIP_CHECKSUMS = 0x1
DTYPE_MODEL, DTYPE_F32, DTYPE_F16, DTYPE_I8 = -1, 0, 1, 2

_P = POINTER
_status = c_int32
_MH, _SH, _TH, _XH = ModelHandle, SessionHandle, TrainerHandle, SamplerHandle

# name: (restype, argtypes) -- one entry per function of include/recur.h, in header order.
_SIGNATURES = {
    # const char *recur_version_string(void);
    "recur_version_string": (c_char_p, []),
    # uint32_t recur_version_number(void);
    "recur_version_number": (c_uint32, []),
    # uint32_t recur_abi_version(void);
    "recur_abi_version": (c_uint32, []),
    # const char *recur_kernels(void);
    "recur_kernels": (c_char_p, []),
    # const char *recur_status_string(recur_status status);
    "recur_status_string": (c_char_p, [_status]),
    # const char *recur_last_error_message(void);
    "recur_last_error_message": (c_char_p, []),
    # recur_status recur_load_options_init(recur_load_options *options, size_t size);
    "recur_load_options_init": (_status, [_P(LoadOptions), c_size_t]),
    # recur_load_options recur_load_default_options(void);  (deprecated)
    "recur_load_default_options": (LoadOptions, []),
    # recur_status recur_model_load(const char *path, const recur_load_options *options, recur_model **out);
    "recur_model_load": (_status, [c_char_p, _P(LoadOptions), _P(_MH)]),
    # recur_status recur_model_load_memory(const void *data, size_t len, const recur_load_options *, recur_model **);
    "recur_model_load_memory": (_status, [c_void_p, c_size_t, _P(LoadOptions), _P(_MH)]),
    # recur_status recur_model_config_init(recur_model_config *config, size_t size);
    "recur_model_config_init": (_status, [_P(ModelConfig), c_size_t]),
    # recur_model_config recur_model_default_config(void);  (deprecated)
    "recur_model_default_config": (ModelConfig, []),
    # recur_status recur_model_config_num_params(const recur_model_config *config, size_t *out);
    "recur_model_config_num_params": (_status, [_P(ModelConfig), _P(c_size_t)]),
    # recur_status recur_model_create(const recur_model_config *, const float *params, size_t len, recur_model **);
    "recur_model_create": (_status, [_P(ModelConfig), c_void_p, c_size_t, _P(_MH)]),
    # recur_status recur_model_init(const recur_model_config *, uint64_t seed, recur_model **);
    "recur_model_init": (_status, [_P(ModelConfig), ctypes.c_uint64, _P(_MH)]),
    # void recur_model_free(recur_model *model);
    "recur_model_free": (None, [_MH]),
    # recur_status recur_model_get_params(const recur_model *model, float *out, size_t out_len);
    "recur_model_get_params": (_status, [_MH, c_void_p, c_size_t]),
    # recur_status recur_model_input_size(const recur_model *model, size_t *out);
    "recur_model_input_size": (_status, [_MH, _P(c_size_t)]),
    "recur_model_output_size": (_status, [_MH, _P(c_size_t)]),
    "recur_model_num_layers": (_status, [_MH, _P(c_size_t)]),
    "recur_model_num_params": (_status, [_MH, _P(c_size_t)]),
    "recur_model_state_floats": (_status, [_MH, _P(c_size_t)]),
    "recur_model_state_size": (_status, [_MH, _P(c_size_t)]),  # deprecated
    # recur_status recur_model_output_transform(const recur_model *model, int32_t *out);
    "recur_model_output_transform": (_status, [_MH, _P(c_int32)]),
    "recur_model_weight_dtype": (_status, [_MH, _P(c_int32)]),
    # recur_status recur_model_layer(const recur_model *, size_t index, size_t *size, int32_t *activation);
    "recur_model_layer": (_status, [_MH, c_size_t, _P(c_size_t), _P(c_int32)]),
    # recur_status recur_model_layer_kind(const recur_model *, size_t index, int32_t *kind, size_t *proj_size);
    "recur_model_layer_kind": (_status, [_MH, c_size_t, _P(c_int32), _P(c_size_t)]),
    "recur_model_num_labels": (_status, [_MH, _P(c_size_t)]),
    # recur_status recur_model_label(const recur_model *model, size_t index, const char **out);
    "recur_model_label": (_status, [_MH, c_size_t, _P(c_char_p)]),
    "recur_model_num_metadata": (_status, [_MH, _P(c_size_t)]),
    # recur_status recur_model_metadata_at(const recur_model *, size_t index, const char **key, const char **value);
    "recur_model_metadata_at": (_status, [_MH, c_size_t, _P(c_char_p), _P(c_char_p)]),
    # recur_status recur_model_metadata(const recur_model *model, const char *key, const char **value);
    "recur_model_metadata": (_status, [_MH, c_char_p, _P(c_char_p)]),
    # recur_status recur_save_options_init(recur_save_options *options, size_t size);
    "recur_save_options_init": (_status, [_P(SaveOptions), c_size_t]),
    # recur_save_options recur_save_default_options(void);  (deprecated)
    "recur_save_default_options": (SaveOptions, []),
    # recur_status recur_model_save(const recur_model *model, const char *path, const recur_save_options *options);
    "recur_model_save": (_status, [_MH, c_char_p, _P(SaveOptions)]),
    # recur_status recur_model_save_memory(const recur_model *, const recur_save_options *, void *buf, size_t cap, size_t *out_len);
    "recur_model_save_memory": (_status, [_MH, _P(SaveOptions), c_void_p, c_size_t, _P(c_size_t)]),
    # recur_status recur_session_create(const recur_model *model, recur_session **out);
    "recur_session_create": (_status, [_MH, _P(_SH)]),
    # recur_status recur_session_create_batch(const recur_model *model, size_t batch, recur_session **out);
    "recur_session_create_batch": (_status, [_MH, c_size_t, _P(_SH)]),
    # recur_status recur_session_clone(const recur_session *session, recur_session **out);
    "recur_session_clone": (_status, [_SH, _P(_SH)]),
    # void recur_session_free(recur_session *session);
    "recur_session_free": (None, [_SH]),
    "recur_session_batch_size": (_status, [_SH, _P(c_size_t)]),
    "recur_session_set_threads": (_status, [_SH, c_uint32]),
    "recur_session_threads": (_status, [_SH, _P(c_uint32)]),
    "recur_session_reset": (_status, [_SH]),
    "recur_session_reset_stream": (_status, [_SH, c_size_t]),
    # recur_status recur_session_step(recur_session *, const float *x, size_t x_len, float *y, size_t y_len);
    "recur_session_step": (_status, [_SH, c_void_p, c_size_t, c_void_p, c_size_t]),
    # recur_status recur_session_run(recur_session *, const float *xs, size_t xs_len, size_t n_steps, float *ys, size_t ys_len);
    "recur_session_run": (_status, [_SH, c_void_p, c_size_t, c_size_t, c_void_p, c_size_t]),
    # recur_status recur_session_get_hidden(const recur_session *, float *out, size_t out_len);
    "recur_session_get_hidden": (_status, [_SH, c_void_p, c_size_t]),
    "recur_session_set_hidden": (_status, [_SH, c_void_p, c_size_t]),
    "recur_session_state_bytes": (_status, [_SH, _P(c_size_t)]),
    "recur_session_state_size": (_status, [_SH, _P(c_size_t)]),  # deprecated
    # recur_status recur_session_get_state(const recur_session *, void *buf, size_t len);
    "recur_session_get_state": (_status, [_SH, c_void_p, c_size_t]),
    "recur_session_set_state": (_status, [_SH, c_void_p, c_size_t]),
    # recur_status recur_trainer_config_init(recur_trainer_config *config, size_t size);
    "recur_trainer_config_init": (_status, [_P(TrainerConfig), c_size_t]),
    # recur_trainer_config recur_trainer_default_config(void);  (deprecated)
    "recur_trainer_default_config": (TrainerConfig, []),
    # recur_status recur_dataset_init(recur_dataset *data, size_t size);
    "recur_dataset_init": (_status, [_P(Dataset), c_size_t]),
    # recur_dataset recur_dataset_default(void);  (deprecated)
    "recur_dataset_default": (Dataset, []),
    # recur_status recur_trainer_create(const recur_model *, const recur_trainer_config *, recur_trainer **);
    "recur_trainer_create": (_status, [_MH, _P(TrainerConfig), _P(_TH)]),
    # void recur_trainer_free(recur_trainer *trainer);
    "recur_trainer_free": (None, [_TH]),
    # recur_status recur_trainer_fit(recur_trainer *, const recur_dataset *, recur_progress_fn, void *, recur_model **);
    "recur_trainer_fit": (_status, [_TH, _P(Dataset), PROGRESS_FN, c_void_p, _P(_MH)]),
    # recur_status recur_trainer_last_good(const recur_trainer *trainer, recur_model **out);
    "recur_trainer_last_good": (_status, [_TH, _P(_MH)]),
    # recur_status recur_model_evaluate(const recur_model *, const recur_dataset *, int32_t loss, recur_evaluation *);
    "recur_model_evaluate": (_status, [_MH, _P(Dataset), c_int32, _P(Evaluation)]),
    # recur_status recur_model_with_new_head(const recur_model *, size_t outputs, const char *const *labels,
    #                                        int32_t transform, uint64_t seed, recur_model **out);
    "recur_model_with_new_head": (_status, [_MH, c_size_t, _P(c_char_p), c_int32, c_uint64, _P(_MH)]),
    # recur_status recur_model_extend_head(const recur_model *, size_t new_classes, const char *const *labels,
    #                                      uint64_t seed, recur_model **out);
    "recur_model_extend_head": (_status, [_MH, c_size_t, _P(c_char_p), c_uint64, _P(_MH)]),
    # recur_status recur_model_fingerprint(const recur_model *model, uint64_t *body, uint64_t *full);
    "recur_model_fingerprint": (_status, [_MH, _P(c_uint64), _P(c_uint64)]),
    # recur_status recur_model_save_adapter(const recur_model *model, const char *path);
    "recur_model_save_adapter": (_status, [_MH, c_char_p]),
    # recur_status recur_model_save_adapter_memory(const recur_model *, void *buf, size_t cap, size_t *out_len);
    "recur_model_save_adapter_memory": (_status, [_MH, c_void_p, c_size_t, _P(c_size_t)]),
    # recur_status recur_model_apply_adapter(const recur_model *base, const char *path, const recur_load_options *, recur_model **);
    "recur_model_apply_adapter": (_status, [_MH, c_char_p, _P(LoadOptions), _P(_MH)]),
    # recur_status recur_model_apply_adapter_memory(const recur_model *base, const void *data, size_t len,
    #                                               const recur_load_options *, recur_model **);
    "recur_model_apply_adapter_memory": (_status, [_MH, c_void_p, c_size_t, _P(LoadOptions), _P(_MH)]),
    # recur_status recur_sampler_params_init(recur_sampler_params *, size_t size);
    "recur_sampler_params_init": (_status, [_P(SamplerParams), c_size_t]),
    # recur_status recur_sampler_create(const recur_sampler_params *, recur_sampler **);
    "recur_sampler_create": (_status, [_P(SamplerParams), _P(_XH)]),
    # void recur_sampler_free(recur_sampler *);
    "recur_sampler_free": (None, [_XH]),
    # recur_status recur_sampler_sample(recur_sampler *, const float *logits, size_t n, int32_t *token);
    "recur_sampler_sample": (_status, [_XH, c_void_p, c_size_t, _P(c_int32)]),
    # recur_status recur_sampler_accept(recur_sampler *, int32_t token);
    "recur_sampler_accept": (_status, [_XH, c_int32]),
    # recur_status recur_sampler_reset(recur_sampler *);
    "recur_sampler_reset": (_status, [_XH]),
}

#: The init function of each parameter struct.
_INIT = {LoadOptions: "recur_load_options_init", ModelConfig: "recur_model_config_init",
         SaveOptions: "recur_save_options_init", TrainerConfig: "recur_trainer_config_init",
         Dataset: "recur_dataset_init", SamplerParams: "recur_sampler_params_init"}

#: Functions declared here (the drift test compares this with the header and the library).
DECLARED = frozenset(_SIGNATURES)


class Library:
    """A loaded ``librecur`` with every function declared."""

    def __init__(self, cdll: ctypes.CDLL, path: str):
        self.cdll = cdll
        self.path = path
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(cdll, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        # Hot-path entry points: separate function objects taking raw addresses (ints), so a
        # step costs one ctypes call with integer conversions only. The session handle's
        # kind is checked once when the Session is built, and again by the library.
        self.step_raw = cdll["recur_session_step"]
        self.step_raw.restype = c_int32
        self.step_raw.argtypes = [c_void_p, c_void_p, c_size_t, c_void_p, c_size_t]
        self.run_raw = cdll["recur_session_run"]
        self.run_raw.restype = c_int32
        self.run_raw.argtypes = [c_void_p, c_void_p, c_size_t, c_size_t, c_void_p, c_size_t]

    def init_struct(self, cls):
        """A new ``cls`` (LoadOptions, ModelConfig, SaveOptions, TrainerConfig, Dataset) filled
        by its ``recur_*_init`` function with this package's struct size."""
        obj = cls()
        st = getattr(self, _INIT[cls])(ctypes.byref(obj), ctypes.sizeof(obj))
        if st != 0:
            from ._errors import make_error

            raise make_error(st, self.last_error())
        return obj

    def last_error(self) -> str:
        msg = self.recur_last_error_message()
        return msg.decode("utf-8", "replace") if msg else ""


_loaded: Optional[Library] = None


def _candidates() -> List[Path]:
    here = Path(__file__).resolve().parent
    out = [here / "_lib" / "librecur.so"]
    # The repository's release build: bindings/python/src/recur -> repo root.
    for up in (here.parents[3] if len(here.parents) > 3 else None,):
        if up is not None:
            out.append(up / ".build" / "release" / "librecur.so")
    return out


def load_library(path: Optional[str] = None) -> Library:
    """Load librecur (once per process) and check its ABI version.

    Lookup order: ``path`` -> ``RECUR_LIBRARY`` environment variable -> the copy bundled
    in this package -> the repository's release build (``.build/release``) -> the system
    loader (``ctypes.util.find_library("recur")``). A failure lists every path tried.
    """
    global _loaded
    if path is None and _loaded is not None:
        return _loaded
    tried: List[str] = []
    choices: List[str] = []
    system = None
    if path is not None:
        choices.append(str(path))
    else:
        env = os.environ.get("RECUR_LIBRARY")
        if env:
            choices.append(env)
        else:
            tried.append("RECUR_LIBRARY: not set")
        choices += [str(p) for p in _candidates()]
        system = ctypes.util.find_library("recur")
        if system:
            choices.append(system)
    for c in choices:
        if "/" in c and not os.path.exists(c):
            tried.append(f"{c}: not found")
            continue
        try:
            cdll = ctypes.CDLL(c)
        except OSError as e:
            tried.append(f"{c}: {e}")
            continue
        lib = Library(cdll, c)
        abi = lib.recur_abi_version()
        if abi != ABI_VERSION:
            from ._errors import VersionMismatchError

            raise VersionMismatchError(
                0, f"{c} has ABI version {abi}; this package needs {ABI_VERSION} "
                f"(library {lib.recur_version_string().decode()})")
        _loaded = lib
        return lib
    if path is None and not system:
        tried.append("system loader: find_library('recur') found nothing")
    raise OSError("could not load librecur; tried:\n  " + "\n  ".join(tried))


def lib() -> Library:
    """The loaded library (loading it with the default lookup on first use)."""
    return _loaded if _loaded is not None else load_library()
