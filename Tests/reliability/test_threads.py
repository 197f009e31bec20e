"""Python threads through the bindings: 8 threads step their own sessions on one shared model
while another thread fine-tunes its head and another creates and frees models and sessions;
every stream equals a single-threaded run."""

import threading

import numpy as np

import recur
from recur.format import Checkpoint, tensor_specs

STEPS = 20000


def make(seed):
    rng = np.random.default_rng(seed)
    layers = [(16, "tanh"), (12, "relu")]
    t = {n: rng.uniform(-0.3, 0.3, s).astype(np.float32) for n, s, _ in tensor_specs(8, layers, 4)}
    return Checkpoint(8, layers, 4, t, output_transform="softmax")


def test_python_threads_share_a_model():
    ckpt = make(1)
    model = ckpt.to_model()
    xs = [np.random.default_rng(10 + k).standard_normal((1000, 8)).astype(np.float32) for k in range(8)]

    def stream(k):
        s = model.session()
        total, last = 0.0, None
        for i in range(STEPS // 1000):
            ys = s.run(xs[k])
            total += float(ys.astype(np.float64).sum())
            last = ys[-1].copy()
        # and step by step for the tail
        for x in xs[k][:200]:
            last = s.step(x)
        return total, last

    expected = [stream(k) for k in range(8)]
    results = [None] * 8
    errors = []
    stop = threading.Event()

    def worker(k):
        try:
            results[k] = stream(k)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def trainer():
        try:
            seqs = [np.random.default_rng(i).standard_normal((10, 8)).astype(np.float32) for i in range(20)]
            y = np.arange(20) % 4
            n = 0
            while not stop.is_set() or n < 2:
                recur.Trainer(model, loss="cross_entropy", epochs=3).fit(seqs, y)
                n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def churn():
        try:
            n = 0
            while not stop.is_set() or n < 50:
                m = make(n).to_model()
                m.session(batch=2).step(np.ones((2, 8), np.float32))
                model.session().step(np.ones(8, np.float32))
                m.close()
                n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    side = [threading.Thread(target=trainer), threading.Thread(target=churn)]
    for t in threads + side:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in side:
        t.join()
    assert errors == []
    mismatches = sum(1 for r, e in zip(results, expected) if r[0] != e[0] or not np.array_equal(r[1], e[1]))
    assert mismatches == 0
