"""recur: Python bindings for librecur, an embeddable runtime for feedback (recurrent)
neural networks.

>>> import recur
>>> model = recur.Model.load("model.recur")
>>> session = model.session()
>>> y = session.step(x)            # one step, state kept between calls
>>> ys = session.run(xs)           # (T, input) -> (T, output)

Conversion from PyTorch and a pure-Python checkpoint reader/writer live in
``recur.convert`` and ``recur.format``; a float64 numpy reference of the forward pass in
``recur.reference``.
"""

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
from .training import Progress, Trainer, evaluate

__version__ = "0.1.0"

__all__ = [
    "AdapterMismatchError", "CancelledError", "Progress", "Trainer", "TrainingError", "evaluate",
    "ABI_VERSION", "BatchSession", "CheckpointError", "ConfigError", "InvalidArgumentError", "Model",
    "NonFiniteError", "NotFoundError", "OutOfMemoryError", "RecurError", "RecurIOError", "Session",
    "StateMismatchError", "VersionMismatchError", "load_library", "library_version",
]


def library_version() -> str:
    """Version string of the loaded librecur."""
    return load_library().recur_version_string().decode()
