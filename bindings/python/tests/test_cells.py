"""GRU and LSTM layers from Python: parity with the float64 numpy reference (recur.reference,
written from PyTorch's documented equations), the pure-Python format (byte-identical writers,
the same statuses in both readers for every hostile file), an old reader refusing the new
kinds, training, and conversions from PyTorch and ONNX (checked against real torch modules,
onnx.reference and a torch -> ONNX -> recur round trip when those packages are installed)."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

import recur
from recur import convert
from recur import format as F
from recur.format import Checkpoint, tensor_specs
from recur.reference import ReferenceNet, forward
from recur._errors import STATUS
from conftest import ROOT

try:
    import torch
except ImportError:  # CI and `make test` do not need torch
    torch = None
try:
    import onnx
    from onnx import helper as oh, numpy_helper, TensorProto
except ImportError:
    onnx = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install torch): skipped")
needs_onnx = pytest.mark.skipif(onnx is None, reason="onnx is not installed (pip install onnx): skipped")


def random_ckpt(input_size, layers, output_size, seed=0, scale=1.0, **kw) -> Checkpoint:
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape, _ in tensor_specs(input_size, layers, output_size):
        fan = shape[1] if len(shape) == 2 else shape[0]
        k = scale / np.sqrt(fan)
        tensors[name] = rng.uniform(-k, k, size=shape).astype(np.float32)
    return Checkpoint(input_size, list(layers), output_size, tensors, **kw)


STACKS = [
    ("gru", 16, [(64, "gru")], 10),
    ("gru reset before", 7, [(13, "gru_reset_before")], 3),
    ("lstm", 16, [(64, "lstm")], 10),
    ("lstm proj", 5, [(20, "lstm", 6)], 4),
    ("mixed", 9, [(11, "relu"), (17, "gru"), (24, "lstm", 10), (8, "lstm"), (12, "gru_reset_before")], 6),
]


def worst_rel(y, r):
    """Largest |y - r| relative to each step's largest |r| (the scale the outputs live on)."""
    y, r = np.asarray(y, np.float64), np.asarray(r, np.float64)
    scale = np.maximum(np.abs(r).max(axis=-1, keepdims=True), 1e-6)
    return float((np.abs(y - r) / scale).max())


@pytest.mark.parametrize("name,I,layers,O", STACKS, ids=[s[0] for s in STACKS])
def test_parity_with_the_numpy_reference(name, I, layers, O):
    c = random_ckpt(I, layers, O, seed=3, scale=1.5, output_transform="softmax")
    m = c.to_model()
    assert m.layers == [F.normalize_layer(l) for l in layers]
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((200, I)).astype(np.float32)
    # from a nonzero initial state (h and c), run == repeated step
    h0 = rng.uniform(-0.8, 0.8, m.state_size).astype(np.float32)
    ref = ReferenceNet(c)
    ref.state = h0
    s = m.session()
    s.hidden = h0
    ys = s.run(xs)
    r = ref.run(xs)
    assert worst_rel(ys, r) < 1e-5, (name, worst_rel(ys, r))
    assert np.allclose(s.hidden, ref.state, rtol=1e-5, atol=2e-6)
    s2 = m.session()
    s2.hidden = h0
    stepped = np.stack([s2.step(x) for x in xs])
    assert np.array_equal(stepped, ys)


def test_long_stream_and_batches():
    c = random_ckpt(9, STACKS[4][2], 6, seed=7)
    m = c.to_model()
    rng = np.random.default_rng(8)
    xs = rng.standard_normal((10_000, 9)).astype(np.float32)
    assert worst_rel(m.session().run(xs), forward(c, xs)) < 1e-5
    # a batch equals separate sessions (to float rounding from 4 streams)
    xb = rng.standard_normal((20, 5, 9)).astype(np.float32)
    yb = m.session(batch=5).run(xb)
    for k in range(5):
        assert np.allclose(yb[:, k], m.session().run(xb[:, k]), rtol=1e-5, atol=1e-6)
    assert worst_rel(yb, forward(c, xb)) < 1e-5


INT8_STACKS = [(5, [(6, "gru")], 4), (8, [(6, "lstm")], 4), (5, [(6, "gru"), (5, "lstm", 3)], 4),
               (7, [(13, "gru_reset_before"), (9, "tanh")], 3), (16, [(64, "gru")], 10)]


