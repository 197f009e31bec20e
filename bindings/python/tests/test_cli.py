"""The `recur` command-line tool, run as a built binary on fixtures."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

import recur
from conftest import ROOT, random_checkpoint

CLI = ROOT / ".build" / "release" / "recur-cli"
MODEL = ROOT / "models" / "vowels-5speakers.recur"

pytestmark = pytest.mark.skipif(not CLI.exists(), reason="build the release products first (make lib)")


def run(*args, input=None, ok=True):
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, input=input)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_inspect_text_and_json():
    r = run("inspect", MODEL)
    assert "64 tanh" in r.stdout and "speaker 5" in r.stdout and "checksums ok" in r.stdout
    j = json.loads(run("inspect", "--json", MODEL).stdout)
    assert j["input_size"] == 12 and j["output_size"] == 5 and j["parameters"] == 5253
    assert j["labels"][0] == "speaker 1" and j["checksums"] == "ok" and j["file_bytes"] == MODEL.stat().st_size


def test_inspect_bad_files(tmp_path):
    bad = tmp_path / "bad.recur"
    data = bytearray(MODEL.read_bytes())
    data[20] ^= 1  # the stored header CRC: every structure rule still holds
    bad.write_bytes(bytes(data))
    r = run("inspect", bad, ok=False)
    assert r.returncode != 0 and "RECUR_E_CORRUPT_PREAMBLE" in r.stderr and "damaged" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run("inspect", tmp_path / "missing.recur", ok=False)
    assert r.returncode != 0 and "missing.recur" in r.stderr
    (tmp_path / "x.recur").write_bytes(b"PK\x03\x04 not a model" * 4)
    r = run("inspect", tmp_path / "x.recur", ok=False)
    assert "RECUR_E_BAD_MAGIC" in r.stderr and "zip" in r.stderr


def test_run_csv_stdin_npy_and_state(tmp_path):
    m = recur.Model.load(MODEL)
    xs = np.random.default_rng(0).standard_normal((6, 12)).astype(np.float32)
    expected = m.session().run(xs)
    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in xs)
    out = run("run", MODEL, "-", input=csv).stdout.split()
    got = np.array([[float(v) for v in line.split(",")] for line in out])
    assert np.allclose(got, expected, atol=1e-6)
    np.save(tmp_path / "x.npy", xs)
    top = run("run", MODEL, tmp_path / "x.npy", "--top").stdout.splitlines()
    assert len(top) == 6 and top[-1].split("\t")[1] == m.labels[int(np.argmax(expected[-1]))]
    # resume a stream across invocations
    first = "\n".join(csv.splitlines()[:3])
    second = "\n".join(csv.splitlines()[3:])
    run("run", MODEL, "-", "--state-out", tmp_path / "s.bin", input=first)
    resumed = run("run", MODEL, "-", "--state-in", tmp_path / "s.bin", input=second).stdout.split()
    assert resumed == out[3:]
    r = run("run", MODEL, "-", input="1,2,3\n", ok=False)
    assert r.returncode != 0 and "row 1 has 3 values" in r.stderr
    r = run("run", MODEL, "-", input="nan," * 11 + "nan\n", ok=False)
    assert "RECUR_E_NONFINITE_INPUT" in r.stderr


def vowel_npz(tmp_path):
    from recur.datasets import load_ts

    seqs, labels = load_ts(ROOT / "examples" / "data" / "japanese-vowels" / "JapaneseVowels_TRAIN.ts")
    lab = np.array([int(x) for x in labels]) - 1
    path = tmp_path / "vowels.npz"
    np.savez_compressed(path, inputs=np.concatenate(seqs), lengths=np.array([len(s) for s in seqs]), targets=lab)
    return path, seqs, lab


def test_finetune_new_head_eval_and_adapter(tmp_path):
    npz, seqs, lab = vowel_npz(tmp_path)
    out = tmp_path / "nine.recur"
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--loss", "cross_entropy", "--new-head", 9,
            "--labels", ",".join(f"s{k}" for k in range(1, 10)), "--transform", "softmax", "--lr", 0.02,
            "--epochs", 40, "--batch-size", 30, "--validation-split", 0.2, "--seed", 3)
    assert "validation" in r.stdout and "wrote" in r.stdout
    assert r.stderr.count("epoch") == 40  # one line per epoch when not a TTY
    m = recur.Model.load(out)
    assert m.output_size == 9 and m.labels[8] == "s9"
    acc = float(run("eval", out, "--data", npz).stdout.split("accuracy ")[1].split(" ")[0].rstrip(","))
    assert acc > 0.9
    # adapter output, then evaluation through the adapter on a base with the same body
    adapter = tmp_path / "nine.adapter"
    run("finetune", MODEL, "--data", npz, "--out", adapter, "--adapter", "--loss", "cross_entropy", "--new-head", 9,
        "--epochs", 5, "--seed", 3)
    assert adapter.stat().st_size < 4000
    assert "accuracy" in run("eval", MODEL, "--data", npz, "--adapter", adapter).stdout


def test_finetune_csv_regression_and_ridge(tmp_path):
    c = random_checkpoint(3, [(8, "tanh")], 2, seed=1)
    base = tmp_path / "base.recur"
    c.save(base)
    teacher = random_checkpoint(3, [(8, "tanh")], 2, seed=2).to_model()
    rng = np.random.default_rng(4)
    rows = []
    for s in range(40):
        x = rng.uniform(-1, 1, (5, 3)).astype(np.float32)
        y = teacher.session().run(x)
        rows += [[s, *x[t], *y[t]] for t in range(5)]
    csv = tmp_path / "d.csv"
    csv.write_text("seq,x1,x2,x3,y1,y2\n" + "\n".join(",".join(map(str, r)) for r in rows))
    out = tmp_path / "ridge.recur"
    r = run("finetune", base, "--data", csv, "--out", out, "--optimizer", "ridge", "--weight-decay", 0.01)
    rmse_train = float(r.stdout.split("RMSE ")[1].split(" ")[0])
    before = float(run("eval", base, "--data", csv, "--loss", "mse").stdout.split("RMSE ")[1].split(" ")[0])
    assert rmse_train < 0.7 * before
    r = run("finetune", base, "--data", csv, "--out", out, "--scope", "all", "--epochs", 3, "--bptt", 2)
    assert "wrote" in r.stdout


def test_finetune_errors(tmp_path):
    npz, _, _ = vowel_npz(tmp_path)
    out = tmp_path / "o.recur"
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--loss", "hinge", ok=False)
    assert r.returncode != 0 and "--loss" in r.stderr and not out.exists()
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--loss", "cross_entropy", ok=False)  # 9 classes, 5 outputs
    assert "RECUR_E_INVALID_ARGUMENT" in r.stderr and not out.exists()
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--scope", "7", "--loss", "cross_entropy", "--new-head", 9, ok=False)
    assert "scope top 7" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("finetune", MODEL, ok=False)
    assert r.returncode != 0 and "Missing expected argument" in r.stderr
    assert run("finetune", "--help").stdout.count("--") > 20


def test_ctrl_c_cancels_cleanly(tmp_path):
    npz, _, _ = vowel_npz(tmp_path)
    out = tmp_path / "o.recur"
    p = subprocess.Popen([str(CLI), "finetune", str(MODEL), "--data", str(npz), "--out", str(out), "--loss",
                          "cross_entropy", "--new-head", "9", "--scope", "all", "--epochs", "100000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert "cancelled; nothing was written" in stderr
    assert not out.exists() and not any(f.name.startswith(".o.recur") for f in tmp_path.iterdir())


def test_convert_and_bench(tmp_path):
    out = tmp_path / "half.recur"
    r = run("convert", MODEL, out, "--dtype", "f16")
    assert "f16" in r.stdout and out.stat().st_size < 0.6 * MODEL.stat().st_size
    assert recur.Model.load(out).weight_dtype == "f16"
    assert "us per step" in run("bench", out, "--steps", 200, "--repeats", 3).stdout
    r = run("bench", out, "--steps", 50, "--repeats", 2, "--threads", 2)
    assert "2 threads" in r.stdout
    r = run("bench", out, "--threads", 0, ok=False)
    assert "--threads" in r.stderr
    q = tmp_path / "int8.recur"
    r = run("convert", MODEL, q, "--dtype", "i8")
    assert "i8" in r.stdout and q.stat().st_size < 0.4 * MODEL.stat().st_size
    m8 = recur.Model.load(q)
    assert m8.weight_dtype == "i8"
    assert "i8" in run("inspect", q).stdout
    assert "i8 weights" in run("bench", q, "--steps", 50, "--repeats", 2).stdout
    r = run("convert", MODEL, out, "--dtype", "f64", ok=False)
    assert "--dtype" in r.stderr
