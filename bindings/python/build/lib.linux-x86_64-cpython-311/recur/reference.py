"""A float64 numpy reference of the forward pass, written from the equations (the oracle
for tests): ``h_l = act_l(W_l x_l + U_l h_l(prev) + b_l)``, ``y = transform(Wo h_L + bo)``."""

from __future__ import annotations

from typing import List, Optional

import numpy as np

from .format import Checkpoint

_ACT = {
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "identity": lambda v: v,
}


def transform(y: np.ndarray, kind: str) -> np.ndarray:
    if kind == "softmax":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-y))
    return y


class ReferenceNet:
    """Steps a checkpoint in float64. ``h`` holds one state vector per layer."""

    def __init__(self, ckpt: Checkpoint, batch: Optional[int] = None):
        self.c = ckpt
        t = {k: np.asarray(v, np.float64) for k, v in ckpt.tensors.items()}
        self.W = [t[f"layers.{l}.w_in"] for l in range(len(ckpt.layers))]
        self.U = [t[f"layers.{l}.w_rec"] for l in range(len(ckpt.layers))]
        self.b = [t[f"layers.{l}.bias"] for l in range(len(ckpt.layers))]
        self.Wo, self.bo = t["head.weight"], t["head.bias"]
        shape = (lambda n: (n,)) if batch is None else (lambda n: (batch, n))
        self.h: List[np.ndarray] = [np.zeros(shape(s)) for s, _ in ckpt.layers]

    def step(self, x: np.ndarray) -> np.ndarray:
        v = np.asarray(x, np.float64)
        for l, (_, act) in enumerate(self.c.layers):
            self.h[l] = _ACT[act](v @ self.W[l].T + self.h[l] @ self.U[l].T + self.b[l])
            v = self.h[l]
        return transform(v @ self.Wo.T + self.bo, self.c.output_transform)

    def run(self, xs: np.ndarray) -> np.ndarray:
        return np.stack([self.step(x) for x in np.asarray(xs)])


def forward(ckpt: Checkpoint, xs: np.ndarray) -> np.ndarray:
    """Outputs for every step of ``xs`` (``(T, input)`` or ``(T, B, input)``), from zero state."""
    xs = np.asarray(xs)
    return ReferenceNet(ckpt, None if xs.ndim == 2 else xs.shape[1]).run(xs)
