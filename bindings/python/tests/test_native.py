"""Native outputs against the float64 numpy reference; run/step; state; batch; misuse."""

import gc
import threading

import numpy as np
import pytest

import recur
from recur.reference import ReferenceNet, forward
from conftest import SHAPES, random_checkpoint


def close(a, b, rel=1e-5, abs_=1e-6):
    return np.all(np.abs(np.asarray(a, np.float64) - b) <= rel * np.abs(b) + abs_)


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_matches_reference(shape):
    _, i, layers, o, t = shape
    c = random_checkpoint(i, layers, o, seed=3, scale=1.5, output_transform=t)
    with c.to_model() as m:
        s = m.session()
        xs = np.random.default_rng(1).uniform(-2, 2, (25, i)).astype(np.float32)
        ref = ReferenceNet(c)
        for x in xs:
            assert close(s.step(x), ref.step(x))
        assert close(s.hidden, np.concatenate(ref.h))


def test_run_equals_step_and_last_only():
    c = random_checkpoint(*SHAPES[1][1:4], seed=5)
    m = c.to_model()
    xs = np.random.default_rng(2).standard_normal((40, 7)).astype(np.float32)
    a, b, d = m.session(), m.session(), m.session()
    ys = a.run(xs)
    stepped = np.stack([b.step(x) for x in xs])
    assert ys.shape == (40, 4)
    assert np.array_equal(ys.view(np.uint32), stepped.view(np.uint32))
    last = d.run(xs, last_only=True)
    assert np.array_equal(last, ys[-1])
    assert close(ys, forward(c, xs))
    # out= reuses the buffer
    buf = np.empty((40, 4), np.float32)
    a.reset()
    r = a.run(xs, out=buf)
    assert r is buf and np.array_equal(buf, ys)
    y1 = np.empty(4, np.float32)
    assert b.step(xs[0], out=y1) is y1


def test_state_continuity_and_clone():
    c = random_checkpoint(*SHAPES[0][1:4], seed=7)
    s = c.to_model().session()
    xs = np.random.default_rng(3).standard_normal((30, 10)).astype(np.float32)
    s.run(xs[:10])
    snap = s.state
    first = s.run(xs[10:20])
    s.state = snap
    second = s.run(xs[10:20])
    assert np.array_equal(first, second)
    s.state = snap
    c2 = s.clone()
    assert np.array_equal(c2.run(xs[10:20]), first)
    # hidden get/set is the raw state; a non-zero initial state
    h = np.random.default_rng(4).uniform(-0.5, 0.5, 20).astype(np.float32)
    s.hidden = h
    assert np.array_equal(s.hidden, h)
    ref = ReferenceNet(c)
    ref.h = [h.astype(np.float64)]
    assert close(s.step(xs[0]), ref.step(xs[0]))


def test_state_bound_to_model():
    c1 = random_checkpoint(10, [(20, "tanh")], 5, seed=1)
    c2 = random_checkpoint(10, [(20, "tanh")], 5, seed=2)
    s1, s2 = c1.to_model().session(), c2.to_model().session()
    s1.step(np.ones(10))
    s2.step(np.ones(10))
    before = s2.hidden
    with pytest.raises(recur.StateMismatchError) as e:
        s2.state = s1.state
    assert e.value.status == -10
    assert np.array_equal(s2.hidden, before)
    with pytest.raises(recur.InvalidArgumentError):
        s1.state = s1.state[:-1]


@pytest.mark.parametrize("batch", [1, 3, 16])
def test_batch_equals_separate_sessions(batch):
    """Bit for bit below 4 streams; from 4 streams the AVX2 kernels use the packed GEMM order,
    equal to float rounding (and repeatable bit for bit, stream by stream)."""
    c = random_checkpoint(10, [(20, "tanh"), (11, "relu")], 5, seed=9, output_transform="softmax")
    m = c.to_model()
    b = m.session(batch=batch)
    b2 = m.session(batch=batch)
    singles = [m.session() for _ in range(batch)]
    xs = np.random.default_rng(5).standard_normal((12, batch, 10)).astype(np.float32)
    other = np.random.default_rng(6).standard_normal((12, batch, 10)).astype(np.float32)
    other[:, 0] = xs[:, 0]
    for t in range(12):
        if t == 6 and batch > 1:
            b.reset(1)
            b2.reset(1)
            singles[1].reset()
        y = b.step(xs[t])
        assert y.shape == (batch, 5)
        y2 = b2.step(other[t])
        assert np.array_equal(y[0].view(np.uint32), y2[0].view(np.uint32))  # stream 0 sees only its own inputs
        for k in range(batch):
            ys = singles[k].step(xs[t, k])
            if batch < 4:
                assert np.array_equal(y[k].view(np.uint32), ys.view(np.uint32))
            else:
                assert np.max(np.abs(y[k] - ys)) <= 2e-6
    ys = m.session(batch=batch).run(xs)
    assert ys.shape == (12, batch, 5)
    assert close(ys, forward(c, xs))


def test_properties_and_save(tmp_path, small):
    c, m = small
    assert (m.input_size, m.output_size, m.layers) == (3, 2, [(4, "tanh")])
    assert m.labels == ["a", "b"] and m.metadata == {"k": "v"}
    assert m.num_parameters == 12 + 16 + 4 + 8 + 2 and m.state_size == 4
    assert m.output_transform == "none" and m.weight_dtype == "f32"
    p = tmp_path / "m.recur"
    m.save(p)
    m2 = recur.Model.load(p)
    assert np.array_equal(m2.parameters(), m.parameters())
    assert recur.Model.from_bytes(m.to_bytes()).labels == ["a", "b"]
    m16 = recur.Model.from_bytes(m.to_bytes(weight_dtype="f16"))
    assert m16.weight_dtype == "f16"
    assert "recur.Model 3 -> [4 tanh] -> 2" in repr(m)


