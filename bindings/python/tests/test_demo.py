"""The demo and the shipped model: the model regenerates bit for bit from its committed
script, and the enrollment demo (Python and C print the same numbers) lifts new-speaker
accuracy from 0 to the level stated in the README."""

import re
import subprocess
import sys

from conftest import ROOT


def test_shipped_model_regenerates_bit_for_bit(tmp_path):
    out = tmp_path / "v.recur"
    r = subprocess.run([sys.executable, str(ROOT / "models" / "train_vowels.py"), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (ROOT / "models" / "vowels-5speakers.recur").read_bytes()


def table(text):
    rows = re.findall(r"after, (pretrained body|random body \+ same head)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    before = re.search(r"speakers 1-5: ([\d.]+)\s+all 9: ([\d.]+)\s+speakers 6-9: ([\d.]+)", text)
    return {name: tuple(map(float, v)) for name, *v in rows}, tuple(map(float, before.groups()))


def test_demo_enrolls_new_speakers():
    r = subprocess.run([sys.executable, str(ROOT / "bindings" / "python" / "examples" / "vowels.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    rows, before = table(r.stdout)
    assert before[2] == 0.0  # speakers 6-9 unknown before enrollment
    all9, new, old = rows["pretrained body"]
    assert new >= 0.70 and all9 >= 0.85 and old >= 0.90  # the levels stated in the README
    assert "identical outputs on all 370 test utterances: yes" in r.stdout
    # The C demo computes the same story with the same numbers.
    c = ROOT / ".build" / "recur-c" / "vowels-test"
    c.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cc", "-std=c99", "-O2", f"-I{ROOT / 'include'}", str(ROOT / "examples" / "c" / "vowels.c"),
                    f"-L{ROOT / '.build' / 'release'}", "-lrecur", f"-Wl,-rpath,{ROOT / '.build' / 'release'}", "-lm",
                    "-o", str(c)], check=True)
    rc = subprocess.run([str(c), "--check", "--out", str(c) + ".recur"], capture_output=True, text=True, cwd=str(ROOT))
    assert rc.returncode == 0, rc.stdout + rc.stderr
    assert table(rc.stdout) == (rows, before)


def test_int8_demo_model_keeps_its_accuracy():
    """The shipped model quantised to int8 (recur convert --dtype i8 does the same) classifies
    the test utterances of speakers 1-5 within one utterance of the float32 model, and the
    personalised (enrolled) model keeps its accuracy too."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "bindings" / "python" / "examples"))
    import recur
    from recur.datasets import load_ts
    from vowels import accuracy, enroll

    data = ROOT / "examples" / "data" / "japanese-vowels"
    te, te_lab = load_ts(data / "JapaneseVowels_TEST.ts")
    tr, tr_lab = load_ts(data / "JapaneseVowels_TRAIN.ts")
    te_spk = np.array([int(x) for x in te_lab])
    tr_spk = np.array([int(x) for x in tr_lab])
    f32 = recur.Model.load(ROOT / "models" / "vowels-5speakers.recur")
    i8 = recur.Model.from_bytes(f32.to_bytes(weight_dtype="i8"))
    assert i8.weight_dtype == "i8"
    n5 = int(np.sum((te_spk >= 1) & (te_spk <= 5)))
    a32, a8 = accuracy(f32, te, te_spk, 1, 5), accuracy(i8, te, te_spk, 1, 5)
    print(f"speakers 1-5: f32 {a32:.4f}  i8 {a8:.4f}  ({n5} utterances)")
    assert abs(round((a32 - a8) * n5)) <= 1
    # Output error of int8 against float32 over every frame of the test split, relative to the
    # frame's largest output (softmax probabilities): the figures quoted in bench/README.md.
    s32, s8, errs = f32.session(), i8.session(), []
    for x in te:
        s32.reset()
        s8.reset()
        y32, y8 = s32.run(x), s8.run(x)
        errs.append((np.abs(y8 - y32) / np.abs(y32).max(axis=1, keepdims=True)).reshape(-1))
    e = np.concatenate(errs)
    print(f"int8 vs f32 on the demo model: max {e.max():.3e}, mean {e.mean():.3e} of the largest output")
    assert e.mean() < 1e-2
    p32, _ = enroll(f32, tr, tr_spk, 5, "f32")
    p8, _ = enroll(i8, tr, tr_spk, 5, "i8")
    assert p8.weight_dtype == "i8"
    b32, b8 = accuracy(p32, te, te_spk, 1, 9), accuracy(p8, te, te_spk, 1, 9)
    print(f"enrolled, all 9: f32 {b32:.4f}  i8 {b8:.4f}")
    assert abs(round((b32 - b8) * len(te))) <= 2
