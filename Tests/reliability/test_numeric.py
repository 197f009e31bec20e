"""Numeric robustness against the release library: a 10^6-step stream, +-1e30 and denormal
inputs, and an exploding network stopping cleanly with the state intact."""

import numpy as np
import pytest

import recur
from recur.format import Checkpoint, tensor_specs


def model(act, seed=0, I=10, H=20, O=5):
    rng = np.random.default_rng(seed)
    layers = [(H, act)]
    t = {n: rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), s).astype(np.float32) for n, s, _ in tensor_specs(I, layers, O)}
    return Checkpoint(I, layers, O, t, output_transform="softmax").to_model()


def test_million_step_stream():
    s = model("tanh").session()
    xs = np.random.default_rng(1).uniform(-3, 3, (10000, 10)).astype(np.float32)
    for _ in range(100):
        y = s.run(xs, last_only=True)
    assert np.all(np.isfinite(s.hidden)) and np.all(np.isfinite(y))


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "identity"])
def test_huge_and_denormal_inputs(act):
    s = model(act, seed=2).session()
    rejected = 0
    for t in range(3000):
        v = [1e30, -1e30, 1e-40][t % 3]
        before = s.hidden
        try:
            y = s.step(np.full(10, v, np.float32) * np.where(np.arange(10) % 2, -1, 1))
            assert np.all(np.isfinite(y))
        except recur.NonFiniteError as e:
            assert e.status == -19
            assert np.array_equal(s.hidden, before)
            rejected += 1
        assert np.all(np.isfinite(s.hidden))
    if act in ("tanh", "sigmoid"):
        assert rejected == 0


def test_exploding_network_stops_cleanly():
    c = Checkpoint.from_parameters(1, [(2, "identity")], 1, np.array([1, 1, 2, 0, 0, 2, 0, 0, 1, 1, 0], np.float32))
    s = c.to_model().session()
    with pytest.raises(recur.NonFiniteError) as e:
        s.run(np.ones((500, 1), np.float32))
    assert "state is that after step" in e.value.message
    h = s.hidden
    assert np.all(np.isfinite(h)) and np.all(h > 1e37)
