"""Fine-tuning from Python: ``recur.Trainer``, datasets, heads and adapters.

>>> trainer = recur.Trainer(model, loss="cross_entropy", lr=0.01, epochs=20)
>>> tuned = trainer.fit(sequences, labels)            # a new Model; `model` is unchanged
>>> trainer.evaluate(sequences, labels, tuned)         # {'loss': ..., 'accuracy': ...}
"""

from __future__ import annotations

import queue
import threading
from ctypes import byref
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._errors import CancelledError
from .model import ArrayLike, Model, _check, _Managed

LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")
OPTIMIZERS = ("sgd", "adam", "adamw", "ridge")
TARGET_SEQUENCE_CLASSES, TARGET_STEP_CLASSES, TARGET_SEQUENCE_VALUES, TARGET_STEP_VALUES = 0, 1, 2, 3


@dataclass
class Progress:
    """One progress report: after every epoch (and every mini-batch when asked)."""

    epoch: int
    epochs: int
    step: int
    loss: float
    metric: float  # accuracy for classes, RMSE for MSE targets
    end_of_epoch: bool


class _Data:
    """Sequences and targets flattened into a ``recur_dataset`` (arrays kept alive)."""

    def __init__(self, sequences: Sequence[ArrayLike], targets, input_size: int, output_size: int):
        seqs = [np.ascontiguousarray(s, dtype=np.float32) for s in sequences]
        if not seqs:
            raise ValueError("no sequences")
        for i, s in enumerate(seqs):
            if s.ndim != 2 or s.shape[1] != input_size or s.shape[0] < 1:
                raise ValueError(f"sequence {i} must have shape (T, {input_size}) with T >= 1, got {s.shape}")
        self.inputs = np.concatenate(seqs).reshape(-1)
        self.lengths = np.array([s.shape[0] for s in seqs], dtype=np.uintp)
        d = _lib.lib().init_struct(_lib.Dataset)
        d.inputs, d.inputs_len = self.inputs.ctypes.data, self.inputs.size
        d.lengths, d.num_sequences = self.lengths.ctypes.data, len(seqs)
        # A list/tuple of arrays = per-step targets; one array (ints or floats) = per sequence.
        if isinstance(targets, (list, tuple)) and len(targets) > 0 and all(np.ndim(t) >= 1 for t in targets):
            if len(targets) != len(seqs):
                raise ValueError(f"{len(targets)} per-step target arrays for {len(seqs)} sequences")
            # per-step targets: one array per sequence
            parts = [np.asarray(t) for t in targets]
            for i, (t, s) in enumerate(zip(parts, seqs)):
                if t.shape[0] != s.shape[0]:
                    raise ValueError(f"targets[{i}] has {t.shape[0]} steps; sequence {i} has {s.shape[0]}")
            kind_int = np.issubdtype(parts[0].dtype, np.integer)
            if kind_int:
                self.classes = np.ascontiguousarray(np.concatenate(parts), dtype=np.int32)
                d.target_kind = TARGET_STEP_CLASSES
            else:
                self.values = np.ascontiguousarray(np.concatenate([p.reshape(p.shape[0], -1) for p in parts]),
                                                   dtype=np.float32).reshape(-1)
                d.target_kind = TARGET_STEP_VALUES
        else:
            t = np.asarray(targets)
            if t.ndim == 0 or t.shape[0] != len(seqs):
                raise ValueError(f"{t.shape[0] if t.ndim else 0} targets for {len(seqs)} sequences")
            if np.issubdtype(t.dtype, np.integer):
                if t.ndim != 1:
                    raise ValueError("class targets must be one integer per sequence")
                self.classes = np.ascontiguousarray(t, dtype=np.int32)
                d.target_kind = TARGET_SEQUENCE_CLASSES
            else:
                self.values = np.ascontiguousarray(t.reshape(len(seqs), -1), dtype=np.float32).reshape(-1)
                d.target_kind = TARGET_SEQUENCE_VALUES
        if hasattr(self, "classes"):
            d.classes, d.classes_len = self.classes.ctypes.data, self.classes.size
        else:
            d.values, d.values_len = self.values.ctypes.data, self.values.size
        self.c = d


