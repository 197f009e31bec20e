"""Regenerates models/vowels-5speakers.recur bit for bit, trained by recur itself.

Recipe (the datasets note's best transfer recipe, with one head at a time):
  1. a FeedbackNet(12 -> 64 tanh -> 12) body, seeded PyTorch-style init;
  2. pretrain everything (scope all, full BPTT) on speakers 1-5's training utterances to
     predict the next frame (per-step MSE on x[t+1]) -- a self-supervised objective whose
     features transfer to unseen speakers;
  3. replace the head by a 5-way speaker head and fit it on the frozen body (scope head,
     cross-entropy on the last step);
  4. fold the per-channel input standardisation into the first layer, so the shipped model
     takes raw LPC coefficients.

    python3 models/train_vowels.py [OUT.recur]      (about ten seconds on one core)
"""

import os
import sys
from pathlib import Path

import numpy as np

# The portable kernels give the same bits on every CPU (the AVX2+FMA ones round differently),
# so the shipped model regenerates bit for bit anywhere.
os.environ["RECUR_KERNELS"] = "portable"

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
import recur  # noqa: E402
from recur.datasets import load_ts  # noqa: E402
from recur.format import Checkpoint  # noqa: E402

DATA = ROOT / "examples" / "data" / "japanese-vowels"
HIDDEN = 64
SEED = 20261129


def splitmix(seed):
    """SplitMix64 stream of floats in [0, 1) (stable across numpy versions)."""
    s = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        s = (s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        yield ((z ^ (z >> 31)) >> 40) / float(1 << 24)


def init_params(n_in, hidden, n_out, seed):
    """nn.RNN + nn.Linear init: U(-1/sqrt(H), 1/sqrt(H)) for the layer, 1/sqrt(H) for the head."""
    g = splitmix(seed)
    k = 1.0 / np.sqrt(hidden)
    n = hidden * n_in + hidden * hidden + hidden + n_out * hidden + n_out
    return np.array([(2 * next(g) - 1) * k for _ in range(n)], dtype=np.float32)


def main(out):
    seqs, labels = load_ts(DATA / "JapaneseVowels_TRAIN.ts")
    base = [(s, int(l)) for s, l in zip(seqs, labels) if int(l) <= 5]
    frames = np.concatenate([s for s, _ in base])
    mean = frames.mean(0, dtype=np.float64).astype(np.float32)
    std = frames.std(0, dtype=np.float64).astype(np.float32)
    norm = [((s - mean) / std).astype(np.float32) for s, _ in base]

    # 1-2. Body pretraining on next-frame prediction.
    body = recur.Model.create(12, [(HIDDEN, "tanh")], 12, init_params(12, HIDDEN, 12, SEED))
    tr = recur.Trainer(body, loss="mse", optimizer="adam", lr=0.005, epochs=100, batch_size=10, scope="all",
                       seed=SEED, clip_norm=5.0)
    inputs = [s[:-1] for s in norm]
    targets = [s[1:] for s in norm]
    log = []
    body = tr.fit(inputs, targets, callback=lambda p: log.append(p.loss))
    print(f"next-frame pretraining: MSE {log[0]:.4f} -> {log[-1]:.4f} over {len(log)} epochs")

    # 3. A 5-way speaker head on the frozen body.
    speakers = [f"speaker {k}" for k in range(1, 6)]
    clf = body.with_new_head(5, labels=speakers, output_transform="softmax", seed=SEED + 1)
    y = np.array([l - 1 for _, l in base])
    head = recur.Trainer(clf, loss="cross_entropy", optimizer="adam", lr=0.02, epochs=150, batch_size=30, seed=SEED)
    clf = head.fit(norm, y)
    acc = head.evaluate(norm, y, clf)["accuracy"]
    print(f"5-way head on the frozen body: training accuracy {acc:.3f}")

    # 4. Fold the standardisation into layer 0: W' = W / std, b' = b - W (mean / std).
    c = Checkpoint.from_model(clf)
    W = c.tensors["layers.0.w_in"]
    c.tensors["layers.0.bias"] = (c.tensors["layers.0.bias"] - W @ (mean / std)).astype(np.float32)
    c.tensors["layers.0.w_in"] = (W / std[None, :]).astype(np.float32)
    c.metadata = {
        "description": "FeedbackNet(12, 64, 5) speaker classifier for JapaneseVowels speakers 1-5; "
                       "body pretrained on next-frame prediction; inputs are raw LPC cepstra",
        "dataset": "JapaneseVowels (Kudo, Toyama & Shimbo 1999; UCI / UEA archive)",
        "created_by": "models/train_vowels.py (recur, deterministic)",
        "recipe": "scope all: next-frame MSE, Adam 0.005, 100 epochs, batch 10, clip 5; "
                  "scope head: cross-entropy, Adam 0.02, 150 epochs, batch 30",
    }
    c.save(out)
    raw_acc = recur.Model.load(out).evaluate([s for s, _ in base], y, loss="cross_entropy")["accuracy"]
    print(f"wrote {out}: raw-input training accuracy {raw_acc:.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "models" / "vowels-5speakers.recur"))
