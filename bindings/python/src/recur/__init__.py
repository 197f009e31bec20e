"""recur: Python bindings for librecur, an embeddable runtime for feedback (recurrent)
neural networks.

>>> import recur
>>> model = recur.Model.load("model.recur")
>>> session = model.session()
>>> y = session.step(x)            # one step, state kept between calls
>>> ys = session.run(xs)           # (T, input) -> (T, output)

Conversion from PyTorch and a pure-Python checkpoint reader/writer live in
``recur.convert`` and ``recur.format``, the bundled JapaneseVowels data in ``recur.datasets``
(all three imported on first use: ``recur.convert.feedbacknet(...)`` works after ``import
recur``), a float64 numpy reference of the forward pass in ``recur.reference``, and the
byte-level tokenizer (UTF-8 bytes, incremental decoding) in ``recur.text``.
"""

import importlib as _importlib

from ._errors import (
    AdapterMismatchError,
    CancelledError,
    CheckpointError,
    ConfigError,
    InvalidArgumentError,
    NonFiniteError,
    NotFoundError,
    OutOfMemoryError,
    RecurError,
    RecurIOError,
    StateMismatchError,
    TrainingError,
    VersionMismatchError,
)
from ._lib import ABI_VERSION, load_library
from .model import BatchSession, Model, Session
from .sampling import Sampler
from .training import Progress, Trainer, evaluate

__all__ = [
    "AdapterMismatchError", "CancelledError", "Progress", "Trainer", "TrainingError", "evaluate",
    "ABI_VERSION", "BatchSession", "CheckpointError", "ConfigError", "InvalidArgumentError", "Model",
    "NonFiniteError", "NotFoundError", "OutOfMemoryError", "RecurError", "RecurIOError", "Sampler", "Session",
    "StateMismatchError", "VersionMismatchError", "load_library", "library_version", "kernels",
    "convert", "datasets", "format", "reference", "text",
]

_LAZY = ("convert", "datasets", "format", "reference", "text")


def __getattr__(name: str):
    """Submodules on first use, and ``__version__``: the version of the bundled library, whose
    one source is RECUR_VERSION_STRING in include/recur.h (the package metadata is built from
    the same macro)."""
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    if name == "__version__":
        return library_version()
    raise AttributeError(f"module 'recur' has no attribute {name!r}")


def library_version() -> str:
    """Version string of the loaded librecur."""
    return load_library().recur_version_string().decode()


def kernels() -> str:
    """The kernels the loaded library runs: "avx2+fma" or "portable"."""
    return load_library().recur_kernels().decode()
