"""Mutation fuzzing of the pure-Python reader with hypothesis, checked against the native
reader: for every mutated input both accept or both reject (with checksums verified and with
them skipped), the Python reader raises only RecurError, and accepted models run. Also: every
committed fuzzing regression fixture loads or fails cleanly."""

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recur
from recur import format as F
from recur.format import Checkpoint, tensor_specs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("RECUR_FUZZ_EXAMPLES", "3000"))


def seed_files():
    out = []
    for i, (I, layers, O, wd) in enumerate([(3, [(4, "tanh")], 2, "f32"), (2, [(3, "relu"), (2, "sigmoid")], 3, "f16")]):
        rng = np.random.default_rng(i)
        t = {n: rng.uniform(-0.5, 0.5, s).astype(np.float32) for n, s, _ in tensor_specs(I, layers, O)}
        out.append(Checkpoint(I, layers, O, t, weight_dtype=wd, labels=[f"l{k}" for k in range(O)],
                              metadata={"k": "v"}).to_bytes())
    return out


SEEDS = seed_files()


def fix_crcs(b: bytearray) -> bytes:
    if len(b) < 40:
        return bytes(b)
    hl = struct.unpack_from("<I", b, 16)[0]
    pl = struct.unpack_from("<Q", b, 24)[0]
    if hl <= len(b) - 40:
        struct.pack_into("<I", b, 20, zlib.crc32(b[40:40 + hl]))
        if pl <= len(b) - 40 - hl:
            struct.pack_into("<I", b, 32, zlib.crc32(b[40 + hl:40 + hl + pl]))
    struct.pack_into("<I", b, 36, zlib.crc32(b[:36]))
    return bytes(b)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("text"), st.integers(0, 10**6), st.sampled_from([b'"', b"{", b"}", b"[", b"]", b",", b":", b"-1",
                                                                       b"1e9", b"NaN", b"\\u00", b"\xff", b"x_"])),
)


def mutate(data: bytes, muts) -> bytes:
    b = bytearray(data)
    for kind, pos, arg in muts:
        if not b:
            break
        i = pos % len(b)
        if kind == "flip":
            b[i] ^= 1 << arg
        elif kind == "set":
            b[i] = arg
        elif kind in ("insert", "text"):
            b[i:i] = arg
        elif kind == "delete":
            del b[i:i + arg]
        else:
            del b[i:]
    return bytes(b)


def outcome_native(data, verify):
    try:
        m = recur.Model.from_bytes(data, verify_checksums=verify)
        m.session().step(np.full(m.input_size, 0.5, np.float32))
        return 0
    except recur.RecurError as e:
        return e.status


def outcome_python(data, verify):
    try:
        c = F.read_bytes(data, verify_checksums=verify)
        assert all(np.all(np.isfinite(t)) for t in c.tensors.values())
        return 0
    except recur.RecurError as e:
        return e.status


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(seed=st.sampled_from(range(len(SEEDS))), muts=st.lists(mutation, min_size=1, max_size=4),
       recompute=st.booleans())
def test_readers_agree_on_mutations(seed, muts, recompute):
    data = mutate(SEEDS[seed], muts)
    if recompute:
        data = fix_crcs(bytearray(data))
    for verify in (True, False):
        n, p = outcome_native(data, verify), outcome_python(data, verify)
        assert (n == 0) == (p == 0), (n, p)


def test_regression_fixtures_load_or_fail_cleanly():
    for f in sorted((ROOT / "fuzz" / "regressions").glob("*")):
        if f.name == "README.md":
            continue
        data = f.read_bytes()
        outcome_native(data, True)
        outcome_native(data, False)
        outcome_python(data, True)
