"""recur.Sampler over recur_sampler_*: greedy, the tempered distribution, filters, the
repetition penalty, determinism and errors."""

import numpy as np
import pytest

import recur

LOGITS = np.array([1.0, 3.0, 0.5, 3.0, -2.0, 2.0, 0.0, 1.5], np.float32)


def test_greedy_and_determinism():
    assert [recur.Sampler(temperature=0).sample(LOGITS) for _ in range(3)] == [1, 1, 1]
    a, b = recur.Sampler(temperature=1.2, top_k=5, seed=4), recur.Sampler(temperature=1.2, top_k=5, seed=4)
    ta = [a.sample(LOGITS) for _ in range(300)]
    assert ta == [b.sample(LOGITS) for _ in range(300)]
    a.reset()
    assert ta == [a.sample(LOGITS) for _ in range(300)]
    assert set(ta) <= {1, 3, 5, 7, 0} and len(set(ta)) == 5


def test_frequencies_follow_the_softmax():
    s = recur.Sampler(temperature=1.0, seed=2)
    n = 30000
    counts = np.bincount([s.sample(LOGITS) for _ in range(n)], minlength=8) / n
    p = np.exp(LOGITS.astype(np.float64))
    p /= p.sum()
    assert np.all(np.abs(counts - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-4), (counts, p)


def test_filters_and_penalty():
    assert {recur.Sampler(top_p=0.6, seed=k).sample(LOGITS) for k in range(200)} == {1, 3}
    assert {recur.Sampler(min_p=0.3, seed=k).sample(LOGITS) for k in range(200)} == {1, 3, 5}
    s = recur.Sampler(temperature=0, repetition_penalty=2.0, repetition_last_n=2)
    assert [s.sample(LOGITS) for _ in range(4)] == [1, 3, 5, 1]
    s.accept(1)
    s.accept(3)
    assert s.sample(LOGITS) == 5


def test_bad_input_raises_and_changes_nothing():
    for kw in ({"temperature": -1}, {"top_p": 0}, {"top_p": 2}, {"min_p": 1}, {"repetition_penalty": 0}):
        with pytest.raises(recur.InvalidArgumentError):
            recur.Sampler(**kw)
    for kw in ({"top_k": -1}, {"seed": -1}, {"repetition_last_n": 10**6}):
        with pytest.raises(ValueError):
            recur.Sampler(**kw)
    s, r = recur.Sampler(seed=8), recur.Sampler(seed=8)
    with pytest.raises(recur.NonFiniteError):
        s.sample([1.0, float("nan")])
    with pytest.raises(recur.InvalidArgumentError):
        s.sample([])
    with pytest.raises(recur.InvalidArgumentError):
        s.accept(-2)
    assert s.sample(LOGITS) == r.sample(LOGITS)
    s.close()
    with pytest.raises(ValueError):
        s.sample(LOGITS)
