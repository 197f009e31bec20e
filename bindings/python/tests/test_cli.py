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


def test_gated_models_inspect_and_run(tmp_path):
    """inspect names each layer's kind (text and JSON); run streams a GRU/LSTM model, and
    --state-out/--state-in carry the LSTM cell state across invocations."""
    from recur.format import Checkpoint, tensor_specs
    layers = [(8, "gru"), (6, "gru_reset_before"), (7, "lstm", 3), (5, "tanh")]
    rng = np.random.default_rng(2)
    tensors = {n: rng.uniform(-0.5, 0.5, shape).astype(np.float32) for n, shape, _ in tensor_specs(4, layers, 3)}
    path = tmp_path / "g.recur"
    Checkpoint(4, layers, 3, tensors).to_model().save(path)
    text = run("inspect", path).stdout
    assert "layer 0      8 gru\n" in text and "layer 1      6 gru_reset_before" in text
    assert "layer 2      7 lstm, projected to 3" in text and "layer 3      5 tanh (feedback)" in text
    j = json.loads(run("inspect", "--json", path).stdout)
    assert j["layers"] == [{"kind": "gru", "size": 8}, {"kind": "gru_reset_before", "size": 6},
                           {"kind": "lstm", "size": 7, "proj_size": 3}, {"kind": "elman", "size": 5, "activation": "tanh"}]
    m = recur.Model.load(path)
    xs = rng.standard_normal((6, 4)).astype(np.float32)
    expected = m.session().run(xs)
    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in xs)
    out = run("run", path, "-", input=csv).stdout.split()
    assert np.allclose(np.array([[float(v) for v in line.split(",")] for line in out]), expected, atol=1e-6)
    run("run", path, "-", "--state-out", tmp_path / "s.bin", input="\n".join(csv.splitlines()[:3]))
    resumed = run("run", path, "-", "--state-in", tmp_path / "s.bin", input="\n".join(csv.splitlines()[3:])).stdout.split()
    assert resumed == out[3:]


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
    assert r.returncode == 64 and "--loss" in r.stderr and not out.exists()
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--loss", "cross_entropy", ok=False)  # 9 classes, 5 outputs
    assert r.returncode == 1 and "class target 150 is 5" in r.stderr and "0-based" in r.stderr and not out.exists()
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
    assert r.returncode == 64 and "--threads" in r.stderr
    q = tmp_path / "int8.recur"
    r = run("convert", MODEL, q, "--dtype", "i8")
    assert "i8" in r.stdout and q.stat().st_size < 0.4 * MODEL.stat().st_size
    m8 = recur.Model.load(q)
    assert m8.weight_dtype == "i8"
    assert "i8" in run("inspect", q).stdout
    assert "i8 weights" in run("bench", q, "--steps", 50, "--repeats", 2).stdout
    r = run("convert", MODEL, out, "--dtype", "f64", ok=False)
    assert r.returncode == 64 and "--dtype" in r.stderr


# -- no silent failures, shared defaults, and the data layouts built in -----------------------

HEADER_VERSION = __import__("re").search(r'#define RECUR_VERSION_STRING "([^"]+)"',
                                         (ROOT / "include" / "recur.h").read_text()).group(1)


def test_version_is_the_headers():
    assert run("--version").stdout.strip() == HEADER_VERSION


def test_inputs_that_give_no_output_are_errors(tmp_path):
    # A one-row CSV with a typo is not a header: it is an error naming the cell.
    r = run("run", MODEL, "-", input="1,2,3x,4,5,6,7,8,9,10,11,12\n", ok=False)
    assert r.returncode == 1 and 'column 3 is "3x"' in r.stderr and r.stdout == ""
    # A header alone, empty input, /dev/null and a directory: no rows is an error.
    for args, inp in [(("-",), "x1,x2,x3\n"), (("-",), ""), (("/dev/null",), None), ((tmp_path,), None)]:
        r = run("run", MODEL, *args, input=inp, ok=False)
        assert r.returncode == 1 and r.stdout == "", (args, r.stderr)
        assert "no input rows" in r.stderr or "is a directory" in r.stderr, r.stderr
    # A real header is still skipped.
    assert len(run("run", MODEL, "-", input="a,b,c,d,e,f,g,h,i,j,k,l\n" + ",".join(["0.5"] * 12) + "\n").stdout.split()) == 1
    r = run("eval", MODEL, "--data", tmp_path, ok=False)
    assert r.returncode == 1 and "is a directory" in r.stderr


