"""Token sampling (``recur_sampler_*``): greedy, temperature, top-k, top-p, min-p and a
repetition penalty, deterministic by seed.

>>> s = recur.Sampler(temperature=0.8, top_p=0.95, seed=1)
>>> token = s.sample(logits)          # an int in 0 ... len(logits) - 1
"""

from __future__ import annotations

from ctypes import byref, c_int32

import numpy as np

from . import _lib
from .model import ArrayLike, _check, _Managed


class Sampler(_Managed):
    """Picks token ids from logits. Applied in this order: the repetition penalty over the last
    ``repetition_last_n`` tokens (logits / penalty when positive, x penalty when negative),
    then greedy when ``temperature`` is 0, else temperature, ``top_k`` (0: off), ``top_p``
    (1: off), ``min_p`` (0: off) and one draw. The same arguments and calls give the same
    tokens; ``reset()`` replays. One thread at a time."""

    def __init__(self, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
                 repetition_penalty: float = 1.0, repetition_last_n: int = 64, seed: int = 0) -> None:
        self._lib = _lib.lib()
        p = self._lib.init_struct(_lib.SamplerParams)
        for name, v, lo, hi in (("top_k", top_k, 0, 2**31 - 1), ("repetition_last_n", repetition_last_n, 0, 65536),
                                ("seed", seed, 0, 2**64 - 1)):
            if not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
                raise ValueError(f"{name} {v!r} is not an integer in {lo} ... {hi}")
        p.temperature, p.top_p, p.min_p = float(temperature), float(top_p), float(min_p)
        p.repetition_penalty = float(repetition_penalty)
        p.top_k, p.repetition_last_n, p.seed = int(top_k), int(repetition_last_n), int(seed)
        h = _lib.SamplerHandle()
        _check(self._lib.recur_sampler_create(byref(p), byref(h)))
        self._h = h

    def _free(self, handle) -> None:
        self._lib.recur_sampler_free(handle)

    def sample(self, logits: ArrayLike) -> int:
        """One token id from a vector of finite logits (the sampler remembers it)."""
        a = np.ascontiguousarray(np.asarray(logits, dtype=np.float32).reshape(-1))
        t = c_int32()
        _check(self._lib.recur_sampler_sample(self.handle, a.ctypes.data, a.size, byref(t)))
        return t.value

    def accept(self, token: int) -> None:
        """Remember a token the sampler did not pick (a prompt's) for the repetition penalty."""
        _check(self._lib.recur_sampler_accept(self.handle, int(token)))

    def reset(self) -> None:
        """History cleared, generator reseeded: the same draws again."""
        _check(self._lib.recur_sampler_reset(self.handle))
