"""recur from Python beside numpy, PyTorch and ONNX Runtime, in one run (make bench).

Batch-1 streaming step (state carried between calls) and 64 streams stepped together, on
the shapes of docs/REFERENCES.md, with the same weights everywhere (outputs are
cross-checked). Peers that are not installed are skipped (bench/setup-peers.sh installs them
into bench/.venv). Medians of repeats; thread pools pinned to 1 (and 2 where stated).
    python3 bench/peers.py [--quick] [--json PATH]"""

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
sys.path.insert(0, str(ROOT / "bench"))
import recur  # noqa: E402
from python_bench import NumpyStep, make  # noqa: E402

SHAPES = [(10, 20, 5, 1), (64, 256, 10, 1), (128, 512, 10, 2), (256, 1024, 32, 1)]
BATCH_SHAPES = [(64, 256, 10, 1), (256, 1024, 32, 1)]

try:
    import torch
except Exception:  # noqa: BLE001
    torch = None
try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except Exception:  # noqa: BLE001
    ort = None


def median_us(fn, n, repeats):
    fn(max(1, n // 10))  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        out.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(out)


def calibrate(fn, target=0.02):
    n = 1
    while True:
        t0 = time.perf_counter()
        fn(n)
        if time.perf_counter() - t0 > target or n > 1 << 20:
            return n
        n *= 2


def take_turns(steps, rounds, streams):
    """Thousands of stream-steps per second of each batched `steps[name]()` (one step of
    `streams` streams), measured in `rounds` rounds in which every contender runs once, each
    after 0.3 s idle (ORT's and OpenMP's workers spin after a run): {name: [per round]}."""
    counts = {}
    for name, step in steps.items():
        fn = lambda n, step=step: [step() for _ in range(n)]  # noqa: E731
        fn(3)
        counts[name] = calibrate(fn, 0.1)
    per = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            gc.collect()
            time.sleep(0.3)
            n = counts[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            per[name].append(streams * n / (time.perf_counter() - t0) / 1e3)
    return per


class NumpyBatch:
    def __init__(self, c, B):
        L = len(c.layers)
        self.WT = [np.ascontiguousarray(c.tensors[f"layers.{l}.w_in"].T) for l in range(L)]
        self.UT = [np.ascontiguousarray(c.tensors[f"layers.{l}.w_rec"].T) for l in range(L)]
        self.b = [c.tensors[f"layers.{l}.bias"] for l in range(L)]
        self.WoT, self.bo = np.ascontiguousarray(c.tensors["head.weight"].T), c.tensors["head.bias"]
        self.h = [np.zeros((B, s), np.float32) for s, _ in c.layers]
        self.t = [np.zeros((B, s), np.float32) for s, _ in c.layers]
        self.y = np.zeros((B, c.output_size), np.float32)

    def step(self, x):
        v = x
        for l in range(len(self.WT)):
            np.matmul(v, self.WT[l], out=self.t[l])
            self.t[l] += self.h[l] @ self.UT[l]
            self.t[l] += self.b[l]
            np.tanh(self.t[l], out=self.h[l])
            v = self.h[l]
        np.matmul(v, self.WoT, out=self.y)
        self.y += self.bo
        return self.y


class TorchNet:
    """The design document's FeedbackNet (hidden = Linear(I+H, H) on cat([x, h])), stacked."""

    def __init__(self, c, B):
        self.layers = []
        for l in range(len(c.layers)):
            lin = torch.nn.Linear(c.tensors[f"layers.{l}.w_in"].shape[1] + c.layers[l][0], c.layers[l][0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.concatenate([c.tensors[f"layers.{l}.w_in"], c.tensors[f"layers.{l}.w_rec"]], 1)))
                lin.bias.copy_(torch.from_numpy(c.tensors[f"layers.{l}.bias"]))
            self.layers.append(lin)
        self.out = torch.nn.Linear(c.layers[-1][0], c.output_size)
        with torch.no_grad():
            self.out.weight.copy_(torch.from_numpy(c.tensors["head.weight"]))
            self.out.bias.copy_(torch.from_numpy(c.tensors["head.bias"]))
        self.h = [torch.zeros(B, s) for s, _ in c.layers]

    def step(self, x):
        with torch.no_grad():
            v = x
            for l, lin in enumerate(self.layers):
                self.h[l] = torch.tanh(lin(torch.cat([v, self.h[l]], 1)))
                v = self.h[l]
            return self.out(v)


class OrtNet:
    """A one-step ONNX graph (MatMul/Add/Tanh), state fed back by the caller; plain run()."""

    def __init__(self, c, B, threads):
        L = len(c.layers)
        inits, nodes = [], []
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, c.input_size])]
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, c.output_size])]
        v = "x"
        for l in range(L):
            H = c.layers[l][0]
            inputs.append(helper.make_tensor_value_info(f"h{l}", TensorProto.FLOAT, [B, H]))
            outputs.append(helper.make_tensor_value_info(f"hn{l}", TensorProto.FLOAT, [B, H]))
            inits += [numpy_helper.from_array(np.ascontiguousarray(c.tensors[f"layers.{l}.w_in"].T), f"WT{l}"),
                      numpy_helper.from_array(np.ascontiguousarray(c.tensors[f"layers.{l}.w_rec"].T), f"UT{l}"),
                      numpy_helper.from_array(c.tensors[f"layers.{l}.bias"], f"b{l}")]
            nodes += [helper.make_node("MatMul", [v, f"WT{l}"], [f"a{l}"]),
                      helper.make_node("MatMul", [f"h{l}", f"UT{l}"], [f"r{l}"]),
                      helper.make_node("Add", [f"a{l}", f"r{l}"], [f"s{l}"]),
                      helper.make_node("Add", [f"s{l}", f"b{l}"], [f"z{l}"]),
                      helper.make_node("Tanh", [f"z{l}"], [f"hn{l}"])]
            v = f"hn{l}"
        inits += [numpy_helper.from_array(np.ascontiguousarray(c.tensors["head.weight"].T), "WoT"),
                  numpy_helper.from_array(c.tensors["head.bias"], "bo")]
        nodes += [helper.make_node("MatMul", [v, "WoT"], ["ya"]), helper.make_node("Add", ["ya", "bo"], ["y"])]
        g = helper.make_graph(nodes, "feedback_step", inputs, outputs, inits)
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        o = ort.SessionOptions()
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
        self.s = ort.InferenceSession(model.SerializeToString(), o, providers=["CPUExecutionProvider"])
        self.h = {f"h{l}": np.zeros((B, c.layers[l][0]), np.float32) for l in range(L)}
        self.L = L

    def step(self, x):
        feeds = {"x": x, **self.h}
        out = self.s.run(None, feeds)
        for l in range(self.L):
            self.h[f"h{l}"] = out[1 + l]
        return out[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(ROOT / ".build" / "bench" / "peers.json"))
    a = ap.parse_args()
    repeats = 5 if a.quick else 15
    rounds = 3 if a.quick else 7  # batched peers: rounds of turns
    versions = {"recur": recur.library_version(), "numpy": np.__version__, "python": platform.python_version(),
                "torch": torch.__version__ if torch else None, "onnxruntime": ort.__version__ if ort else None}
    print("peers (Python): " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) +
          ("" if torch else "; PyTorch not installed") + ("" if ort else "; ONNX Runtime not installed") +
          f"; median of {repeats}")
    if torch:
        torch.set_num_threads(1)
    results = []

    def rec(shape, metric, peer, value):
        results.append({"shape": list(shape), "metric": metric, "peer": peer, "value": value})

    print(f"\nbatch-1 step, us (state carried between calls)")
    print(f"{'shape':<16}{'recur step':>11}{'recur run':>11}{'numpy':>9}{'torch':>9}{'ORT':>9}")
    for shape in SHAPES:
        c = make(*shape)
        m = c.to_model()
        s = m.session()
        I = shape[0]
        rng = np.random.default_rng(1)
        xs = rng.standard_normal((64, I)).astype(np.float32)
        seq = rng.standard_normal((1000, I)).astype(np.float32)
        ys = np.empty((1000, shape[2]), np.float32)
        ns = NumpyStep(c)
        peers = {"recur step": lambda n: [s.step(xs[k & 63]) for k in range(n)],
                 "numpy": lambda n: [ns.step(xs[k & 63]) for k in range(n)]}
        checks = {"recur step": lambda: (s.reset(), s.step(xs[0]))[1], "numpy": lambda: (ns.__init__(c), ns.step(xs[0]))[1]}
        if torch:
            tn = TorchNet(c, 1)
            tx = [torch.from_numpy(xs[k:k + 1]) for k in range(64)]
            peers["torch"] = lambda n: [tn.step(tx[k & 63]) for k in range(n)]
            checks["torch"] = lambda: (tn.__init__(c, 1), tn.step(tx[0]).numpy()[0])[1]
        if ort:
            on = OrtNet(c, 1, 1)
            ox = [xs[k:k + 1] for k in range(64)]
            peers["ORT"] = lambda n: [on.step(ox[k & 63]) for k in range(n)]
            checks["ORT"] = lambda: (on.__init__(c, 1, 1), on.step(ox[0])[0])[1]
        ref = np.array(checks["numpy"](), copy=True)
        for name, chk in checks.items():
            got = np.asarray(chk(), np.float32).reshape(-1)
            if not np.allclose(got, ref, rtol=1e-4, atol=1e-5):
                print(f"  warning: {name} output differs from numpy at {shape}")
        row = {}
        for name, fn in peers.items():
            row[name] = median_us(fn, calibrate(fn), repeats)
        run_n = 1 if shape[1] >= 512 else 5
        row["recur run"] = median_us(lambda n: [s.run(seq, out=ys) for _ in range(n)], run_n, repeats) / 1000
        for k, v in row.items():
            rec(shape, "step_us", k, v)
        f = lambda k: f"{row[k]:>9.2f}" if k in row else f"{'-':>9}"  # noqa: E731
        print(f"{','.join(map(str, shape)):<16}{row['recur step']:>11.2f}{row['recur run']:>11.3f}{f('numpy')}{f('torch')}{f('ORT')}")

    print(f"\n64 streams stepped together, thousands of stream-steps per second (t = threads); the peers")
    print(f"take turns in {rounds} rounds (each after 0.3 s idle: ORT's and OpenMP's workers spin after a")
    print(f"run); medians, and the median of the per-round ratios recur / ONNX Runtime")
    print(f"{'shape':<16}{'recur t1':>10}{'recur t2':>10}{'numpy':>9}{'torch t1':>10}{'torch t2':>10}{'ORT t1':>9}{'ORT t2':>9}"
          f"{'r/ORT t1':>10}{'r/ORT t2':>10}")
    for shape in BATCH_SHAPES:
        c = make(*shape)
        m = c.to_model()
        B = 64
        X = np.random.default_rng(2).standard_normal((B, shape[0])).astype(np.float32)
        row = {}
        for t in (1, 2):
            steps = {}
            bs = m.session(B)
            bs.threads = t
            steps[f"recur t{t}"] = lambda bs=bs: bs.step(X)
            if t == 1:
                steps["numpy"] = (lambda nb: (lambda: nb.step(X)))(NumpyBatch(c, B))
            if torch:
                torch.set_num_threads(t)
                tX = torch.from_numpy(X)
                steps[f"torch t{t}"] = (lambda tn: (lambda: tn.step(tX)))(TorchNet(c, B))
            if ort:
                steps[f"ORT t{t}"] = (lambda on: (lambda: on.step(X)))(OrtNet(c, B, t))
            per = take_turns(steps, rounds, B)
            for name, v in per.items():
                row[name] = statistics.median(v)
            if f"ORT t{t}" in per:
                row[f"ratio t{t}"] = statistics.median(r / o for r, o in zip(per[f"recur t{t}"], per[f"ORT t{t}"]))
            del steps, bs
            if torch:
                torch.set_num_threads(1)
        for k, v in row.items():
            if k.startswith("ratio"):
                rec(shape, "batch64_round_ratio_vs_ORT", "recur " + k.split()[1], v)
            else:
                rec(shape, "batch64_kstream_steps_per_s", k, v)
        f = lambda k, w, d=0: f"{row[k]:>{w}.{d}f}" if k in row else f"{'-':>{w}}"  # noqa: E731
        print(f"{','.join(map(str, shape)):<16}{f('recur t1', 10)}{f('recur t2', 10)}{f('numpy', 9)}{f('torch t1', 10)}"
              f"{f('torch t2', 10)}{f('ORT t1', 9)}{f('ORT t2', 9)}{f('ratio t1', 10, 2)}{f('ratio t2', 10, 2)}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"versions": versions, "results": results}, indent=1))


if __name__ == "__main__":
    main()
