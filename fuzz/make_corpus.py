"""Writes the fuzzing seed corpus into a directory: valid checkpoints of several shapes (f32,
f16 and int8, labels, metadata; elman, GRU, reset-before GRU, LSTM with and without projection,
mixed stacks), head adapters (f32 and int8, elman and gated bodies), state snapshots (one with
an LSTM cell), the hostile fixtures of the Python test-suite (format and gated-kind cases), and
every committed regression fixture.   python3 fuzz/make_corpus.py OUTDIR"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
import recur  # noqa: E402
from conftest import random_checkpoint  # noqa: E402
import test_cells  # noqa: E402
import test_format  # noqa: E402


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    shapes = [(3, [(4, "tanh")], 2), (1, [(1, "relu")], 1), (5, [(8, "sigmoid"), (6, "identity")], 3),
              (12, [(16, "tanh")], 4)]
    n = 0
    for i, (I, layers, O) in enumerate(shapes):
        for wd in ("f32", "f16", "i8"):
            c = random_checkpoint(I, layers, O, seed=i, weight_dtype=wd, output_transform=["none", "softmax"][i % 2],
                                  labels=[f"c{k}" for k in range(O)] if i % 2 else [], metadata={"k": "v"} if i else {})
            (out / f"valid-{i}-{wd}.recur").write_bytes(c.to_bytes())
            n += 1
    gated = [(3, [(4, "gru")], 2), (2, [(3, "gru_reset_before")], 1), (4, [(5, "lstm")], 3), (3, [(6, "lstm", 2)], 2),
             (5, [(4, "tanh"), (6, "gru"), (5, "lstm", 3)], 2)]
    for i, (I, layers, O) in enumerate(gated):
        for wd in ("f32", "f16", "i8"):
            c = test_cells.random_ckpt(I, layers, O, seed=100 + i, weight_dtype=wd, output_transform=["none", "sigmoid"][i % 2])
            (out / f"valid-gated-{i}-{wd}.recur").write_bytes(c.to_bytes())
            n += 1
    # the harness's LSTM base (FuzzLoad.swift): weights (k % 7) * 0.1 - 0.3 in float32
    n_lstm = sum(int(np.prod(shape)) for _, shape, _ in test_cells.tensor_specs(3, [(6, "lstm", 2)], 2))
    k = np.arange(n_lstm)
    w = (k % 7).astype(np.float32) * np.float32(0.1) - np.float32(0.3)
    gbase = recur.Model.create(3, [(6, "lstm", 2)], 2, w)
    s = gbase.session()
    s.step(np.array([0.5, -1.0, 2.0], np.float32))
    (out / "adapter-lstm.recur").write_bytes(gbase.with_new_head(3, seed=1).adapter_bytes())
    (out / "snapshot-lstm.bin").write_bytes(s.state)
    for name, code, make in test_cells.HOSTILE:
        safe = "".join(ch if ch.isalnum() else "-" for ch in name)
        (out / f"hostile-gated-{safe}.recur").write_bytes(make())
        n += 1
    base = random_checkpoint(3, [(4, "tanh")], 2, seed=42).to_model()
    (out / "adapter.recur").write_bytes(base.adapter_bytes())
    base8 = recur.Model.from_bytes(base.to_bytes(weight_dtype="i8"))
    (out / "adapter-i8.recur").write_bytes(base8.adapter_bytes())
    (out / "snapshot.bin").write_bytes(base.session().state)
    for name, code, make in test_format.CASES + test_format.I8_CASES:
        safe = "".join(ch if ch.isalnum() else "-" for ch in name)
        data = make()
        if len(data) <= 1 << 16:
            (out / f"hostile-{safe}.recur").write_bytes(data)
            n += 1
    for f in sorted((ROOT / "fuzz" / "regressions").glob("*")):
        if f.is_file() and f.name != "README.md":
            (out / f"regression-{f.name}").write_bytes(f.read_bytes())
    print(f"{len(list(out.iterdir()))} seed files in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