def test_misuse_raises_never_crashes(small, tmp_path):
    c, m = small
    s = m.session()
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        s.step(np.ones(4))
    with pytest.raises(ValueError):
        s.step(np.ones((1, 3)))
    with pytest.raises(ValueError):
        s.run(np.ones((5, 4)))
    with pytest.raises(recur.NonFiniteError) as e:
        s.step([0.0, float("nan"), 1.0])
    assert e.value.status == -6 and "state unchanged" in str(e.value)
    with pytest.raises(recur.NonFiniteError):
        s.run(np.array([[0, 0, 0], [0, np.inf, 0]]))
    with pytest.raises(ValueError):
        s.step(np.ones(3), out=np.empty(2, np.float64))
    with pytest.raises(ValueError):
        s.step(np.ones(3), out=np.empty(3, np.float32))
    # any array-like, any dtype converts
    assert s.step([1, 2, 3]).shape == (2,)
    assert s.step(np.ones(3, np.float64)).dtype == np.float32
    # closed handles
    s2 = m.session()
    s2.close()
    s2.close()
    with pytest.raises(ValueError, match="closed"):
        s2.step(np.ones(3))
    with pytest.raises(ValueError, match="closed"):
        _ = s2.state
    m2 = c.to_model()
    m2.close()
    with pytest.raises(ValueError, match="closed"):
        m2.session()
    with pytest.raises(ValueError, match="closed"):
        _ = m2.input_size
    # wrong handle kinds cannot even be passed
    lib = recur.load_library()
    from ctypes import byref, c_size_t
    with pytest.raises(Exception):
        lib.recur_model_input_size(s.handle, byref(c_size_t()))
    # bad files
    with pytest.raises(recur.RecurIOError) as e:
        recur.Model.load(tmp_path / "missing.recur")
    assert e.value.status == -20 and "missing.recur" in str(e.value)
    with pytest.raises(recur.RecurIOError):
        recur.Model.load(tmp_path)
    with pytest.raises(recur.CheckpointError):
        recur.Model.from_bytes(b"not a model at all, definitely not" * 3)
    with pytest.raises(TypeError):
        recur.Model.load(tmp_path / "x", max_bananas=3)
    with pytest.raises(recur.RecurIOError):
        m.save(tmp_path)  # a directory
    with pytest.raises(ValueError):
        m.session(batch=0)
    with pytest.raises(recur.InvalidArgumentError):
        m.session(batch=2).reset(5)


def test_session_keeps_model_alive(small):
    c, _ = small
    m = c.to_model()
    s = m.session()
    m.close()
    del m
    gc.collect()
    assert s.step(np.ones(3)).shape == (2,)


def test_threads_share_a_model():
    c = random_checkpoint(16, [(32, "tanh")], 4, seed=11)
    m = c.to_model()
    xs = np.random.default_rng(6).standard_normal((500, 16)).astype(np.float32)
    expected = m.session().run(xs)
    results = [None] * 4

    def work(k):
        s = m.session()
        results[k] = np.stack([s.step(x) for x in xs])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert np.array_equal(r, expected)


def test_errors_carry_status_and_message():
    with pytest.raises(recur.CheckpointError) as e:
        recur.Model.from_bytes(b"\x89RECUR\r\n" + b"\0" * 40)
    assert e.value.status in (-44,)
    assert "preamble" in e.value.message
    assert isinstance(e.value, recur.RecurError)


def test_step_input_paths_agree():
    """Staged copies, reused buffers filled in place, large inputs and converted lists all
    give the same results as the reference."""
    for I in (7, 5000):  # below and above the staging threshold
        c = random_checkpoint(I, [(8, "tanh")], 3, seed=I)
        m = c.to_model()
        xs = np.random.default_rng(I).standard_normal((6, I)).astype(np.float32)
        expected = forward(c, xs)
        a, b, d = m.session(), m.session(), m.session()
        buf = np.empty(I, np.float32)
        out = np.empty(3, np.float32)
        for t in range(6):
            assert close(a.step(xs[t]), expected[t])
            buf[...] = xs[t]  # the same array, refilled in place
            assert close(b.step(buf, out=out), expected[t])
            assert close(d.step(xs[t].tolist()), expected[t])


def test_session_threads_are_bit_identical():
    c = random_checkpoint(24, [(300, "tanh"), (200, "relu")], 6, seed=5)
    m = c.to_model()
    a, b = m.session(), m.session()
    assert b.threads == 1
    b.threads = 2
    assert b.threads == 2
    xs = np.random.default_rng(0).standard_normal((40, 24)).astype(np.float32)
    for x in xs:
        assert np.array_equal(a.step(x).view(np.uint32), b.step(x).view(np.uint32))
    with pytest.raises(ValueError):
        b.threads = 0
    with pytest.raises(ValueError):
        b.threads = 17
    with pytest.raises(TypeError):
        b.threads = 2.0
    assert b.threads == 2
    b.threads = 1
    assert b.threads == 1
    b.close()


def test_kernels_name_follows_the_environment():
    import subprocess
    import sys

    from conftest import ROOT

    assert recur.kernels() in ("avx2+fma", "portable")
    env = {"PYTHONPATH": str(ROOT / "bindings" / "python" / "src"), "RECUR_KERNELS": "portable", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", "import recur; print(recur.kernels())"], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "portable", r.stderr
