import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "bindings" / "python" / "src"
# Tests run against the source tree unless RECUR_TEST_INSTALLED=1 (then the installed package).
if os.environ.get("RECUR_TEST_INSTALLED") != "1" and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import recur  # noqa: E402
from recur.format import Checkpoint, tensor_specs  # noqa: E402


def random_checkpoint(input_size, layers, output_size, seed=0, scale=1.0, **kw) -> Checkpoint:
    """Weights in PyTorch's nn.Linear range, scaled."""
    rng = np.random.default_rng(seed)
    layers = [(s, a) if isinstance(s, int) and isinstance(a, str) else s for s, a in layers]
    tensors = {}
    for name, shape, _ in tensor_specs(input_size, layers, output_size):
        fan = shape[1] if len(shape) == 2 else (layers[-1][0] if name.startswith("head") else shape[0])
        k = scale / np.sqrt(fan)
        tensors[name] = rng.uniform(-k, k, size=shape).astype(np.float32)
    return Checkpoint(input_size, list(layers), output_size, tensors, **kw)


SHAPES = [
    ("design-doc 10-20-5", 10, [(20, "tanh")], 5, "none"),
    ("3-layer relu/tanh/sigmoid", 7, [(13, "relu"), (9, "tanh"), (16, "sigmoid")], 4, "none"),
    ("identity + softmax", 33, [(31, "identity")], 6, "softmax"),
    ("2-layer sigmoid head", 12, [(64, "tanh"), (40, "relu")], 9, "sigmoid"),
    ("1-1-1", 1, [(1, "tanh")], 1, "none"),
]


@pytest.fixture
def small():
    """A small model as (checkpoint, native model)."""
    c = random_checkpoint(3, [(4, "tanh")], 2, seed=42, labels=["a", "b"], metadata={"k": "v"})
    m = c.to_model()
    yield c, m
    m.close()