def test_int8_gated_models_match_their_weights_on_every_kernel(tmp_path):
    """int8 gate matrices (input widths that leave an 8-column tail in the AVX2 kernel's 16-column
    blocks, split == cols products): outputs within the int16-activation error of the double
    reference on the dequantised weights, from the AVX2 kernels and from the portable ones (their
    integer sums agree; the float cell arithmetic may differ in the last bits)."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, numpy as np\nsys.path.insert(0, %r)\nimport recur\n"
        "for i in range(%d):\n"
        "    m = recur.Model.load(sys.argv[1] + '/m%%d.recur' %% i)\n"
        "    xs = np.load(sys.argv[1] + '/x%%d.npy' %% i)\n"
        "    np.save(sys.argv[1] + '/y%%d_%%s.npy' %% (i, sys.argv[2]), m.session().run(xs))\n"
        "print(recur.kernels())\n" % (str(ROOT / "bindings" / "python" / "src"), len(INT8_STACKS)))
    refs = []
    for i, (I, layers, O) in enumerate(INT8_STACKS):
        c = random_ckpt(I, layers, O, seed=11 + i, scale=1.5)
        c.weight_dtype = "i8"
        m = recur.Model.from_bytes(c.to_bytes())
        m.save(str(tmp_path / f"m{i}.recur"))
        xs = np.random.default_rng(i).standard_normal((60, I)).astype(np.float32)
        np.save(tmp_path / f"x{i}.npy", xs)
        refs.append(forward(F.read_bytes(m.to_bytes()), xs))
    import os
    names = []
    for kern in ("default", "portable"):
        env = dict(os.environ)
        env.pop("RECUR_KERNELS", None)
        if kern == "portable":
            env["RECUR_KERNELS"] = "portable"
        r = subprocess.run([sys.executable, str(script), str(tmp_path), kern], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        names.append(r.stdout.strip())
    for i, ref in enumerate(refs):
        a, b = np.load(tmp_path / f"y{i}_default.npy"), np.load(tmp_path / f"y{i}_portable.npy")
        for got, name in ((a, names[0]), (b, names[1])):
            assert worst_rel(got, ref) < 1e-3, (INT8_STACKS[i], name, worst_rel(got, ref))


@pytest.mark.parametrize("wd", ["f32", "f16", "i8"])
def test_writers_byte_identical_and_readers_agree(wd, tmp_path):
    c = random_ckpt(5, [(6, "relu"), (7, "gru"), (9, "lstm", 4), (5, "gru_reset_before")], 3, seed=5,
                    labels=["a", "b", "c"], metadata={"k": "v"}, weight_dtype="i8" if wd == "i8" else "f32")
    if wd == "i8":
        c = Checkpoint(c.input_size, c.layers, c.output_size, {k: (F.quantise_rows(v)[2] if v.ndim == 2 else v)
                                                                 for k, v in c.tensors.items()},
                       labels=c.labels, metadata=c.metadata, weight_dtype="i8")
    py = c.to_bytes(weight_dtype=wd)
    native = c.to_model().to_bytes(weight_dtype=wd) if wd != "i8" else c.to_model().to_bytes()
    assert py == native
    assert py[10] == 1  # version 1.1
    back = F.read_bytes(native)
    assert back.layers == c.layers
    m = recur.Model.from_bytes(py)
    assert m.layers == c.layers


def test_repr_names_every_kind():
    m = random_ckpt(3, [(8, "lstm", 2), (4, "gru"), (5, "gru_reset_before"), (6, "relu")], 2).to_model()
    assert repr(m) == "<recur.Model 3 -> [8 lstm(proj 2), 4 gru, 5 gru_reset_before, 6 relu] -> 2 none>"


def test_native_layers_and_params_round_trip():
    c = random_ckpt(3, [(8, "lstm", 5), (4, "gru")], 2, seed=1)
    m = c.to_model()
    assert m.layers == [(8, "lstm", 5), (4, "gru")]
    assert m.state_size == 5 + 8 + 4
    assert np.array_equal(m.parameters(), c.parameters())
    assert Checkpoint.from_model(m).to_bytes() == c.to_bytes()
    with pytest.raises(recur.ConfigError):
        recur.Model.create(3, [(8, "lstm", 8)], 2, np.zeros(10))


# -- hostile files for every new field, the same status from both readers ------------------


def gated_bytes(layers=((4, "gru"),), wd="f32"):
    return random_ckpt(3, list(layers), 2, seed=2, weight_dtype=wd).to_bytes()


class Forge:
    """Header and raw payload of a file, re-assembled with valid CRCs (tensor table rebuilt)."""

    def __init__(self, data):
        import json
        import struct
        import zlib

        hl = struct.unpack_from("<I", data, 16)[0]
        self.header = json.loads(data[40:40 + hl])
        self.raw = zlib.decompress(data[40 + hl:])
        self.minor = struct.unpack_from("<H", data, 10)[0]

    def tensor(self, name):
        for t in self.header["tensors"]:
            if t["name"] == name:
                return t
        raise KeyError(name)

    def drop(self, name):
        t = self.tensor(name)
        self.raw = self.raw[:t["offset"]] + self.raw[t["offset"] + t["nbytes"]:]
        self.header["tensors"].remove(t)
        self._offsets()

    def reshape(self, name, shape, itemsize=4):
        """Give tensor `name` another shape, with bytes to match (zeros appended or cut)."""
        t = self.tensor(name)
        n = int(np.prod(shape)) * itemsize
        body = self.raw[t["offset"]:t["offset"] + t["nbytes"]]
        body = (body + bytes(n))[:n]
        self.raw = self.raw[:t["offset"]] + body + self.raw[t["offset"] + t["nbytes"]:]
        t["shape"], t["nbytes"] = list(shape), n
        self._offsets()

    def _offsets(self):
        off = 0
        for t in self.header["tensors"]:
            t["offset"] = off
            off += t["nbytes"]
        self.header["payload"]["uncompressed_len"] = off

    def bytes(self):
        import struct
        import zlib

        hb = F._json_dump(self.header).encode()
        payload = zlib.compress(self.raw, 6)
        pre = F.MAGIC + struct.pack("<HHIIIQI", 1, self.minor, 0, len(hb), zlib.crc32(hb), len(payload), zlib.crc32(payload))
        return pre + struct.pack("<I", zlib.crc32(pre)) + hb + payload


def edit(layers, wd, fn):
    def make():
        f = Forge(gated_bytes(layers, wd))
        fn(f)
        return f.bytes()
    return make


GRU = ((4, "gru"),)
LSTMP = ((4, "lstm", 2),)


def layer0(f):
    return f.header["model"]["layers"][0]


HOSTILE = [
    ("unknown kind", "BAD_CONFIG", edit(GRU, "f32", lambda f: layer0(f).update(kind="gru2"))),
    ("kind elman spelled out", "BAD_CONFIG", edit(GRU, "f32", lambda f: layer0(f).update(kind="elman"))),
    ("kind not a string", "SCHEMA", edit(GRU, "f32", lambda f: layer0(f).update(kind=3))),
    ("activation on a gru", "SCHEMA", edit(GRU, "f32", lambda f: layer0(f).update(activation="tanh"))),
    ("proj_size on a gru", "SCHEMA", edit(GRU, "f32", lambda f: layer0(f).update(proj_size=2))),
    ("gru without size", "SCHEMA", edit(GRU, "f32", lambda f: layer0(f).pop("size"))),
    ("requires lacks gru", "SCHEMA", edit(GRU, "f32", lambda f: f.header.update(requires=[]))),
    ("requires gru twice", "SCHEMA", edit(GRU, "f32", lambda f: f.header.update(requires=["gru", "gru"]))),
    ("requires lstm unused", "SCHEMA", edit(GRU, "f32", lambda f: f.header.update(requires=["gru", "lstm"]))),
    ("requires a future cell", "UNSUPPORTED_FEATURE", edit(GRU, "f32", lambda f: f.header.update(requires=["gru", "peephole"]))),
    ("gate-stacked w_in of one gate", "SHAPE_MISMATCH", edit(GRU, "f32", lambda f: f.reshape("layers.0.w_in", (4, 3)))),
    ("gate-stacked w_rec transposed", "SHAPE_MISMATCH", edit(GRU, "f32", lambda f: f.reshape("layers.0.w_rec", (4, 12)))),
    ("bias_in of one gate", "SHAPE_MISMATCH", edit(GRU, "f32", lambda f: f.reshape("layers.0.bias_in", (4,)))),
    ("missing bias_rec", "MISSING_TENSOR", edit(GRU, "f32", lambda f: f.drop("layers.0.bias_rec"))),
    ("missing w_rec", "MISSING_TENSOR", edit(LSTMP, "f32", lambda f: f.drop("layers.0.w_rec"))),
    ("elman bias on a gru", "UNEXPECTED_TENSOR", edit(GRU, "f32", lambda f: f.tensor("layers.0.bias_rec").update(name="layers.0.bias"))),
    ("missing w_proj", "MISSING_TENSOR", edit(LSTMP, "f32", lambda f: f.drop("layers.0.w_proj"))),
    ("w_proj without proj_size", "SHAPE_MISMATCH", edit(LSTMP, "f32", lambda f: layer0(f).pop("proj_size"))),
    ("projection as large as the layer", "BAD_CONFIG", edit(LSTMP, "f32", lambda f: layer0(f).update(proj_size=4))),
    ("projection larger than the layer", "BAD_CONFIG", edit(LSTMP, "f32", lambda f: layer0(f).update(proj_size=9))),
    ("projection 0", "BAD_CONFIG", edit(LSTMP, "f32", lambda f: layer0(f).update(proj_size=0))),
    ("projection not an integer", "SCHEMA", edit(LSTMP, "f32", lambda f: layer0(f).update(proj_size="2"))),
    ("w_proj transposed", "SHAPE_MISMATCH", edit(LSTMP, "f32", lambda f: f.reshape("layers.0.w_proj", (4, 2)))),
    ("int8 w_in scales of one gate", "SHAPE_MISMATCH", edit(GRU, "i8", lambda f: f.reshape("layers.0.w_in.scale", (4,)))),
    ("int8 w_proj scales missing", "MISSING_TENSOR", edit(LSTMP, "i8", lambda f: f.drop("layers.0.w_proj.scale"))),
    ("int8 w_rec scales of the wrong length", "SHAPE_MISMATCH", edit(LSTMP, "i8", lambda f: f.reshape("layers.0.w_rec.scale", (17,)))),
    ("int8 gru row not canonical", "CORRUPT_PAYLOAD", edit(GRU, "i8", lambda f: setattr(f, "raw", _halve_row(f, "layers.0.w_rec", 5)))),
]


def _halve_row(f, name, row):
    """Halve the int8 codes of one row of `name` (its largest code is then under 127 while its
    scale is unchanged: a row not in canonical form)."""
    t = f.tensor(name)
    cols = t["shape"][1]
    q = np.frombuffer(f.raw[t["offset"]:t["offset"] + t["nbytes"]], np.int8).copy()
    q[row * cols:(row + 1) * cols] //= 2
    return f.raw[:t["offset"]] + q.tobytes() + f.raw[t["offset"] + t["nbytes"]:]


@pytest.mark.parametrize("name,code,make", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_gated_files(name, code, make):
    data = make()
    with pytest.raises(recur.RecurError) as native:
        recur.Model.from_bytes(data)
    with pytest.raises(recur.RecurError) as python:
        F.read_bytes(data)
    assert native.value.status == STATUS["RECUR_E_" + code], native.value
    assert python.value.status == STATUS["RECUR_E_" + code], python.value


def test_gated_bit_flips_both_readers_agree():
    """Every single-bit flip of a small GRU+LSTM file's header, read by both readers with
    checksums skipped: the same status (or both accept)."""
    data = gated_bytes(((3, "gru"), (4, "lstm", 2)))
    hl = int.from_bytes(data[16:20], "little")
    disagree = []
    for i in range(40, 40 + hl):
        for bit in range(8):
            b = bytearray(data)
            b[i] ^= 1 << bit
            b = bytes(b)
            got = []
            for read in (lambda: recur.Model.from_bytes(b, verify_checksums=False), lambda: F.read_bytes(b, verify_checksums=False)):
                try:
                    read()
                    got.append(0)
                except recur.RecurError as e:
                    got.append(e.status)
            if got[0] != got[1]:
                disagree.append((i, bit, got))
    assert not disagree, disagree[:5]


def test_a_reader_that_predates_the_kinds_refuses_them(tmp_path):
    """The pure-Python reader of recur 0.2.0 (from git history) refuses a GRU file with
    RECUR_E_UNSUPPORTED_FEATURE naming the feature, and still reads an elman file."""
    commit = _commit_before_gated_format() if shutil.which("git") else None
    if commit is None:
        pytest.skip("git history with the 0.2.0 format reader is not available (not a git checkout)")
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:bindings/python/src/recur/format.py"],
                         capture_output=True, text=True, check=True).stdout
    assert "KINDS" not in src  # really the reader from before the gated kinds
    pkg = tmp_path / "oldrecur"
    pkg.mkdir()
    (pkg / "format.py").write_text(src)
    for name in ("_errors.py",):
        (pkg / name).write_text((ROOT / "bindings" / "python" / "src" / "recur" / name).read_text())
    (pkg / "__init__.py").write_text("")
    gated = tmp_path / "g.recur"
    gated.write_bytes(gated_bytes())
    elman = tmp_path / "e.recur"
    elman.write_bytes(random_ckpt(3, [(4, "tanh")], 2).to_bytes())
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from oldrecur import format as F\n"
            "print(F.read_file(%r).layers)\n"
            "try:\n    F.read_file(%r)\nexcept Exception as e:\n    print(e.status, e)\n") % (str(tmp_path), str(elman), str(gated))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "[(4, 'tanh')]"
    assert lines[1].startswith(str(STATUS["RECUR_E_UNSUPPORTED_FEATURE"])) and '"gru"' in lines[1], lines[1]


def _commit_before_gated_format():
    r = subprocess.run(["git", "-C", str(ROOT), "log", "--format=%H", "--", "bindings/python/src/recur/format.py"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    for commit in r.stdout.split():
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:bindings/python/src/recur/format.py"],
                             capture_output=True, text=True)
        if src.returncode == 0 and "KINDS" not in src.stdout and "def read_bytes" in src.stdout:
            return commit
    return None


def test_training_a_gru_and_an_lstm():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((rng.integers(5, 12), 3)).astype(np.float32) for _ in range(40)]
    ys = np.array([int(s[:, 0].sum() > 0) for s in seqs])
    for layers in ([(16, "gru")], [(12, "lstm", 6)]):
        c = random_ckpt(3, layers, 2, seed=1, output_transform="softmax")
        m = c.to_model()
        t = recur.Trainer(m, loss="cross_entropy", lr=0.02, epochs=40, batch_size=8, scope="all", seed=1)
        log = []
        tuned = t.fit(seqs, ys, callback=lambda p: log.append(p.loss))
        assert log[-1] < 0.6 * log[0], (layers, log[0], log[-1])
        assert tuned.layers == [F.normalize_layer(l) for l in layers]
        assert t.evaluate(seqs, ys, tuned)["accuracy"] > 0.8


# -- converters --------------------------------------------------------------------------


def torch_like_state_dict(kind, I, H, L, proj=0, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    G = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    sd = {}
    for l in range(L):
        R = proj or H
        inp = I if l == 0 else R
        k = 1 / np.sqrt(H)
        sd[f"weight_ih_l{l}"] = rng.uniform(-k, k, (G * H, inp)).astype(np.float32)
        sd[f"weight_hh_l{l}"] = rng.uniform(-k, k, (G * H, R)).astype(np.float32)
        if bias:
            sd[f"bias_ih_l{l}"] = rng.uniform(-k, k, G * H).astype(np.float32)
            sd[f"bias_hh_l{l}"] = rng.uniform(-k, k, G * H).astype(np.float32)
        if proj:
            sd[f"weight_hr_l{l}"] = rng.uniform(-k, k, (proj, H)).astype(np.float32)
    return sd


def torch_forward(kind, sd, L, xs, head):
    """PyTorch's equations in numpy float64 (the documented nn.GRU / nn.LSTM), for state dicts."""
    hs, cs = None, None
    ys = []
    for x in xs:
        v = x.astype(np.float64)
        if hs is None:
            hs = [np.zeros(sd[f"weight_hh_l{l}"].shape[1]) for l in range(L)]
            cs = [np.zeros(sd[f"weight_ih_l{l}"].shape[0] // 4) for l in range(L)]
        for l in range(L):
            wi, wh = sd[f"weight_ih_l{l}"].astype(np.float64), sd[f"weight_hh_l{l}"].astype(np.float64)
            G = 3 if kind == "gru" else 4
            H = wi.shape[0] // G
            bi = sd.get(f"bias_ih_l{l}", np.zeros(G * H))
            bh = sd.get(f"bias_hh_l{l}", np.zeros(G * H))
            gi, gh = wi @ v + bi, wh @ hs[l] + bh
            sig = lambda a: 1 / (1 + np.exp(-a))
            if kind == "gru":
                r, z = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
                hs[l] = (1 - z) * n + z * hs[l]
            else:
                i, f, g, o = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H]), np.tanh(gi[2 * H:3 * H] + gh[2 * H:3 * H]), sig(gi[3 * H:] + gh[3 * H:])
                cs[l] = f * cs[l] + i * g
                h = o * np.tanh(cs[l])
                hs[l] = sd[f"weight_hr_l{l}"] @ h if f"weight_hr_l{l}" in sd else h
            v = hs[l]
        ys.append(head["weight"] @ v + head["bias"])
    return np.array(ys)


