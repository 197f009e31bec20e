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
    c = Checkpoint(int(input_size), list(layers), int(output_size), tensors,
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


_TORCH_KINDS = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "GRU": "gru", "LSTM": "lstm"}


def _torch_kind(rnn: Any, sd: Dict[str, np.ndarray]) -> str:
    """"rnn", "gru" or "lstm": from the module's ``mode``, else from the state dict's shapes
    (weight_hh_l0 is [gates x H, H], or LSTM when weight_hr_l0 is present)."""
    mode = getattr(rnn, "mode", None)
    if isinstance(mode, str) and mode in _TORCH_KINDS:
        return _TORCH_KINDS[mode]
    if "weight_hr_l0" in sd:
        return "lstm"
    w_hh = sd.get("weight_hh_l0")
    if w_hh is None or w_hh.ndim != 2:
        raise ValueError("no weight_hh_l0 in the state dict: not an nn.RNN, nn.GRU or nn.LSTM")
    g, rem = divmod(w_hh.shape[0], w_hh.shape[1])
    if rem or g not in (1, 3, 4):
        raise ValueError(f"weight_hh_l0 {list(w_hh.shape)} is not [H, H], [3H, H] or [4H, H]: pass kind=")
    return {1: "rnn", 3: "gru", 4: "lstm"}[g]


def torch_rnn(rnn: Any, head: Any, *, num_layers: Optional[int] = None, nonlinearity: Optional[str] = None,
              kind: Optional[str] = None, **opts: Any) -> Checkpoint:
    """An ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` (modules or state dicts: any ``num_layers``,
    ``bias=False``, ``batch_first`` or not, LSTM ``proj_size``) plus an ``nn.Linear`` head.

    - RNN layers become plain feedback layers (tanh or relu, ``bias_ih + bias_hh`` summed);
    - GRU layers keep PyTorch's equations exactly (``b_hn`` inside the reset product);
    - LSTM layers keep gates i, f, g, o and the projection ``weight_hr``.

    ``kind`` ("rnn", "gru", "lstm") is read from the module, else from the state dict's shapes.
    Bidirectional modules are refused: recur steps a stream forward, and the backward direction
    needs the whole future of the sequence."""
    if getattr(rnn, "bidirectional", False):
        raise ValueError("bidirectional RNNs are not supported: recur steps a stream forward, one input at a time, "
                         "and the backward direction needs the future of the sequence")
    sd = _state_dict(rnn)
    if any(k.endswith("_reverse") for k in sd):
        raise ValueError("bidirectional RNNs are not supported (the state dict has *_reverse weights): recur steps a "
                         "stream forward, and the backward direction needs the future of the sequence")
    hd = _state_dict(head)
    kind = kind or _torch_kind(rnn, sd)
    if kind not in ("rnn", "gru", "lstm"):
        raise ValueError(f"kind {kind!r} is not rnn, gru or lstm")
    if kind == "rnn":
        if nonlinearity is None:
            nonlinearity = getattr(rnn, "nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity {nonlinearity!r} is not tanh or relu")
    L = num_layers if num_layers is not None else getattr(rnn, "num_layers", None)
    if L is None:
        L = len([k for k in sd if k.startswith("weight_ih_l") and k[len("weight_ih_l"):].isdigit()])
    if L < 1:
        raise ValueError("no weight_ih_l0 in the state dict")
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    tensors: Dict[str, np.ndarray] = {}
    layers = []
    input_size = None
    for l in range(L):
        try:
            w_ih, w_hh = sd[f"weight_ih_l{l}"], sd[f"weight_hh_l{l}"]
        except KeyError as e:
            raise KeyError(f"layer {l} of the {kind.upper()} state dict is missing {e}") from None
        H = w_ih.shape[0] // gates
        if w_ih.shape[0] != gates * H:
            raise ValueError(f"weight_ih_l{l} {list(w_ih.shape)} is not [{gates} x H, I]")
        if input_size is None:
            input_size = w_ih.shape[1]
        has_bias = f"bias_ih_l{l}" in sd
        b_ih = sd[f"bias_ih_l{l}"] if has_bias else np.zeros(gates * H, np.float32)
        b_hh = sd[f"bias_hh_l{l}"] if has_bias else np.zeros(gates * H, np.float32)
        tensors[f"layers.{l}.w_in"] = w_ih.copy()
        tensors[f"layers.{l}.w_rec"] = w_hh.copy()
        if kind == "rnn":
            tensors[f"layers.{l}.bias"] = (b_ih + b_hh).astype(np.float32)
            layers.append((H, nonlinearity))
            continue
        tensors[f"layers.{l}.bias_in"] = b_ih.copy()
        tensors[f"layers.{l}.bias_rec"] = b_hh.copy()
        if kind == "lstm" and f"weight_hr_l{l}" in sd:
            w_hr = sd[f"weight_hr_l{l}"]
            tensors[f"layers.{l}.w_proj"] = w_hr.copy()
            layers.append((H, "lstm", w_hr.shape[0]))
        else:
            layers.append((H, kind))
    hw = hd["weight"]
    hb = hd.get("bias", np.zeros(hw.shape[0], np.float32))
    tensors["head.weight"], tensors["head.bias"] = hw.copy(), hb.copy()
    return _finish(int(input_size), layers, hw.shape[0], tensors, f"torch.nn.{kind.upper() if kind != 'rnn' else 'RNN'}",
                   **opts)


