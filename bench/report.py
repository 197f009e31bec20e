"""Combines one `make bench` run (step_bench, misc_bench, peers, finetune_bench JSON in
.build/bench) into the issue-7 target table: each row is recur's number, the peer measured in
the same run, their ratio and the target. Writes .build/bench/report.json.
    python3 bench/report.py [DIR]"""

import json
import platform
import sys
from pathlib import Path


def load(d, name):
    p = d / name
    return json.loads(p.read_text()) if p.exists() else None


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".build" / "bench")
    step, misc, peers, ft, loadb, cells, cpeers = (load(d, n) for n in (
        "step_bench.json", "misc_bench.json", "peers.json", "finetune_bench.json", "load_bench.json", "cell_bench.json",
        "cell_peers.json"))
    rows = []

    def row(what, recur, peer_name, peer, target, ok, unit="", ratio=None):
        if ratio is None:
            ratio = recur / peer if (peer and recur is not None) else None
        rows.append({"what": what, "recur": recur, "peer": peer_name, "peer_value": peer, "ratio": ratio,
                     "target": target, "met": ok, "unit": unit})

    def shape_s(s):
        return ",".join(map(str, s))

    if step:
        for r in step["results"]:
            s = shape_s(r["shape"])
            lim = 1.5 if r["shape"][1] == 20 else 1.0
            row(f"C step {s} (us)", r["recur_us"], "plain C -O3 fast-math", r["plain_c_us"], f"<= {lim}x",
                r["recur_us"] <= lim * r["plain_c_us"])
            if r.get("recur_2threads_us"):
                # docs/REFERENCES.md: 2-thread OpenBLAS sgemv / 1-thread plain C = 25.3/35.2 and 36.3/58.0
                ref = {512: 25.3 / 35.2, 1024: 36.3 / 58.0}[r["shape"][1]]
                row(f"2-thread step {s} (us)", r["recur_2threads_us"], "plain C, 1 thread", r["plain_c_us"],
                    f"<= {ref:.2f}x (OpenBLAS 2-thread sgemv's ratio)", r["recur_2threads_us"] <= ref * r["plain_c_us"])
            if r["shape"][1] == 1024:
                row(f"int8 step {s} (us)", r["recur_int8_us"], "recur f32", r["recur_us"], "<= 0.55x",
                    r["recur_int8_us"] <= 0.55 * r["recur_us"])
    if loadb:
        # Issue 12: with other work on the machine, a 2-thread session is no slower than 1 thread
        # (within the noise the two 1-thread blocks of the same repeat show).
        for r in loadb["results"]:
            if r["load"] == "idle":
                continue
            s = shape_s(r["shape"])
            lim = 1.0 + max(0.03, abs(r["noise"] - 1))
            row(f"2 threads under load, {r['load']}, {s} (us)", r["two_threads_us"], "recur, 1 thread", r["one_thread_us"],
                f"<= {lim:.2f}x (1.0 + noise)", r["ratio"] <= lim, ratio=r["ratio"])
    if misc:
        cs = misc["cold_start_ms"]
        row("cold start 64-256-10 (ms)", cs["recur"], "plain C (no librecur)", cs["plain_c"], "<= 5 ms", cs["recur"] <= 5.0)
        for c in misc["checkpoints"]:
            if c.get("dtype") in ("f32", "f16"):
                lim = 0.86 if c["dtype"] == "f32" else 0.44
                row(f"checkpoint {shape_s(c['shape'])} {c['dtype']} (% of raw f32)", c["percent_of_raw_f32"], "raw f32", 100.0,
                    f"<= {lim * 100:.0f}%", c["percent_of_raw_f32"] <= lim * 100)
    if peers:
        res = peers["results"]

        def get(shape, metric, peer):
            for r in res:
                if r["shape"] == list(shape) and r["metric"] == metric and r["peer"] == peer:
                    return r["value"]
            return None

        st, nu = get((64, 256, 10, 1), "step_us", "recur step"), get((64, 256, 10, 1), "step_us", "numpy")
        if st and nu:
            row("Python session.step 64-256-10 (us)", st, "numpy preallocated", nu, "<= 1.0x", st <= nu)
        if step:
            for r in step["results"]:
                run = get(tuple(r["shape"]), "step_us", "recur run")
                if run:
                    row(f"Python session.run per step {shape_s(r['shape'])} (us)", run, "recur C step", r["recur_us"],
                        "<= 1.2x", run <= 1.2 * r["recur_us"])
        for shape in ((64, 256, 10, 1), (256, 1024, 32, 1)):
            for t in (1, 2):
                rv, ov = get(shape, "batch64_kstream_steps_per_s", f"recur t{t}"), get(shape, "batch64_kstream_steps_per_s", f"ORT t{t}")
                tv = get(shape, "batch64_kstream_steps_per_s", f"torch t{t}")
                rr = get(shape, "batch64_round_ratio_vs_ORT", f"recur t{t}")
                if rv and ov and rr:
                    # the peers took turns; the ratio is the median of the per-round ratios
                    row(f"batch-64 {shape_s(shape)} t={t} (k stream-steps/s)", rv, "ONNX Runtime one-step graph", ov,
                        ">= 1.0x", rr >= 1.0, ratio=rr)
                elif rv and (ov or tv):
                    name, pv = ("ONNX Runtime one-step graph", ov) if ov else ("PyTorch", tv)
                    row(f"batch-64 {shape_s(shape)} t={t} (k stream-steps/s)", rv, name, pv, ">= 1.0x", rv >= pv)
        for shape in ((64, 256, 10, 1),):
            st, tv, ov = (get(shape, "step_us", p) for p in ("recur step", "torch", "ORT"))
            if step and tv:
                c = [r for r in step["results"] if r["shape"] == list(shape)][0]["recur_us"]
                row(f"C step {shape_s(shape)} vs PyTorch eager (us)", c, "PyTorch eager", tv, "<= 1/8x", c * 8 <= tv)
            if step and ov:
                c = [r for r in step["results"] if r["shape"] == list(shape)][0]["recur_us"]
                row(f"C step {shape_s(shape)} vs ONNX Runtime (us)", c, "ONNX Runtime run()", ov, "<= 1/3x", c * 3 <= ov)
    if ft and "torch_epoch_s" in ft:
        row("head fine-tune feature pass (s)", ft["recur_feature_pass_s"], "PyTorch", ft["torch_feature_pass_s"], "<= 0.5x",
            ft["recur_feature_pass_s"] <= 0.5 * ft["torch_feature_pass_s"])
        row("head fine-tune epoch (s)", ft["recur_epoch_s"], "PyTorch", ft["torch_epoch_s"], "<= 0.5x",
            ft["recur_epoch_s"] <= 0.5 * ft["torch_epoch_s"])
        if ft.get("recur_ridge_s"):
            row("ridge fit (s)", ft["recur_ridge_s"], "numpy float32", ft["numpy_ridge_s"], "<= 1.0x",
                ft["recur_ridge_s"] <= ft["numpy_ridge_s"])
        e2e = ft["torch_feature_pass_s"] + ft["numpy_ridge_s"]
        row("ridge end to end incl. features (s)", ft["recur_ridge_total_s"], "PyTorch features + numpy", e2e,
            "<= 1.0x", ft["recur_ridge_total_s"] <= e2e)

    if cells:
        # Issue 13: gated cells from C beside the plain-C fused-gate reference; int8 at 256.
        for r in cells["results"]:
            n = f"{r['cell']}-{r['hidden']}"
            row(f"C step {n} (us)", r["recur_us"], "plain C fused gates", r["plain_c_us"], "<= 1.0x",
                r["recur_us"] <= r["plain_c_us"])
            if r["hidden"] == 256:
                row(f"int8 step {n} (us)", r["recur_int8_us"], "recur f32", r["recur_us"], "<= 0.6x",
                    r["recur_int8_us"] <= 0.6 * r["recur_us"])
    if cpeers:
        def cget(cell, H, metric, peer):
            for r in cpeers["results"]:
                if (r["cell"], r["hidden"], r["metric"], r["peer"]) == (cell, H, metric, peer):
                    return r["value"]
            return None

        for cell in ("gru", "lstm"):
            c64 = [r["recur_us"] for r in (cells or {}).get("results", []) if (r["cell"], r["hidden"]) == (cell, 64)]
            for peer, name, lim in (("torch", "PyTorch nn." + cell.upper() + " step", 8), ("ORT", "ONNX Runtime run()", 3)):
                pv = cget(cell, 64, "step_us", peer)
                if c64 and pv:
                    row(f"C step {cell}-64 vs {peer} (us)", c64[0], name, pv, f"<= 1/{lim}x", c64[0] * lim <= pv)
            for H in (16, 64, 256):
                rv, ov = cget(cell, H, "batch64_kstream_steps_per_s", "recur"), cget(cell, H, "batch64_kstream_steps_per_s", "ORT")
                rr = cget(cell, H, "batch64_round_ratio_vs_ORT", "recur")
                if rv and ov and rr:
                    row(f"batch-64 {cell}-{H} (k stream-steps/s)", rv, "ONNX Runtime GRU/LSTM op", ov, ">= 1.0x", rr >= 1.0,
                        ratio=rr)
        bp = cpeers.get("bptt", {})
        if "torch_epoch_s" in bp:
            row(f"BPTT epoch GRU-64, {bp['N']}x{bp['T']} (s)", bp["recur_epoch_s"], "PyTorch nn.GRU + autograd",
                bp["torch_epoch_s"], "no target", None)

    print(f"recur vs peers, one run ({platform.machine()}, {platform.processor() or 'cpu'}):")
    print(f"{'what':<48}{'recur':>11}{'peer':>11}  {'ratio':>6}  {'target':<14} met   peer")
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        print(f"{r['what']:<48}{r['recur']:>11.3f}{r['peer_value']:>11.3f}  {ratio:>6}  {r['target'][:14]:<14} "
              f"{'-' if r['met'] is None else 'yes' if r['met'] else 'NO ':<4}  {r['peer']}")
    out = {"rows": rows, "step": step, "misc": misc, "peers": peers, "finetune": ft, "cells": cells, "cell_peers": cpeers}
    (d / "report.json").write_text(json.dumps(out, indent=1))
    print(f"(JSON: {d / 'report.json'})")


if __name__ == "__main__":
    main()
