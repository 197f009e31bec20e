"""A float64 numpy reference of the forward pass, written from the equations (the oracle
for tests), for every layer kind:

- elman: ``h = act(W x + U h + b)``;
- gru (PyTorch ``nn.GRU``): ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(...)``,
  ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``, ``h' = (1 − z) ⊙ n + z ⊙ h``;
- gru_reset_before: the same with ``n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)``;
- lstm (PyTorch ``nn.LSTM``, gates i, f, g, o): ``c' = f ⊙ c + i ⊙ g``,
  ``h' = o ⊙ tanh(c')``, projected ``h' = W_hr (o ⊙ tanh(c'))``;

then ``y = transform(Wo h_L + bo)``. The state of a layer is ``h`` (and ``c`` for LSTM).
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np

from .format import Checkpoint, layer_kind, layer_proj, layer_width, normalize_layer

_ACT = {
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "identity": lambda v: v,
}


def _sig(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def transform(y: np.ndarray, kind: str) -> np.ndarray:
    if kind == "softmax":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-y))
    return y


class ReferenceNet:
    """Steps a checkpoint in float64. ``h`` holds each layer's output state, ``c`` each LSTM
    layer's cell state (``None`` for other kinds)."""

    def __init__(self, ckpt: Checkpoint, batch: Optional[int] = None):
        self.c = ckpt
        self.layers = [normalize_layer(l) for l in ckpt.layers]
        t = {k: np.asarray(v, np.float64) for k, v in ckpt.tensors.items()}
        self.t = t
        self.Wo, self.bo = t["head.weight"], t["head.bias"]
        shape = (lambda n: (n,)) if batch is None else (lambda n: (batch, n))
        self.h: List[np.ndarray] = [np.zeros(shape(layer_width(l))) for l in self.layers]
        self.cell: List[Optional[np.ndarray]] = [np.zeros(shape(l[0])) if layer_kind(l) == "lstm" else None
                                                  for l in self.layers]

    def step(self, x: np.ndarray) -> np.ndarray:
        v = np.asarray(x, np.float64)
        t = self.t
        for l, layer in enumerate(self.layers):
            kind, H, h = layer_kind(layer), layer[0], self.h[l]
            wi, wh = t[f"layers.{l}.w_in"], t[f"layers.{l}.w_rec"]
            if kind == "elman":
                self.h[l] = _ACT[layer[1]](v @ wi.T + h @ wh.T + t[f"layers.{l}.bias"])
            elif kind in ("gru", "gru_reset_before"):
                bi, bh = t[f"layers.{l}.bias_in"], t[f"layers.{l}.bias_rec"]
                gi = v @ wi.T + bi
                r = _sig(gi[..., :H] + h @ wh[:H].T + bh[:H])
                z = _sig(gi[..., H:2 * H] + h @ wh[H:2 * H].T + bh[H:2 * H])
                if kind == "gru":
                    n = np.tanh(gi[..., 2 * H:] + r * (h @ wh[2 * H:].T + bh[2 * H:]))
                else:
                    n = np.tanh(gi[..., 2 * H:] + (r * h) @ wh[2 * H:].T + bh[2 * H:])
                self.h[l] = (1 - z) * n + z * h
            else:
                a = v @ wi.T + t[f"layers.{l}.bias_in"] + h @ wh.T + t[f"layers.{l}.bias_rec"]
                i, f = _sig(a[..., :H]), _sig(a[..., H:2 * H])
                g, o = np.tanh(a[..., 2 * H:3 * H]), _sig(a[..., 3 * H:])
                self.cell[l] = f * self.cell[l] + i * g
                hn = o * np.tanh(self.cell[l])
                self.h[l] = hn @ t[f"layers.{l}.w_proj"].T if layer_proj(layer) else hn
            v = self.h[l]
        return transform(v @ self.Wo.T + self.bo, self.c.output_transform)

    def run(self, xs: np.ndarray) -> np.ndarray:
        return np.stack([self.step(x) for x in np.asarray(xs)])

    @property
    def state(self) -> np.ndarray:
        """The raw state in the library's order: per layer h, then c for LSTM layers."""
        parts = []
        for h, c in zip(self.h, self.cell):
            parts += [h] + ([c] if c is not None else [])
        return np.concatenate(parts, axis=-1)

    @state.setter
    def state(self, v: np.ndarray) -> None:
        v = np.asarray(v, np.float64)
        k = 0
        for l, layer in enumerate(self.layers):
            w = layer_width(layer)
            self.h[l] = v[..., k:k + w].copy()
            k += w
            if self.cell[l] is not None:
                self.cell[l] = v[..., k:k + layer[0]].copy()
                k += layer[0]


def forward(ckpt: Checkpoint, xs: np.ndarray) -> np.ndarray:
    """Outputs for every step of ``xs`` (``(T, input)`` or ``(T, B, input)``), from zero state."""
    xs = np.asarray(xs)
    return ReferenceNet(ckpt, None if xs.ndim == 2 else xs.shape[1]).run(xs)