def test_inspect_says_not_a_regular_file(tmp_path):
    for path in (tmp_path, "/dev/null"):
        r = run("inspect", path, ok=False)
        assert r.returncode == 1 and "not a regular file" in r.stderr and "0 bytes" not in r.stderr, r.stderr


def test_fortran_order_npz_reads_like_c_order(tmp_path):
    npz, seqs, lab = vowel_npz(tmp_path)
    f = tmp_path / "fortran.npz"
    np.savez(f, inputs=np.asfortranarray(np.concatenate(seqs)), lengths=np.array([len(s) for s in seqs]), targets=lab)
    with np.load(f) as z:
        assert z["inputs"].flags.f_contiguous and not z["inputs"].flags.c_contiguous
    nine = tmp_path / "nine.recur"
    run("finetune", MODEL, "--data", npz, "--out", nine, "--new-head", 9, "--epochs", 3)
    assert run("eval", nine, "--data", f).stdout == run("eval", nine, "--data", npz).stdout


def test_loss_inferred_from_targets_and_hint_for_class_ids(tmp_path):
    npz, _, _ = vowel_npz(tmp_path)
    out = tmp_path / "nine.recur"
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--new-head", 9, "--epochs", 3)
    assert "loss cross_entropy (inferred" in r.stderr and "acc" in r.stderr
    e = run("eval", out, "--data", npz).stdout
    assert "accuracy" in e and "[loss cross_entropy, inferred]" in e
    assert e.split(" [")[0] == run("eval", out, "--data", npz, "--loss", "cross_entropy").stdout.strip()
    r = run("finetune", MODEL, "--data", npz, "--out", out, "--new-head", 9, "--loss", "mse", ok=False)
    assert r.returncode == 1 and "class ids (0-based" in r.stderr and "--loss cross_entropy" in r.stderr
    r = run("eval", out, "--data", npz, "--loss", "mse", ok=False)
    assert r.returncode == 1 and "--loss cross_entropy" in r.stderr


def test_finetune_checks_out_before_training(tmp_path):
    npz, _, _ = vowel_npz(tmp_path)
    for bad, msg in [(tmp_path / "missing" / "x.recur", "does not exist"), (tmp_path, "not a regular file")]:
        t0 = time.monotonic()
        r = run("finetune", MODEL, "--data", npz, "--out", bad, "--new-head", 9, "--epochs", 500, ok=False)
        assert r.returncode == 1 and msg in r.stderr and "epoch" not in r.stderr, r.stderr
        assert time.monotonic() - t0 < 5


def test_inspect_adapters_and_the_format_hint(tmp_path):
    m = recur.Model.load(MODEL)
    adapter = tmp_path / "h.adapter"
    m.save_adapter(adapter)
    r = run("inspect", adapter)
    assert "head adapter" in r.stdout and f"fingerprint {m.fingerprint[0]:016x}" in r.stdout
    assert "5 outputs, transform softmax" in r.stdout and "speaker 5" in r.stdout
    j = json.loads(run("inspect", "--json", adapter).stdout)
    assert j["kind"] == "adapter" and j["base_body_fingerprint"] == f"{m.fingerprint[0]:016x}"
    assert j["base_layers"] == [{"kind": "elman", "size": 64, "activation": "tanh"}] and j["output_size"] == 5
    assert json.loads(run("inspect", "--json", MODEL).stdout)["kind"] == "model"
    # An adapter where a model is expected says what it is and where the format is described.
    r = run("run", adapter, "-", input="0,0,0,0,0,0,0,0,0,0,0,0\n", ok=False)
    assert r.returncode == 1 and "head adapter" in r.stderr and "FORMAT.md" in r.stderr


@pytest.mark.parametrize("args", [
    ("convert", MODEL, "o.recur", "--dtype", "f64"), ("convert", MODEL, "o.recur", "--level", 10),
    ("convert", MODEL, "o.recur", "--set-meta", "=v"), ("bench", MODEL, "--steps", 0),
    ("bench", MODEL, "--batch", 0), ("finetune", MODEL, "--data", "d.npz", "--out", "o", "--scope", "x"),
    ("finetune", MODEL, "--data", "d.npz", "--out", "o", "--validation-split", 2),
    ("finetune", MODEL, "--data", "d.npz", "--out", "o", "--lr", -1),
    ("finetune", MODEL, "--data", "d.npz", "--out", "o", "--optimizer", "lbfgs"),
    ("eval", MODEL, "--data", "d.npz", "--loss", "hinge"),
])
def test_bad_option_values_exit_64(args, tmp_path):
    r = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 64, (args, r.returncode, r.stderr)
    assert r.stderr.strip() and not (tmp_path / "o.recur").exists()