@pytest.mark.parametrize("kind,L,proj,bias", [("gru", 1, 0, True), ("gru", 3, 0, False), ("lstm", 2, 0, True),
                                              ("lstm", 2, 3, True), ("lstm", 1, 4, False)])
def test_torch_rnn_from_state_dicts(kind, L, proj, bias):
    I, H, O = 5, 8, 3
    sd = torch_like_state_dict(kind, I, H, L, proj, bias)
    rng = np.random.default_rng(1)
    head = {"weight": rng.standard_normal((O, proj or H)).astype(np.float32), "bias": rng.standard_normal(O).astype(np.float32)}
    c = convert.torch_rnn(sd, head)
    assert c.metadata["converted_from"] == f"torch.nn.{kind.upper()}"
    xs = rng.standard_normal((50, I)).astype(np.float32)
    assert worst_rel(c.to_model().session().run(xs), torch_forward(kind, sd, L, xs, head)) < 1e-5


def test_torch_rnn_refuses_bidirectional():
    sd = torch_like_state_dict("gru", 3, 4, 1)
    sd["weight_ih_l0_reverse"] = sd["weight_ih_l0"]
    with pytest.raises(ValueError, match="future"):
        convert.torch_rnn(sd, {"weight": np.zeros((2, 4), np.float32)})


