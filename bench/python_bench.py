"""Python benchmark: microseconds per `session.step` and per step of `session.run` on
1,000-step sequences, beside a numpy step (preallocated, out=) and the bare ctypes call
floor, measured in the same run. Medians of repeats.   python3 bench/python_bench.py [--quick]"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
import recur  # noqa: E402
from recur.format import Checkpoint, tensor_specs  # noqa: E402


def make(I, H, O, L, seed=0):
    rng = np.random.default_rng(seed)
    layers = [(H, "tanh")] * L
    t = {n: rng.uniform(-0.06, 0.06, s).astype(np.float32) for n, s, _ in tensor_specs(I, layers, O)}
    return Checkpoint(I, layers, O, t)


class NumpyStep:
    """The same step in numpy, preallocated: h = tanh(W x + U h + b), y = Wo h + bo."""

    def __init__(self, c):
        L = len(c.layers)
        self.W = [c.tensors[f"layers.{l}.w_in"] for l in range(L)]
        self.U = [c.tensors[f"layers.{l}.w_rec"] for l in range(L)]
        self.b = [c.tensors[f"layers.{l}.bias"] for l in range(L)]
        self.Wo, self.bo = c.tensors["head.weight"], c.tensors["head.bias"]
        self.h = [np.zeros(s, np.float32) for s, _ in c.layers]
        self.t1 = [np.zeros(s, np.float32) for s, _ in c.layers]
        self.t2 = [np.zeros(s, np.float32) for s, _ in c.layers]
        self.y = np.zeros(c.output_size, np.float32)

    def step(self, x):
        v = x
        for l in range(len(self.W)):
            np.dot(self.W[l], v, out=self.t1[l])
            np.dot(self.U[l], self.h[l], out=self.t2[l])
            np.add(self.t1[l], self.t2[l], out=self.t1[l])
            np.add(self.t1[l], self.b[l], out=self.t1[l])
            np.tanh(self.t1[l], out=self.h[l])
            v = self.h[l]
        np.dot(self.Wo, v, out=self.y)
        np.add(self.y, self.bo, out=self.y)
        return self.y


def timeit(fn, n, repeats):
    out = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        fn(n)
        out.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(out[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(ROOT / ".build" / "bench" / "python_bench.json"))
    a = ap.parse_args()
    repeats = 5 if a.quick else 15
    lib = recur.load_library()
    print(f"recur {recur.library_version()} Python benchmark (numpy {np.__version__}), median of {repeats}, us per step\n")
    print(f"{'shape':<16}{'ctypes floor':>13}{'step':>9}{'step out=':>11}{'step rows':>11}{'numpy step':>12}{'run/step':>10}{'C run/step':>12}")
    rows = []
    for shape in [(10, 20, 5, 1), (64, 256, 10, 1)]:
        c = make(*shape)
        m = c.to_model()
        s = m.session()
        rng = np.random.default_rng(1)
        x = rng.standard_normal(shape[0]).astype(np.float32)
        xs = rng.standard_normal((1000, shape[0])).astype(np.float32)
        yb = np.empty(shape[2], np.float32)
        ys = np.empty((1000, shape[2]), np.float32)
        nps = NumpyStep(c)
        raw, xp, yp = s._raw, x.ctypes.data, yb.ctypes.data
        step_raw = lib.step_raw
        I, O = shape[0], shape[2]
        n = 20000 if shape[1] < 100 else 4000

        def floor(k):  # the irreducible cost: one ctypes call with pre-converted ints
            for _ in range(k):
                step_raw(raw, xp, I, yp, O)

        def step(k):
            for _ in range(k):
                s.step(x)

        def step_out(k):
            for _ in range(k):
                s.step(x, out=yb)

        def step_rows(k):  # a new view each call (iterating the rows of a sequence)
            for t in range(k):
                s.step(xs[t % 1000])

        def npstep(k):
            for _ in range(k):
                nps.step(x)

        def run(k):
            for _ in range(max(1, k // 1000)):
                s.run(xs, out=ys)

        r = dict(shape=list(shape), ctypes_floor_us=timeit(floor, n, repeats), step_us=timeit(step, n, repeats),
                 step_out_us=timeit(step_out, n, repeats), step_rows_us=timeit(step_rows, n, repeats),
                 numpy_step_us=timeit(npstep, n, repeats),
                 run_per_step_us=timeit(run, 5000, repeats) * 1.0)
        # C per-step cost of run in the same process (bare loop, no Python per step)
        t0 = time.perf_counter()
        for _ in range(5):
            lib.run_raw(raw, xs.ctypes.data, xs.size, 1000, ys.ctypes.data, ys.size)
        r["c_run_per_step_us"] = (time.perf_counter() - t0) / 5000 * 1e6
        rows.append(r)
        print(f"{','.join(map(str, shape)):<16}{r['ctypes_floor_us']:>13.2f}{r['step_us']:>9.2f}{r['step_out_us']:>11.2f}"
              f"{r['step_rows_us']:>11.2f}{r['numpy_step_us']:>12.2f}{r['run_per_step_us']:>10.3f}{r['c_run_per_step_us']:>12.3f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"recur": recur.library_version(), "numpy": np.__version__, "rows": rows}, indent=1))
    print(f"\n(JSON: {a.json})")


if __name__ == "__main__":
    main()
