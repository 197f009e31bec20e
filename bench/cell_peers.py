"""Gated cells (GRU, LSTM) from Python beside PyTorch and ONNX Runtime, in one run (make bench).

- batch-1 step at hidden 16, 64, 256 (input 16, one layer, 10 outputs; state carried between
  calls): recur `session.step`, PyTorch `nn.GRU`/`nn.LSTM` one step with the carried `hx` plus
  the `nn.Linear` head (eager, no_grad), and an ONNX Runtime one-step graph (the ONNX `GRU`/`LSTM`
  op with `initial_h`/`initial_c` in, `Y_h`/`Y_c` out, then `MatMul` + `Add`), the state fed back
  by the caller;
- 64 streams stepped together: recur batch session beside the same ONNX graph at batch 64, the
  two taking turns in rounds (the ratio is the median of the per-round ratios);
- one BPTT epoch (scope all: every layer and the head) of a 64-unit GRU classifier, recur's
  Trainer beside PyTorch doing the same (Adam, cross-entropy on the last step, batch 32).
Same weights everywhere (outputs cross-checked against recur). Peers that are not installed are
skipped (bench/setup-peers.sh installs them into bench/.venv). One thread.
    python3 bench/cell_peers.py [--quick] [--json PATH]"""

import argparse
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
from recur.format import Checkpoint, tensor_specs  # noqa: E402
from peers import calibrate, median_us, take_turns  # noqa: E402

try:
    import torch
except Exception:  # noqa: BLE001
    torch = None
try:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except Exception:  # noqa: BLE001
    ort = None

I, O, B = 16, 10, 64
SIZES = (16, 64, 256)


def make(kind, H, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)  # PyTorch's init range for nn.GRU / nn.LSTM / the head
    t = {n: rng.uniform(-k, k, s).astype(np.float32) for n, s, _ in tensor_specs(I, [(H, kind)], O)}
    return Checkpoint(I, [(H, kind)], O, t)


class TorchCell:
    """nn.GRU / nn.LSTM (one layer) stepped one time step per call with the carried hx."""

    def __init__(self, kind, c, batch):
        H = c.layers[0][0]
        self.rnn = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(I, H)
        self.head = torch.nn.Linear(H, O)
        t = c.tensors
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(torch.from_numpy(t["layers.0.w_in"]))
            self.rnn.weight_hh_l0.copy_(torch.from_numpy(t["layers.0.w_rec"]))
            self.rnn.bias_ih_l0.copy_(torch.from_numpy(t["layers.0.bias_in"]))
            self.rnn.bias_hh_l0.copy_(torch.from_numpy(t["layers.0.bias_rec"]))
            self.head.weight.copy_(torch.from_numpy(t["head.weight"]))
            self.head.bias.copy_(torch.from_numpy(t["head.bias"]))
        z = torch.zeros(1, batch, H)
        self.hx = z if kind == "gru" else (z, z.clone())

    def step(self, x):  # x: (1, batch, I)
        with torch.no_grad():
            out, self.hx = self.rnn(x, self.hx)
            return self.head(out[0])