@needs_torch
@pytest.mark.parametrize("kind,L,proj,bias,batch_first", [("GRU", 2, 0, True, False), ("GRU", 1, 0, False, True),
                                                          ("LSTM", 2, 0, True, False), ("LSTM", 2, 3, True, True),
                                                          ("LSTM", 1, 5, False, False)])
def test_torch_modules(kind, L, proj, bias, batch_first):
    torch.manual_seed(0)
    I, H, O = 6, 9, 4
    kw = {"proj_size": proj} if proj else {}
    rnn = getattr(torch.nn, kind)(I, H, num_layers=L, bias=bias, batch_first=batch_first, **kw)
    with torch.no_grad():
        for p in rnn.parameters():
            p.uniform_(-0.5, 0.5)
    head = torch.nn.Linear(proj or H, O)
    c = convert.torch_rnn(rnn, head, output_transform="softmax")
    xs = torch.randn(40, I)
    with torch.no_grad():
        y, _ = rnn(xs.unsqueeze(0 if batch_first else 1))
        ref = torch.softmax(head(y.squeeze(0 if batch_first else 1)), -1).double().numpy()
    got = c.to_model().session().run(xs.numpy())
    assert worst_rel(got, ref) < 1e-5
    with pytest.raises(ValueError, match="future"):
        convert.torch_rnn(getattr(torch.nn, kind)(I, H, bidirectional=True), head)


