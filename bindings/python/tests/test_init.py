"""Models from scratch: recur.Model.new / recur_model_init against an independent numpy
reimplementation of the documented recipe (SplitMix64, top 24 bits, (2u - 1) * bound in
float32, PyTorch's default bounds, canonical parameter order)."""

import numpy as np
import pytest

import recur
from recur.format import normalize_layer, tensor_specs

M64 = (1 << 64) - 1


def splitmix64(seed):
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def expected_parameters(input_size, layers, output_size, seed):
    """PyTorch's defaults: nn.RNN/GRU/LSTM parameters U(+-1/sqrt(H)); nn.Linear U(+-1/sqrt(fan_in))."""
    layers = [normalize_layer(l) for l in layers]
    bounds = []
    for name, shape, _ in tensor_specs(input_size, layers, output_size):
        if name.startswith("head."):
            last = layers[-1]
            fan = last[2] if len(last) > 2 and last[2] else last[0]
        else:
            fan = layers[int(name.split(".")[1])][0]
        bounds.append((int(np.prod(shape)), np.float32(1) / np.sqrt(np.float32(fan))))
    g = splitmix64(seed)
    out = []
    for count, b in bounds:
        u = np.array([next(g) >> 40 for _ in range(count)], np.float64).astype(np.float32) / np.float32(1 << 24)
        out.append(((np.float32(2) * u - np.float32(1)) * b).astype(np.float32))
    return np.concatenate(out)


STACKS = [
    (12, [64], 9),
    (12, [(20, "relu"), (16, "gru"), (12, "lstm", 5), (8, "gru_reset_before")], 4),
    (3, [(6, "lstm")], 2),
]


@pytest.mark.parametrize("I,layers,O", STACKS)
@pytest.mark.parametrize("seed", [0, 1, 2**64 - 1])
def test_parameters_are_the_documented_stream(I, layers, O, seed):
    m = recur.Model.new(I, layers, O, seed=seed)
    want = expected_parameters(I, layers, O, seed)
    got = m.parameters()
    assert got.shape == want.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_same_seed_same_model_other_seed_other():
    a = recur.Model.new(5, [(16, "gru")], 3, seed=11, output_transform="softmax", labels=["x", "y", "z"])
    b = recur.Model.new(5, [(16, "gru")], 3, seed=11, output_transform="softmax", labels=["x", "y", "z"])
    c = recur.Model.new(5, [(16, "gru")], 3, seed=12, output_transform="softmax", labels=["x", "y", "z"])
    assert a.to_bytes() == b.to_bytes()
    assert a.to_bytes() != c.to_bytes()
    assert a.labels == ["x", "y", "z"] and a.output_transform == "softmax"
    y = a.session().step(np.ones(5, np.float32))
    assert abs(float(y.sum()) - 1) < 1e-5


def test_int8_and_bad_arguments():
    q = recur.Model.new(4, [(8, "lstm")], 2, seed=3, weight_dtype="i8")
    f = recur.Model.new(4, [(8, "lstm")], 2, seed=3)
    assert q.weight_dtype == "i8"
    assert np.abs(q.parameters() - f.parameters()).max() < 0.005
    with pytest.raises(ValueError):
        recur.Model.new(4, [(8, "lstm")], 2, seed=-1)
    with pytest.raises(ValueError):
        recur.Model.new(4, [(8, "lstm")], 2, seed=1 << 64)
    with pytest.raises(recur.ConfigError):
        recur.Model.new(4, [(8, "lstm", 8)], 2)
    with pytest.raises(recur.ConfigError):
        recur.Model.new(0, [8], 2)
