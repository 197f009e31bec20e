"""Converter parity: converted models equal the source model's forward pass. Runs against
numpy-built state dicts always, and against real torch modules when torch is installed."""

import numpy as np
import pytest

import recur
from recur import convert

try:
    import torch
except ImportError:  # CI and `make test` do not need torch
    torch = None


def feedbacknet_forward(sd, xs, activation=np.tanh):
    """The design document's FeedbackNet.forward, in numpy float64: h = tanh(hidden([x; h]))."""
    hw, hb = sd["hidden.weight"].astype(np.float64), sd["hidden.bias"].astype(np.float64)
    ow, ob = sd["output.weight"].astype(np.float64), sd["output.bias"].astype(np.float64)
    h = np.zeros(hw.shape[0])
    ys = []
    for x in xs:
        h = activation(hw @ np.concatenate([x, h]) + hb)
        ys.append(ow @ h + ob)
    return np.array(ys)


def rnn_forward(sd, L, xs, act):
    hs = [np.zeros(sd[f"weight_hh_l{l}"].shape[0]) for l in range(L)]
    ys = []
    for x in xs:
        v = x.astype(np.float64)
        for l in range(L):
            pre = sd[f"weight_ih_l{l}"] @ v + sd[f"weight_hh_l{l}"] @ hs[l] + sd[f"bias_ih_l{l}"] + sd[f"bias_hh_l{l}"]
            hs[l] = np.tanh(pre) if act == "tanh" else np.maximum(pre, 0)
            v = hs[l]
        ys.append(sd["head.weight"] @ v + sd["head.bias"])
    return np.array(ys)


def numpy_feedbacknet(I, H, O, seed=0):
    rng = np.random.default_rng(seed)
    k1, k2 = 1 / np.sqrt(I + H), 1 / np.sqrt(H)
    return {"hidden.weight": rng.uniform(-k1, k1, (H, I + H)).astype(np.float32),
            "hidden.bias": rng.uniform(-k1, k1, H).astype(np.float32),
            "output.weight": rng.uniform(-k2, k2, (O, H)).astype(np.float32),
            "output.bias": rng.uniform(-k2, k2, O).astype(np.float32)}


def test_feedbacknet_from_numpy_state_dict(tmp_path):
    sd = numpy_feedbacknet(10, 20, 5)
    c = convert.feedbacknet(sd, labels=list("abcde"), metadata={"task": "demo"})
    xs = np.random.default_rng(1).standard_normal((30, 10)).astype(np.float32)
    expected = feedbacknet_forward(sd, xs)
    y = c.to_model().session().run(xs)
    assert np.allclose(y, expected, rtol=1e-5, atol=1e-6)
    c.save(tmp_path / "fb.recur")
    m = recur.Model.load(tmp_path / "fb.recur")
    assert m.labels == list("abcde") and m.metadata["converted_from"] == "FeedbackNet"
    assert np.allclose(m.session().run(xs), expected, rtol=1e-5, atol=1e-6)
    # softmax transform option
    cs = convert.feedbacknet(sd, output_transform="softmax")
    ys = cs.to_model().session().run(xs)
    e = np.exp(expected - expected.max(1, keepdims=True))
    assert np.allclose(ys, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    # f16 storage: close, not exact
    c16 = convert.feedbacknet(sd, weight_dtype="f16")
    m16 = recur.Model.from_bytes(c16.to_bytes())
    assert m16.weight_dtype == "f16"
    assert np.allclose(m16.session().run(xs), expected, atol=2e-3)


@pytest.mark.parametrize("L,act", [(1, "tanh"), (2, "relu"), (3, "tanh")])
def test_rnn_from_numpy_state_dict(L, act):
    rng = np.random.default_rng(L)
    I, H, O = 6, 9, 3
    sd = {}
    for l in range(L):
        sd[f"weight_ih_l{l}"] = rng.uniform(-0.3, 0.3, (H, I if l == 0 else H)).astype(np.float32)
        sd[f"weight_hh_l{l}"] = rng.uniform(-0.3, 0.3, (H, H)).astype(np.float32)
        sd[f"bias_ih_l{l}"] = rng.uniform(-0.3, 0.3, H).astype(np.float32)
        sd[f"bias_hh_l{l}"] = rng.uniform(-0.3, 0.3, H).astype(np.float32)
    head = {"weight": rng.uniform(-0.3, 0.3, (O, H)).astype(np.float32), "bias": rng.uniform(-0.3, 0.3, O).astype(np.float32)}
    c = convert.torch_rnn(sd, head, nonlinearity=act)
    assert len(c.layers) == L and all(a == act for _, a in c.layers)
    xs = rng.standard_normal((25, I)).astype(np.float32)
    full = dict(sd, **{"head.weight": head["weight"], "head.bias": head["bias"]})
    assert np.allclose(c.to_model().session().run(xs), rnn_forward(full, L, xs, act), rtol=1e-5, atol=1e-6)


def test_from_arrays_and_errors():
    rng = np.random.default_rng(3)
    W, U, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 4)) * 0.3, rng.standard_normal(4)
    Wo, bo = rng.standard_normal((3, 4)), rng.standard_normal(3)
    c = convert.from_arrays([(W, U, b)], Wo, bo, activations=["sigmoid"])
    assert c.layers == [(4, "sigmoid")] and c.input_size == 2 and c.output_size == 3
    with pytest.raises(KeyError):
        convert.feedbacknet({"hidden.weight": np.zeros((2, 3))})
    with pytest.raises(ValueError):
        convert.feedbacknet(dict(numpy_feedbacknet(3, 4, 2), **{"hidden.bias": np.zeros(5, np.float32)}))
    with pytest.raises(recur.ConfigError):
        convert.from_arrays([(W, U, b)], Wo, bo, labels=["x", "x", "y"])
    with pytest.raises(recur.NonFiniteError):
        convert.from_arrays([(W, U, b * np.nan)], Wo, bo)
    with pytest.raises(TypeError):
        convert.feedbacknet(42)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_feedbacknet_torch_module():
    import torch.nn as nn

    class FeedbackNet(nn.Module):  # verbatim from the design document
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.hidden = nn.Linear(input_size + hidden_size, hidden_size)
            self.output = nn.Linear(hidden_size, output_size)

        def forward(self, x, h_prev):
            combined = torch.cat((x, h_prev), dim=1)
            h = torch.tanh(self.hidden(combined))
            y = self.output(h)
            return y, h

    torch.manual_seed(0)
    net = FeedbackNet(10, 20, 5)
    xs = torch.randn(30, 1, 10)
    h = torch.zeros(1, 20)
    ys = []
    with torch.no_grad():
        for x in xs:
            y, h = net(x, h)
            ys.append(y[0].numpy())
    got = convert.feedbacknet(net).to_model().session().run(xs[:, 0].numpy())
    assert np.allclose(got, np.array(ys), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("L,act", [(1, "tanh"), (2, "relu")])
def test_torch_rnn_module(L, act):
    import torch.nn as nn

    torch.manual_seed(L)
    rnn = nn.RNN(8, 16, num_layers=L, nonlinearity=act, batch_first=True)
    head = nn.Linear(16, 4)
    xs = torch.randn(1, 40, 8)
    with torch.no_grad():
        out, _ = rnn(xs)
        expected = head(out)[0].numpy()
    got = convert.torch_rnn(rnn, head).to_model().session().run(xs[0].numpy())
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)
