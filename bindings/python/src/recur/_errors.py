"""Exception hierarchy: one class per family of ``recur_status`` codes."""

from __future__ import annotations

from typing import Dict, Type


class RecurError(Exception):
    """A failure reported by librecur (or by the pure-Python format module).

    ``status`` is the ``RECUR_E_*`` code of ``include/recur.h``; ``message`` the detail
    (``recur_last_error_message()`` for native calls).
    """

    def __init__(self, status: int, message: str):
        name = status_name(status)
        text = message if (not status or message.startswith(name)) else f"{name}: {message}"
        super().__init__(text)
        self.status = status
        self.message = message


class InvalidArgumentError(RecurError, ValueError):
    """Bad argument: NULL, wrong length, bad value, wrong handle, index out of range."""


class NonFiniteError(RecurError, ValueError):
    """NaN or Inf in inputs, state or weights."""


class StateMismatchError(RecurError, ValueError):
    """A state snapshot from another model body or batch size."""


class ConfigError(RecurError, ValueError):
    """Invalid model config, labels or metadata."""


class RecurIOError(RecurError, OSError):
    """Open/read/write/rename failed, not a regular file, or file too large."""


class CheckpointError(RecurError):
    """A checkpoint failed validation (corrupt, truncated, hostile or unsupported)."""


class VersionMismatchError(CheckpointError):
    """Unsupported checkpoint version or feature, or a library ABI mismatch."""


class CancelledError(RecurError):
    """Training was cancelled by the progress callback (nothing was produced)."""


class TrainingError(RecurError, ArithmeticError):
    """Training diverged (non-finite loss or weights) or the ridge system is singular."""


class AdapterMismatchError(RecurError, ValueError):
    """A head adapter applied to a model with another body."""


class OutOfMemoryError(RecurError, MemoryError):
    """The library could not allocate memory."""


class NotFoundError(RecurError, KeyError):
    """No such label or metadata key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)


#: Status names, pinned values from include/recur.h.
STATUS_NAMES: Dict[int, str] = {
    0: "RECUR_OK",
    -1: "RECUR_E_INVALID_ARGUMENT", -2: "RECUR_E_NULL_POINTER", -3: "RECUR_E_BAD_HANDLE",
    -4: "RECUR_E_LENGTH_MISMATCH", -5: "RECUR_E_BUFFER_TOO_SMALL", -6: "RECUR_E_NONFINITE_INPUT",
    -7: "RECUR_E_OUT_OF_MEMORY", -8: "RECUR_E_INDEX_OUT_OF_RANGE", -9: "RECUR_E_NOT_FOUND",
    -10: "RECUR_E_STATE_MISMATCH", -11: "RECUR_E_BAD_CONFIG", -12: "RECUR_E_BAD_LABEL",
    -13: "RECUR_E_BAD_METADATA", -14: "RECUR_E_NONFINITE_WEIGHT", -15: "RECUR_E_CANCELLED",
    -16: "RECUR_E_DIVERGED", -17: "RECUR_E_ADAPTER_MISMATCH", -18: "RECUR_E_SINGULAR", -19: "RECUR_E_NONFINITE_STATE",
    -20: "RECUR_E_IO", -21: "RECUR_E_NOT_REGULAR_FILE", -22: "RECUR_E_FILE_TOO_LARGE",
    -40: "RECUR_E_TRUNCATED", -41: "RECUR_E_BAD_MAGIC", -42: "RECUR_E_UNSUPPORTED_VERSION",
    -43: "RECUR_E_UNSUPPORTED_FEATURE", -44: "RECUR_E_CORRUPT_PREAMBLE", -45: "RECUR_E_HEADER_SIZE",
    -46: "RECUR_E_TRAILING_DATA", -47: "RECUR_E_CORRUPT_HEADER", -48: "RECUR_E_CORRUPT_PAYLOAD",
    -49: "RECUR_E_HEADER_UTF8", -50: "RECUR_E_HEADER_JSON", -51: "RECUR_E_HEADER_DEPTH",
    -52: "RECUR_E_DUPLICATE_KEY", -53: "RECUR_E_SCHEMA", -54: "RECUR_E_TOO_MANY_TENSORS",
    -55: "RECUR_E_DUPLICATE_TENSOR", -56: "RECUR_E_BAD_NAME", -57: "RECUR_E_BAD_DTYPE",
    -58: "RECUR_E_BAD_SHAPE", -59: "RECUR_E_SHAPE_OVERFLOW", -60: "RECUR_E_TENSOR_TOO_LARGE",
    -61: "RECUR_E_SIZE_MISMATCH", -62: "RECUR_E_BAD_OFFSETS", -63: "RECUR_E_PAYLOAD_TOO_LARGE",
    -64: "RECUR_E_RATIO", -65: "RECUR_E_DECOMPRESSED_SIZE", -66: "RECUR_E_MISSING_TENSOR",
    -67: "RECUR_E_UNEXPECTED_TENSOR", -68: "RECUR_E_SHAPE_MISMATCH", -69: "RECUR_E_DTYPE_MISMATCH",
}
STATUS = {v: k for k, v in STATUS_NAMES.items()}

_CLASSES: Dict[int, Type[RecurError]] = {}
for _code in (-1, -2, -3, -4, -5, -8):
    _CLASSES[_code] = InvalidArgumentError
_CLASSES[-6] = NonFiniteError
_CLASSES[-14] = NonFiniteError
_CLASSES[-19] = NonFiniteError
_CLASSES[-7] = OutOfMemoryError
_CLASSES[-9] = NotFoundError
_CLASSES[-10] = StateMismatchError
_CLASSES[-15] = CancelledError
_CLASSES[-16] = TrainingError
_CLASSES[-17] = AdapterMismatchError
_CLASSES[-18] = TrainingError
for _code in (-11, -12, -13):
    _CLASSES[_code] = ConfigError
for _code in (-20, -21, -22):
    _CLASSES[_code] = RecurIOError
for _code in range(-69, -39):
    _CLASSES[_code] = CheckpointError
_CLASSES[-42] = VersionMismatchError
_CLASSES[-43] = VersionMismatchError


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"RECUR_E_UNKNOWN({status})")


def error_class(status: int) -> Type[RecurError]:
    """The exception class raised for ``status``."""
    return _CLASSES.get(status, RecurError)


def make_error(status: int, message: str) -> RecurError:
    return error_class(status)(status, message)