def onnx_recurrent_model(op, I, H, O, seed=0, lbr=None, head="matmul", transform=None, attrs=None, W=None):
    """A one-op ONNX graph as exporters produce it: X [T, 1, I] -> op -> Squeeze -> head."""
    rng = np.random.default_rng(seed)
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    k = 1 / np.sqrt(H)
    Wt = rng.uniform(-k, k, (1, G * H, I)).astype(np.float32) if W is None else W
    R = rng.uniform(-k, k, (1, G * H, H)).astype(np.float32)
    B = rng.uniform(-k, k, (1, 2 * G * H)).astype(np.float32)
    hw = rng.uniform(-k, k, (H, O)).astype(np.float32)
    hb = rng.uniform(-k, k, O).astype(np.float32)
    a = dict(hidden_size=H, **(attrs or {}))
    if lbr is not None:
        a["linear_before_reset"] = lbr
    nodes = [oh.make_node(op, ["X", "W", "R", "B"], ["Y", "Yh"] if op != "LSTM" else ["Y", "Yh", "Yc"], **a),
             oh.make_node("Squeeze", ["Y", "axes1"], ["Ys"])]
    inits = [numpy_helper.from_array(Wt, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B"),
             numpy_helper.from_array(np.array([1], np.int64), "axes1")]
    if head == "matmul":
        nodes += [oh.make_node("MatMul", ["Ys", "HW"], ["Z0"]), oh.make_node("Add", ["Z0", "HB"], ["Z"])]
        inits += [numpy_helper.from_array(hw, "HW"), numpy_helper.from_array(hb, "HB")]
    else:
        nodes += [oh.make_node("Squeeze", ["Ys", "axes1"], ["Ys2"]) if False else oh.make_node("Identity", ["Ys"], ["Ys2"])]
        nodes += [oh.make_node("MatMul", ["Ys2", "HW"], ["Z"])]
        inits += [numpy_helper.from_array(hw, "HW")]
    out = "Z"
    if transform:
        nodes.append(oh.make_node(transform, ["Z"], ["P"], **({"axis": -1} if transform == "Softmax" else {})))
        out = "P"
    g = oh.make_graph(nodes, "g", [oh.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, I])],
                      [oh.make_tensor_value_info(out, TensorProto.FLOAT, [None, 1, O])], inits)
    return oh.make_model(g, opset_imports=[oh.make_opsetid("", 14)])


