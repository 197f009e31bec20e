"""Converters from PyTorch (torch optional) and plain arrays to ``recur.format.Checkpoint``.

Each accepts torch modules, torch state dicts, or dicts of numpy arrays, so exported
weights convert without torch installed. Options common to all converters:

- ``labels``: one string per output;
- ``output_transform``: "none" (default), "softmax" or "sigmoid";
- ``weight_dtype``: "f32" (default) or "f16" storage;
- ``metadata``: dict of strings (``converted_from`` is added).

The result has ``.save(path)`` (pure Python) and ``.to_model()`` (a native ``recur.Model``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .format import Checkpoint


def _np(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):  # torch tensor
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float32)


def _state_dict(obj: Any) -> Dict[str, np.ndarray]:
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"expected a torch module, a state dict or a dict of arrays, got {type(obj).__name__}")
    return {str(k): _np(v) for k, v in obj.items()}


def _finish(input_size: int, layers, output_size: int, tensors: Dict[str, np.ndarray], source: str,
            labels: Optional[Sequence[str]] = None, output_transform: str = "none",
            weight_dtype: str = "f32", metadata: Optional[Dict[str, str]] = None) -> Checkpoint:
    meta = {"converted_from": source}
    meta.update({str(k): str(v) for k, v in (metadata or {}).items()})
    c = Checkpoint(int(input_size), [(int(s), a) for s, a in layers], int(output_size), tensors,
                   output_transform=output_transform, weight_dtype=weight_dtype,
                   labels=list(labels) if labels else [], metadata=meta)
    c.validate()
    return c


def feedbacknet(module_or_state_dict: Any, *, activation: str = "tanh", prefix: str = "", **opts: Any) -> Checkpoint:
    """The design document's ``FeedbackNet``: ``hidden = Linear(I + H, H)`` on ``[x; h]``
    and ``output = Linear(H, O)``. ``hidden.weight [H, I+H]`` splits into the input weights
    ``[:, :I]`` and the feedback weights ``[:, I:]``."""
    sd = _state_dict(module_or_state_dict)
    try:
        hw, hb = sd[prefix + "hidden.weight"], sd[prefix + "hidden.bias"]
        ow, ob = sd[prefix + "output.weight"], sd[prefix + "output.bias"]
    except KeyError as e:
        raise KeyError(f"FeedbackNet state dict needs hidden.weight, hidden.bias, output.weight, output.bias; missing {e}") from None
    if hw.ndim != 2 or hw.shape[1] <= hw.shape[0]:
        raise ValueError(f"hidden.weight must be [H, I+H] with I >= 1, got {list(hw.shape)}")
    H = hw.shape[0]
    I = hw.shape[1] - H
    if hb.shape != (H,) or ow.ndim != 2 or ow.shape[1] != H or ob.shape != (ow.shape[0],):
        raise ValueError(f"inconsistent FeedbackNet shapes: hidden.bias {list(hb.shape)}, output.weight {list(ow.shape)}, output.bias {list(ob.shape)}")
    O = ow.shape[0]
    tensors = {"layers.0.w_in": hw[:, :I].copy(), "layers.0.w_rec": hw[:, I:].copy(), "layers.0.bias": hb.copy(),
               "head.weight": ow.copy(), "head.bias": ob.copy()}
    return _finish(I, [(H, activation)], O, tensors, "FeedbackNet", **opts)


def torch_rnn(rnn: Any, head: Any, *, num_layers: Optional[int] = None, nonlinearity: Optional[str] = None,
              **opts: Any) -> Checkpoint:
    """An ``nn.RNN`` (any ``num_layers``, tanh or relu, batch_first or not; unidirectional)
    plus an ``nn.Linear`` head. ``bias_ih + bias_hh`` become the layer bias. Module
    attributes are used when modules are given; with state dicts, ``num_layers`` is inferred
    and ``nonlinearity`` defaults to tanh."""
    if getattr(rnn, "bidirectional", False):
        raise ValueError("bidirectional RNNs are not supported (a stream is processed forward only)")
    if nonlinearity is None:
        nonlinearity = getattr(rnn, "nonlinearity", "tanh")
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity {nonlinearity!r} is not tanh or relu")
    sd = _state_dict(rnn)
    hd = _state_dict(head)
    L = num_layers if num_layers is not None else getattr(rnn, "num_layers", None)
    if L is None:
        L = len([k for k in sd if k.startswith("weight_ih_l") and k[len("weight_ih_l"):].isdigit()])
    if L < 1:
        raise ValueError("no weight_ih_l0 in the RNN state dict")
    tensors: Dict[str, np.ndarray] = {}
    layers = []
    input_size = None
    for l in range(L):
        w_ih, w_hh = sd[f"weight_ih_l{l}"], sd[f"weight_hh_l{l}"]
        H = w_hh.shape[0]
        if input_size is None:
            input_size = w_ih.shape[1]
        b = np.zeros(H, np.float32)
        if f"bias_ih_l{l}" in sd:
            b = (sd[f"bias_ih_l{l}"] + sd[f"bias_hh_l{l}"]).astype(np.float32)
        tensors[f"layers.{l}.w_in"] = w_ih.copy()
        tensors[f"layers.{l}.w_rec"] = w_hh.copy()
        tensors[f"layers.{l}.bias"] = b
        layers.append((H, nonlinearity))
    hw = hd["weight"]
    hb = hd.get("bias", np.zeros(hw.shape[0], np.float32))
    tensors["head.weight"], tensors["head.bias"] = hw.copy(), hb.copy()
    return _finish(int(input_size), layers, hw.shape[0], tensors, "torch.nn.RNN", **opts)


def from_arrays(layers: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]], head_weight: np.ndarray,
                head_bias: np.ndarray, *, activations: Optional[Sequence[str]] = None, **opts: Any) -> Checkpoint:
    """From plain arrays: ``layers`` is ``[(W [H, I], U [H, H], b [H]), ...]``; the head is
    ``head_weight [O, H]`` and ``head_bias [O]``."""
    if not layers:
        raise ValueError("at least one layer is required")
    acts = list(activations) if activations is not None else ["tanh"] * len(layers)
    if len(acts) != len(layers):
        raise ValueError(f"{len(acts)} activations for {len(layers)} layers")
    tensors: Dict[str, np.ndarray] = {}
    cfg = []
    for l, (W, U, b) in enumerate(layers):
        W, U, b = _np(W), _np(U), _np(b)
        tensors[f"layers.{l}.w_in"], tensors[f"layers.{l}.w_rec"], tensors[f"layers.{l}.bias"] = W, U, b
        cfg.append((U.shape[0], acts[l]))
    hw, hb = _np(head_weight), _np(head_bias)
    tensors["head.weight"], tensors["head.bias"] = hw, hb
    return _finish(_np(layers[0][0]).shape[1], cfg, hw.shape[0], tensors, "arrays", **opts)