def onnx_gates(kind, m, H):
    """PyTorch's stacked gate rows (GRU r,z,n; LSTM i,f,g,o) in ONNX's order (z,r,h; i,o,f,c)."""
    blocks = [m[g * H:(g + 1) * H] for g in range(m.shape[0] // H)]
    order = (1, 0, 2) if kind == "gru" else (0, 3, 1, 2)
    return np.concatenate([blocks[g] for g in order], 0)


class OrtCell:
    def __init__(self, kind, c, batch):
        H = c.layers[0][0]
        t = c.tensors
        Wx, Wh = onnx_gates(kind, t["layers.0.w_in"], H), onnx_gates(kind, t["layers.0.w_rec"], H)
        bias = np.concatenate([onnx_gates(kind, t["layers.0.bias_in"], H), onnx_gates(kind, t["layers.0.bias_rec"], H)])
        inits = [numpy_helper.from_array(Wx[None], "W"), numpy_helper.from_array(Wh[None], "R"),
                 numpy_helper.from_array(bias[None], "B"),
                 numpy_helper.from_array(np.ascontiguousarray(t["head.weight"].T), "WoT"),
                 numpy_helper.from_array(t["head.bias"], "bo"), numpy_helper.from_array(np.array([0], np.int64), "ax")]
        fv = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
        ins = [fv("x", [1, batch, I]), fv("h", [1, batch, H])]
        outs = [fv("y", [batch, O]), fv("hn", [1, batch, H])]
        if kind == "gru":
            op = helper.make_node("GRU", ["x", "W", "R", "B", "", "h"], ["", "hn"], hidden_size=H, linear_before_reset=1)
        else:
            ins.append(fv("c", [1, batch, H]))
            outs.append(fv("cn", [1, batch, H]))
            op = helper.make_node("LSTM", ["x", "W", "R", "B", "", "h", "c"], ["", "hn", "cn"], hidden_size=H)
        nodes = [op, helper.make_node("Squeeze", ["hn", "ax"], ["h2"]), helper.make_node("MatMul", ["h2", "WoT"], ["ya"]),
                 helper.make_node("Add", ["ya", "bo"], ["y"])]
        model = helper.make_model(helper.make_graph(nodes, f"{kind}_step", ins, outs, inits),
                                  opset_imports=[helper.make_opsetid("", 17)])
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        o.inter_op_num_threads = 1
        self.s = ort.InferenceSession(model.SerializeToString(), o, providers=["CPUExecutionProvider"])
        self.state = {"h": np.zeros((1, batch, H), np.float32)}
        if kind == "lstm":
            self.state["c"] = np.zeros((1, batch, H), np.float32)

    def step(self, x):  # x: (1, batch, I)
        out = self.s.run(None, {"x": x, **self.state})
        self.state["h"] = out[1]
        if len(out) > 2:
            self.state["c"] = out[2]
        return out[0]


def bptt_epoch(quick):
    """One epoch of full BPTT (scope all) on a 64-unit GRU classifier: recur vs PyTorch."""
    N, T, H, C = (256 if quick else 1024), 50, 64, 10
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, T, I)).astype(np.float32)
    P = rng.standard_normal((I, C)).astype(np.float32)
    labels = (X.mean(1) @ P).argmax(1).astype(np.int64)  # learnable from the sequence
    c = make("gru", H, seed=4)
    epochs = 3
    out = {"N": N, "T": T, "hidden": H, "epochs": epochs, "batch": 32}
    stamps = []
    tr = recur.Trainer(c.to_model(), loss="cross_entropy", optimizer="adam", lr=0.005, epochs=epochs, batch_size=32,
                       scope="all", seed=0)
    t0 = time.perf_counter()
    tuned = tr.fit(list(X), labels, callback=lambda p: stamps.append(time.perf_counter()))
    out["recur_epoch_s"] = float(np.median(np.diff([t0] + stamps)))
    ev = tr.evaluate(list(X), labels, tuned)
    out["recur_final_loss"], out["recur_accuracy"] = ev["loss"], ev["accuracy"]
    if torch is not None:
        net = TorchCell("gru", c, 1)
        params = list(net.rnn.parameters()) + list(net.head.parameters())
        opt = torch.optim.Adam(params, lr=0.005)
        xt, yt = torch.from_numpy(X).transpose(0, 1).contiguous(), torch.from_numpy(labels)
        g = torch.Generator().manual_seed(0)
        times = []
        for _ in range(epochs):
            t0 = time.perf_counter()
            perm = torch.randperm(N, generator=g)
            for i in range(0, N, 32):
                idx = perm[i:i + 32]
                seq, _ = net.rnn(xt[:, idx])
                loss = torch.nn.functional.cross_entropy(net.head(seq[-1]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - t0)
        out["torch_epoch_s"] = float(np.median(times))
        with torch.no_grad():
            seq, _ = net.rnn(xt)
            logits = net.head(seq[-1])
            out["torch_final_loss"] = float(torch.nn.functional.cross_entropy(logits, yt))
            out["torch_accuracy"] = float((logits.argmax(1) == yt).float().mean())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(ROOT / ".build" / "bench" / "cell_peers.json"))
    a = ap.parse_args()
    repeats, rounds = (5, 3) if a.quick else (15, 7)
    versions = {"recur": recur.library_version(), "kernels": recur.kernels(), "numpy": np.__version__,
                "python": platform.python_version(), "torch": torch.__version__ if torch else None,
                "onnxruntime": ort.__version__ if ort else None}
    print("gated cells from Python: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) +
          ("" if torch else "; PyTorch not installed") + ("" if ort else "; ONNX Runtime not installed") +
          f"; median of {repeats}, one thread")
    if torch:
        torch.set_num_threads(1)
    results = []

    def rec(cell, H, metric, peer, value):
        results.append({"cell": cell, "hidden": H, "metric": metric, "peer": peer, "value": value})

    print(f"\nbatch-1 step, us (input {I}, one layer, {O} outputs; state carried between calls)")
    print(f"{'cell':<10}{'recur':>9}{'torch':>9}{'ORT':>9}   max |y - recur| / max|y|")
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((64, I)).astype(np.float32)
    for kind in ("gru", "lstm"):
        for H in SIZES:
            c = make(kind, H)
            m = c.to_model()
            s = m.session()
            peers = {"recur": lambda n: [s.step(xs[k & 63]) for k in range(n)]}
            ref = np.stack([s.step(x).copy() for x in xs[:20]])
            s.reset()
            diffs = {}
            x3 = [xs[k:k + 1][None] for k in range(64)]
            if torch:
                tn = TorchCell(kind, c, 1)
                tx = [torch.from_numpy(v) for v in x3]
                diffs["torch"] = np.stack([tn.step(tx[k]).numpy()[0] for k in range(20)])
                peers["torch"] = lambda n: [tn.step(tx[k & 63]) for k in range(n)]
            if ort:
                on = OrtCell(kind, c, 1)
                diffs["ORT"] = np.stack([on.step(x3[k])[0] for k in range(20)])
                peers["ORT"] = lambda n: [on.step(x3[k & 63]) for k in range(n)]
            errs = {k: float(np.abs(v - ref).max() / np.abs(ref).max()) for k, v in diffs.items()}
            for k, e in errs.items():
                if e > 1e-4:
                    raise SystemExit(f"{k} disagrees with recur at {kind}-{H}: {e:.2e}")
            row = {name: median_us(fn, calibrate(fn), repeats) for name, fn in peers.items()}
            for k, v in row.items():
                rec(kind, H, "step_us", k, v)
            f = lambda k: f"{row[k]:>9.2f}" if k in row else f"{'-':>9}"  # noqa: E731
            print(f"{kind}-{H:<6}{f('recur')}{f('torch')}{f('ORT')}   " +
                  ", ".join(f"{k} {e:.1e}" for k, e in errs.items()))

    if ort:
        print(f"\n{B} streams stepped together, thousands of stream-steps per second (one thread); recur and ONNX")
        print(f"Runtime take turns in {rounds} rounds (each after 0.3 s idle); r/ORT = median of the per-round ratios")
        print(f"{'cell':<10}{'recur':>10}{'ORT':>10}{'r/ORT':>8}")
        X = np.random.default_rng(2).standard_normal((B, I)).astype(np.float32)
        X3 = X[None]
        for kind in ("gru", "lstm"):
            for H in SIZES:
                c = make(kind, H)
                bs = c.to_model().session(B)
                on = OrtCell(kind, c, B)
                steps = {"recur": lambda: bs.step(X), "ORT": lambda: on.step(X3)}
                per = take_turns(steps, rounds, B)
                r, o = statistics.median(per["recur"]), statistics.median(per["ORT"])
                ratio = statistics.median(a / b for a, b in zip(per["recur"], per["ORT"]))
                rec(kind, H, "batch64_kstream_steps_per_s", "recur", r)
                rec(kind, H, "batch64_kstream_steps_per_s", "ORT", o)
                rec(kind, H, "batch64_round_ratio_vs_ORT", "recur", ratio)
                print(f"{kind}-{H:<6}{r:>10.0f}{o:>10.0f}{ratio:>8.2f}")

    bp = bptt_epoch(a.quick)
    print(f"\nBPTT epoch (scope all, full BPTT), GRU {I}-{bp['hidden']}-10 classifier, {bp['N']} sequences x {bp['T']} steps, "
          f"Adam, cross-entropy on the last step, batch {bp['batch']}, one thread")
    print(f"  recur   {bp['recur_epoch_s']:.3f} s/epoch (after {bp['epochs']} epochs: loss {bp['recur_final_loss']:.3f}, "
          f"accuracy {bp['recur_accuracy']:.3f})")
    if "torch_epoch_s" in bp:
        print(f"  PyTorch {bp['torch_epoch_s']:.3f} s/epoch (loss {bp['torch_final_loss']:.3f}, accuracy {bp['torch_accuracy']:.3f}); "
              f"ratio recur/PyTorch {bp['recur_epoch_s'] / bp['torch_epoch_s']:.2f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"versions": versions, "results": results, "bptt": bp}, indent=1))


if __name__ == "__main__":
    main()