def _scope(scope: Union[str, int]) -> int:
    if scope == "head":
        return 0
    if scope == "all":
        return -1
    if isinstance(scope, (int, np.integer)) and scope >= 1:
        return int(scope)
    raise ValueError(f"scope must be 'head', 'all' or a positive number of top layers, got {scope!r}")


class Trainer(_Managed):
    """Fine-tunes a model: the head (default), the top ``k`` layers + head (``scope=k``)
    or everything (``scope="all"``).

    Options mirror ``recur_trainer_config``: ``loss`` ("mse", "cross_entropy",
    "binary_cross_entropy"), ``optimizer`` ("sgd", "adam", "adamw", "ridge"), ``lr``,
    ``momentum``, ``nesterov``, ``betas``, ``eps``, ``weight_decay``, ``clip_norm``,
    ``batch_size``, ``epochs``, ``shuffle``, ``seed``, ``bptt_steps`` (0 = full BPTT),
    ``progress_every_batch``. Same seed, same bits.
    """

    def __init__(self, model: Model, *, loss: str = "mse", optimizer: str = "adam", lr: float = 1e-3,
                 epochs: int = 10, batch_size: int = 32, scope: Union[str, int] = "head", seed: int = 0,
                 momentum: float = 0.0, nesterov: bool = False, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, clip_norm: float = 0.0, shuffle: bool = True, bptt_steps: int = 0,
                 progress_every_batch: bool = False):
        if loss not in LOSSES:
            raise ValueError(f"loss {loss!r} is not one of {LOSSES}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {optimizer!r} is not one of {OPTIMIZERS}")
        for name, v in (("epochs", epochs), ("batch_size", batch_size), ("seed", seed), ("bptt_steps", bptt_steps)):
            if not isinstance(v, (int, np.integer)) or v < 0 or v >= 2**32 and name != "seed" or v >= 2**64:
                raise ValueError(f"{name} must be a non-negative integer in range, got {v!r}")
        lib = _lib.lib()
        c = lib.init_struct(_lib.TrainerConfig)
        c.loss, c.optimizer, c.nesterov = LOSSES.index(loss), OPTIMIZERS.index(optimizer), int(bool(nesterov))
        c.learning_rate, c.momentum = float(lr), float(momentum)
        c.beta1, c.beta2 = float(betas[0]), float(betas[1])
        c.epsilon, c.weight_decay, c.clip_norm = float(eps), float(weight_decay), float(clip_norm)
        c.batch_size, c.epochs, c.shuffle = int(batch_size), int(epochs), int(bool(shuffle))
        c.scope_layers, c.seed, c.bptt_steps = _scope(scope), int(seed), int(bptt_steps)
        c.progress_every_batch = int(bool(progress_every_batch))
        self.model = model
        self.loss = loss
        self._lib = lib
        h = _lib.TrainerHandle()
        _check(lib.recur_trainer_create(model.handle, byref(c), byref(h)))
        self._h: Optional[_lib.TrainerHandle] = h

    def _free(self, handle) -> None:
        self._lib.recur_trainer_free(handle)

    def _data(self, sequences, targets, model: Optional[Model] = None) -> _Data:
        m = model or self.model
        return _Data(sequences, targets, m.input_size, m.output_size)

    def fit(self, sequences: Sequence[ArrayLike], targets, callback: Optional[Callable[[Progress], Optional[bool]]] = None) -> Model:
        """Train and return a new ``Model``.

        ``sequences``: a list of ``(T_i, input)`` arrays. ``targets``: a numpy int array (one
        class per sequence), a numpy float array (one vector per sequence, ``(N, output)``), or
        a *list* of per-step arrays, one per sequence (``(T_i,)`` ints or ``(T_i, output)``
        floats). ``callback(progress)`` runs after each epoch;
        returning ``False`` cancels (``recur.CancelledError``); an exception it raises
        cancels and is re-raised.
        """
        data = self._data(sequences, targets)
        raised: List[BaseException] = []

        def cb(p, _user):
            if callback is None:
                return 0
            try:
                r = callback(Progress(p.contents.epoch, p.contents.epochs, p.contents.step, p.contents.loss,
                                      p.contents.metric, bool(p.contents.end_of_epoch)))
                return 1 if r is False else 0
            except BaseException as e:  # noqa: BLE001 - re-raised after the native call
                raised.append(e)
                return 1

        fn = _lib.PROGRESS_FN(cb)
        out = _lib.ModelHandle()
        st = self._lib.recur_trainer_fit(self.handle, byref(data.c), fn, None, byref(out))
        if raised:
            raise raised[0]
        _check(st)
        return Model(out)

    def fit_iter(self, sequences: Sequence[ArrayLike], targets) -> "FitIterator":
        """Iterate over epochs: ``for p in trainer.fit_iter(x, y): ...``; breaking out of the
        loop cancels. After the loop, ``.model`` holds the trained model."""
        return FitIterator(self, sequences, targets)

    def evaluate(self, sequences: Sequence[ArrayLike], targets, model: Optional[Model] = None) -> Dict[str, float]:
        """Loss and accuracy (classes) or RMSE (values) of ``model`` (default: the base)."""
        return evaluate(model or self.model, sequences, targets, loss=self.loss)

    def last_good(self) -> Optional[Model]:
        """The model after the last completed epoch of the last fit (e.g. after a cancel)."""
        out = _lib.ModelHandle()
        st = self._lib.recur_trainer_last_good(self.handle, byref(out))
        if st == -9:
            return None
        _check(st)
        return Model(out)