def onnx(model: Any, **opts: Any) -> Checkpoint:
    """An ONNX graph whose recurrent part is one or more forward ``RNN``, ``GRU`` or ``LSTM``
    ops (stacked), optionally followed by a ``MatMul`` (+ ``Add``) or ``Gemm`` head and a
    ``Softmax`` or ``Sigmoid`` — what ``torch.onnx.export`` and the common Keras/TF
    converters produce. ``model`` is a path, bytes or an ``onnx.ModelProto``; the optional
    ``onnx`` package reads it (``pip install "./bindings/python[onnx]"``; recur itself never
    needs it).

    Gate orders are mapped (ONNX GRU z, r, h -> r, z, n; LSTM i, o, f, c -> i, f, g, o); a GRU
    with ``linear_before_reset=1`` is PyTorch's GRU, with 0 (the ONNX default, and Keras's
    ``reset_after=False``) recur's ``gru_reset_before``. Refused, naming the op and attribute:
    reverse or bidirectional directions, activations other than the defaults (RNN: Tanh or
    Relu), ``clip``, LSTM peepholes and ``input_forget``, and graph nodes between the
    recurrent ops and the head other than shape plumbing (Squeeze, Unsqueeze, Reshape,
    Flatten, Identity, Gather/Slice of the last step)."""
    try:
        import onnx as _onnx
        from onnx import numpy_helper
    except ImportError as e:  # pragma: no cover - exercised when onnx is absent
        raise ImportError('recur.convert.onnx needs the onnx package: pip install "./bindings/python[onnx]"') from e
    if isinstance(model, (str, bytes, bytearray)) or hasattr(model, "__fspath__"):
        m = _onnx.load_from_string(bytes(model)) if isinstance(model, (bytes, bytearray)) else _onnx.load(str(model))
    else:
        m = model
    g = m.graph
    init = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in g.initializer}
    for n in g.node:  # Constant nodes carry weights too in some exports
        if n.op_type == "Constant" and n.output:
            for a in n.attribute:
                if a.name == "value":
                    init[n.output[0]] = numpy_helper.to_array(a.t).astype(np.float32)

    def attrs(node) -> Dict[str, Any]:
        return {a.name: _onnx.helper.get_attribute_value(a) for a in node.attribute}

    def text(v):
        return v.decode() if isinstance(v, bytes) else v

    rec_ops = [n for n in g.node if n.op_type in ("RNN", "GRU", "LSTM")]
    if not rec_ops:
        raise ValueError("the ONNX graph has no RNN, GRU or LSTM op")
    tensors: Dict[str, np.ndarray] = {}
    layers = []
    input_size = None
    for l, n in enumerate(rec_ops):
        a = attrs(n)
        where = f"{n.op_type} node {n.name or l!r}"
        direction = text(a.get("direction", "forward"))
        if direction != "forward":
            raise ValueError(f"{where}: direction={direction!r} is not supported (only forward: recur steps a stream "
                             "one input at a time, and other directions need the future)")
        if "clip" in a:
            raise ValueError(f"{where}: attribute clip is not supported (recur's cells do not clip)")
        acts = [text(v) for v in a.get("activations", [])]
        ins = list(n.input) + [""] * 8
        try:
            W, R = init[ins[1]], init[ins[2]]
        except KeyError:
            raise ValueError(f"{where}: W and R must be initializers") from None
        if W.shape[0] != 1:
            raise ValueError(f"{where}: num_directions {W.shape[0]} is not 1")
        W, R = W[0], R[0]
        H = int(a.get("hidden_size", R.shape[-1]))
        B = init[ins[3]][0] if ins[3] else None
        if input_size is None:
            input_size = W.shape[1]
        if n.op_type == "RNN":
            if acts and (len(acts) != 1 or acts[0] not in ("Tanh", "Relu")):
                raise ValueError(f"{where}: activations={acts} are not supported (Tanh or Relu)")
            act = "relu" if acts == ["Relu"] else "tanh"
            b = (B[:H] + B[H:]) if B is not None else np.zeros(H, np.float32)
            tensors[f"layers.{l}.w_in"], tensors[f"layers.{l}.w_rec"], tensors[f"layers.{l}.bias"] = W.copy(), R.copy(), b
            layers.append((H, act))
            continue
        if n.op_type == "GRU":
            if acts and acts != ["Sigmoid", "Tanh"]:
                raise ValueError(f"{where}: activations={acts} are not supported (only Sigmoid, Tanh)")
            order = [1, 0, 2]  # ONNX z, r, h -> r, z, n
            kind = "gru" if int(a.get("linear_before_reset", 0)) else "gru_reset_before"
        else:
            if acts and acts != ["Sigmoid", "Tanh", "Tanh"]:
                raise ValueError(f"{where}: activations={acts} are not supported (only Sigmoid, Tanh, Tanh)")
            if int(a.get("input_forget", 0)):
                raise ValueError(f"{where}: input_forget=1 is not supported (coupled input and forget gates)")
            if ins[7] and ins[7] in init and np.any(init[ins[7]] != 0):
                raise ValueError(f"{where}: peepholes (input P) are not supported")
            order = [0, 2, 3, 1]  # ONNX i, o, f, c -> i, f, g, o
            kind = "lstm"
        G = len(order)

        def gates(m: np.ndarray) -> np.ndarray:
            return np.concatenate([m[k * H:(k + 1) * H] for k in order]).astype(np.float32)

        if B is None:
            B = np.zeros(2 * G * H, np.float32)
        tensors[f"layers.{l}.w_in"] = gates(W)
        tensors[f"layers.{l}.w_rec"] = gates(R)
        tensors[f"layers.{l}.bias_in"] = gates(B[:G * H])
        tensors[f"layers.{l}.bias_rec"] = gates(B[G * H:])
        layers.append((H, kind))
    # The head: the first MatMul/Gemm after the last recurrent op (nodes between must be plumbing).
    order_ = list(g.node)
    tail = order_[order_.index(rec_ops[-1]) + 1:]
    plumbing = {"Squeeze", "Unsqueeze", "Reshape", "Flatten", "Identity", "Gather", "Slice", "Constant", "Shape", "Concat"}
    hw = hb = None
    transform = "none"
    k = 0
    while k < len(tail) and tail[k].op_type in plumbing:
        k += 1
    if k < len(tail) and tail[k].op_type in ("MatMul", "Gemm"):
        n = tail[k]
        a = attrs(n)
        wname = next((i for i in n.input[1:2] if i in init), None)
        if wname is None:
            raise ValueError(f"{n.op_type} node {n.name!r}: the head weight must be an initializer")
        w = init[wname]
        if n.op_type == "Gemm":
            if float(a.get("alpha", 1.0)) != 1.0 or int(a.get("transA", 0)):
                raise ValueError(f"Gemm node {n.name!r}: alpha != 1 or transA is not supported")
            hw = w if int(a.get("transB", 0)) else w.T
            if len(n.input) > 2 and n.input[2]:
                hb = init[n.input[2]] * float(a.get("beta", 1.0))
        else:
            hw = w.T
        k += 1
        if hb is None and k < len(tail) and tail[k].op_type == "Add":
            bname = next((i for i in tail[k].input if i in init), None)
            if bname is None:
                raise ValueError(f"Add node {tail[k].name!r}: the head bias must be an initializer")
            hb = init[bname].reshape(-1)
            k += 1
        while k < len(tail) and tail[k].op_type in plumbing:
            k += 1
        if k < len(tail) and tail[k].op_type in ("Softmax", "Sigmoid"):
            transform = tail[k].op_type.lower()
            k += 1
        while k < len(tail) and tail[k].op_type in plumbing:
            k += 1
    if k < len(tail):
        raise ValueError(f"{tail[k].op_type} node {tail[k].name!r} after the recurrent ops is not supported "
                         "(expected an optional MatMul/Gemm head, Add, Softmax or Sigmoid)")
    if hw is None:
        raise ValueError("the ONNX graph has no MatMul or Gemm head after its recurrent ops: recur models need one "
                         "(add an identity head with recur.Model.with_new_head, or export the Linear layer too)")
    hw = np.ascontiguousarray(hw, np.float32)
    if hb is None:
        hb = np.zeros(hw.shape[0], np.float32)
    tensors["head.weight"], tensors["head.bias"] = hw, np.asarray(hb, np.float32).reshape(-1)
    opts.setdefault("output_transform", transform)
    return _finish(int(input_size), layers, hw.shape[0], tensors, "onnx", **opts)


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