@needs_onnx
@pytest.mark.parametrize("op,lbr,transform", [("GRU", 1, None), ("GRU", 0, "Softmax"), ("GRU", None, None),
                                              ("LSTM", None, "Sigmoid"), ("RNN", None, None)])
def test_onnx_graphs_against_the_onnx_reference_evaluator(op, lbr, transform):
    from onnx.reference import ReferenceEvaluator

    I, H, O = 5, 7, 3
    m = onnx_recurrent_model(op, I, H, O, lbr=lbr, transform=transform)
    onnx.checker.check_model(m)
    c = convert.onnx(m)
    want_kind = {"GRU": "gru" if lbr == 1 else "gru_reset_before", "LSTM": "lstm", "RNN": "tanh"}[op]
    assert c.layers == [(H, want_kind)]
    xs = np.random.default_rng(2).standard_normal((30, I)).astype(np.float32)
    ref = ReferenceEvaluator(m).run(None, {"X": xs[:, None, :]})[0][:, 0, :]
    assert worst_rel(c.to_model().session().run(xs), ref) < 1e-5
    assert c.output_transform == (transform or "none").lower()


@needs_onnx
def test_onnx_refusals_name_the_op_and_attribute():
    for attrs, msg in [({"direction": "reverse"}, "direction"), ({"direction": "bidirectional"}, "direction"),
                       ({"clip": 1.0}, "clip"), ({"activations": ["Sigmoid", "Relu"]}, "activations")]:
        m = onnx_recurrent_model("GRU", 3, 4, 2, attrs=attrs,
                                 W=np.zeros((2 if attrs.get("direction") == "bidirectional" else 1, 12, 3), np.float32))
        with pytest.raises(ValueError, match=msg) as e:
            convert.onnx(m)
        assert "GRU node" in str(e.value)
    m = onnx_recurrent_model("LSTM", 3, 4, 2, attrs={"input_forget": 1})
    with pytest.raises(ValueError, match="input_forget"):
        convert.onnx(m)


@needs_torch
@needs_onnx
@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_torch_onnx_recur_round_trip(kind, tmp_path):
    """torch -> torch.onnx.export -> recur.convert.onnx -> the same outputs as torch."""
    torch.manual_seed(1)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(5, 8, num_layers=2)
            self.head = torch.nn.Linear(8, 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return torch.softmax(self.head(y), -1)

    net = Net().eval()
    xs = torch.randn(20, 1, 5)
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, (xs,), str(path), input_names=["x"], output_names=["y"], dynamo=False)
    c = convert.onnx(str(path))
    with torch.no_grad():
        ref = net(xs)[:, 0].double().numpy()
    assert worst_rel(c.to_model().session().run(xs[:, 0].numpy()), ref) < 1e-5