class FitIterator:
    """Runs a fit in a worker thread and yields its progress reports one by one. The
    native fit waits for the consumer after each report (the GIL is released meanwhile)."""

    def __init__(self, trainer: Trainer, sequences, targets):
        self.trainer, self.sequences, self.targets = trainer, sequences, targets
        self.model: Optional[Model] = None
        self._reports: "queue.Queue" = queue.Queue()
        self._answers: "queue.Queue" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._stopped = False

    def _run(self) -> None:
        def cb(p: Progress):
            self._reports.put(p)
            return self._answers.get()

        try:
            self.model = self.trainer.fit(self.sequences, self.targets, cb)
        except BaseException as e:  # noqa: BLE001
            self._error = e
        self._reports.put(None)

    def __iter__(self) -> Iterator[Progress]:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        try:
            while True:
                p = self._reports.get()
                if p is None:
                    break
                yield p
                self._answers.put(True)
        except GeneratorExit:
            self._stopped = True
            self._answers.put(False)
            self._reports.get()  # wait for the worker to finish cancelling
            raise
        finally:
            self._thread.join()
        if self._error is not None and not (self._stopped and isinstance(self._error, CancelledError)):
            raise self._error


def evaluate(model: Model, sequences: Sequence[ArrayLike], targets, loss: str = "mse") -> Dict[str, float]:
    """``{"loss", "accuracy" or "rmse", "count"}`` of ``model`` on the data."""
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is not one of {LOSSES}")
    data = _Data(sequences, targets, model.input_size, model.output_size)
    e = _lib.Evaluation()
    _check(_lib.lib().recur_model_evaluate(model.handle, byref(data.c), LOSSES.index(loss), byref(e)))
    out: Dict[str, float] = {"loss": e.loss, "count": e.count}
    if e.accuracy >= 0:
        out["accuracy"] = e.accuracy
    if e.rmse >= 0:
        out["rmse"] = e.rmse
    return out