def test_bench_shows_progress_on_a_terminal():
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.execv(str(CLI), [str(CLI), "bench", str(MODEL), "--steps", "2000", "--repeats", "3"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode()
    assert "warm-up" in text and "repeat 3/3" in text and "us per step" in text
    assert "kernels" in text
    plain = run("bench", MODEL, "--steps", 200, "--repeats", 2)
    assert "repeat" not in plain.stderr and plain.stdout.count("\n") == 1


def test_set_meta(tmp_path):
    out = tmp_path / "m.recur"
    run("convert", MODEL, out, "--dtype", "f32", "--set-meta", "owner=team a", "--set-meta", "dataset=mine",
        "--set-meta", "empty=")
    m = recur.Model.load(out)
    md = m.metadata
    assert md["owner"] == "team a" and md["dataset"] == "mine" and md["empty"] == ""
    assert list(md)[:2] == list(recur.Model.load(MODEL).metadata)[:2]  # existing keys keep their place
    assert np.array_equal(m.parameters(), recur.Model.load(MODEL).parameters())
    r = run("convert", MODEL, out, "--set-meta", "bad key=1", ok=False)
    assert r.returncode == 1 and "RECUR_E_BAD_METADATA" in r.stderr
    npz, _, _ = vowel_npz(tmp_path)
    tuned = tmp_path / "t.recur"
    run("finetune", MODEL, "--data", npz, "--out", tuned, "--new-head", 9, "--epochs", 2, "--set-meta", "user=42")
    assert recur.Model.load(tuned).metadata["user"] == "42"


def test_help_formats_prints_the_layouts():
    for args in (("help", "formats"), ("formats",)):
        text = run(*args).stdout
        assert "inputs (or values)" in text and "lengths" in text and "0-based" in text
        assert "Fortran-order" in text and "sequence_id" in text
    assert "recur help formats" in run("--help").stdout


def test_create_from_scratch(tmp_path):
    """recur create writes the model recur.Model.new builds (same seed, same bytes), inspect
    shows it, and bad values exit 64 without writing anything."""
    out = tmp_path / "m.recur"
    r = run("create", out, "--input", 12, "--layers", "16,8", "--cell", "gru,lstm", "--proj", 3, "--outputs", 4,
            "--transform", "softmax", "--labels", "a,b,c,d", "--seed", 5)
    assert "12 -> [16 gru, 8 lstm(proj 3)] -> 4 softmax" in r.stdout and "seed 5" in r.stdout
    m = recur.Model.load(out)
    want = recur.Model.new(12, [(16, "gru"), (8, "lstm", 3)], 4, seed=5, output_transform="softmax", labels=list("abcd"))
    assert np.array_equal(m.parameters().view(np.uint32), want.parameters().view(np.uint32))
    assert m.labels == list("abcd")
    assert "8 lstm, projected to 3" in run("inspect", out).stdout
    run("create", tmp_path / "e.recur", "--input", 3, "--layers", 4, "--outputs", 2, "--activation", "relu", "--dtype", "i8")
    assert recur.Model.load(tmp_path / "e.recur").layers == [(4, "relu")]
    for bad in (["--cell", "gru,lstm,gru"], ["--cell", "peephole"], ["--proj", 16, "--cell", "lstm"], ["--labels", "a,b"],
                ["--layers", "16,x"], ["--transform", "max"], ["--proj", 2]):
        args = {"--layers": "16,8", "--cell": "gru"}
        k = 0
        while k < len(bad):
            args[bad[k]] = bad[k + 1]
            k += 2
        flat = [v for kv in args.items() for v in kv]
        r = run("create", tmp_path / "bad.recur", "--input", 3, "--outputs", 4, *flat, ok=False)
        assert r.returncode == 64, (bad, r.stdout, r.stderr)
        assert not (tmp_path / "bad.recur").exists()
