"""The ctypes declarations are the header's ABI: the same functions with the same argument and
result types, and every struct with the same fields, size and offsets (measured by a C probe
compiled against include/recur.h at test time). A layout or signature change cannot ship
without this failing."""

import ctypes
import re
import subprocess

import pytest

import recur
from recur import _lib
from conftest import ROOT

HEADER = (ROOT / "include" / "recur.h").read_text()


def _without_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    # preprocessor lines (with their continuations) are not declarations
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)


def header_prototypes():
    """name -> (result type, [parameter types]) for every RECUR_API function."""
    code = _without_comments(HEADER)
    out = {}
    for m in re.finditer(r"RECUR_API\s+([^;]*?)\b(recur_[a-z0-9_]+)\s*\(([^;]*?)\)\s*;", code):
        ret, name, params = m.group(1), m.group(2), m.group(3)
        types = []
        if params.strip() != "void":
            for p in params.split(","):
                p = " ".join(p.replace("*", " * ").split())
                # drop the parameter name (the last identifier) when there is one
                toks = p.split()
                if len(toks) > 1 and re.fullmatch(r"[a-z_][a-z0-9_]*", toks[-1]) and toks[-1] not in _TYPE_WORDS:
                    toks = toks[:-1]
                types.append(" ".join(toks))
        out[name] = (" ".join(ret.replace("*", " * ").split()), types)
    return out


_TYPE_WORDS = {"void", "char", "float", "double", "size_t", "int32_t", "uint32_t", "uint64_t", "recur_status",
               "recur_progress_fn", "const"}
_STRUCTS = {"recur_load_options": _lib.LoadOptions, "recur_model_config": _lib.ModelConfig,
            "recur_save_options": _lib.SaveOptions, "recur_trainer_config": _lib.TrainerConfig,
            "recur_dataset": _lib.Dataset, "recur_progress": _lib.Progress, "recur_evaluation": _lib.Evaluation,
            "recur_sampler_params": _lib.SamplerParams}
_HANDLES = {"recur_model": _lib.ModelHandle, "recur_session": _lib.SessionHandle, "recur_trainer": _lib.TrainerHandle,
            "recur_sampler": _lib.SamplerHandle}
_SCALARS = {"recur_status": ctypes.c_int32, "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32,
            "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t}
_DATA = {"float", "void", "int32_t", "size_t", "uint8_t"}  # data buffers: passed as raw addresses


def expected_ctypes(c_type: str):
    """The ctypes types a declaration of `c_type` may use (a set: data pointers allow two)."""
    t = c_type.replace("const ", "").replace(" const", "").strip()
    stars = t.count("*")
    base = t.replace("*", "").strip()
    if t == "void":
        return {None}
    if stars == 0:
        if base in _SCALARS:
            return {_SCALARS[base]}
        if base in _STRUCTS:
            return {_STRUCTS[base]}
        if base == "recur_progress_fn":
            return {_lib.PROGRESS_FN}
    if base == "char" and stars == 1:
        return {ctypes.c_char_p}
    if base == "char" and stars == 2:
        return {ctypes.POINTER(ctypes.c_char_p)}
    if base in _HANDLES:
        return {_HANDLES[base]} if stars == 1 else {ctypes.POINTER(_HANDLES[base])}
    if base in _STRUCTS and stars == 1:
        return {ctypes.POINTER(_STRUCTS[base])}
    if stars == 1 and base in _SCALARS and base != "recur_status":
        allowed = {ctypes.POINTER(_SCALARS[base])}
        if "const" in c_type and base in _DATA:  # an input array (e.g. const size_t *lengths)
            allowed.add(ctypes.c_void_p)
        return allowed
    if stars == 1 and base in _DATA:
        return {ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)}
    raise AssertionError(f"no ctypes mapping for C type {c_type!r}")


def test_header_equals_ctypes_declarations():
    assert set(header_prototypes()) == set(_lib.DECLARED)


@pytest.mark.parametrize("name", sorted(header_prototypes()))
def test_signature_matches_header(name):
    ret, params = header_prototypes()[name]
    restype, argtypes = _lib._SIGNATURES[name]
    assert restype in expected_ctypes(ret), f"{name}: restype {restype} for C {ret!r}"
    assert len(argtypes) == len(params), f"{name}: {len(argtypes)} argtypes, header has {len(params)}: {params}"
    for i, (a, p) in enumerate(zip(argtypes, params)):
        assert a in expected_ctypes(p), f"{name} argument {i}: ctypes {a} for C {p!r}"


def header_struct_fields(struct: str):
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (struct, struct), _without_comments(HEADER), re.S)
    assert body, struct
    names = []
    for decl in body.group(1).split(";"):
        decl = decl.strip()
        if not decl:
            continue
        # "double beta1, beta2" / "const char *const *labels"
        first, *rest = [d.strip() for d in decl.split(",")]
        names.append(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", first)[-1])
        names += [re.findall(r"[A-Za-z_][A-Za-z0-9_]*", r)[-1] for r in rest]
    return names


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """struct -> {"size": n, field: (offset, size)} measured by C."""
    d = tmp_path_factory.mktemp("probe")
    lines = ["#include <recur.h>", "#include <stdio.h>", "#include <stddef.h>", "int main(void) {"]
    for struct, cls in _STRUCTS.items():
        lines.append(f'    printf("{struct} size %zu\\n", sizeof({struct}));')
        for f, _ in cls._fields_:
            lines.append(f'    printf("{struct} {f} %zu %zu\\n", offsetof({struct}, {f}), sizeof((({struct} *)0)->{f}));')
    lines += ["    return 0;", "}"]
    (d / "probe.c").write_text("\n".join(lines) + "\n")
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-I", str(ROOT / "include"), str(d / "probe.c"), "-o",
                    str(d / "probe")], check=True)
    out = {}
    for line in subprocess.run([str(d / "probe")], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        s = out.setdefault(parts[0], {})
        if parts[1] == "size":
            s["size"] = int(parts[2])
        else:
            s[parts[1]] = (int(parts[2]), int(parts[3]))
    return out


@pytest.mark.parametrize("struct", sorted(_STRUCTS))
def test_struct_layout_matches_header(struct, probe):
    cls = _STRUCTS[struct]
    assert [f for f, _ in cls._fields_] == header_struct_fields(struct), struct
    assert ctypes.sizeof(cls) == probe[struct]["size"], struct
    for f, t in cls._fields_:
        off, size = probe[struct][f]
        assert getattr(cls, f).offset == off, f"{struct}.{f} offset"
        assert ctypes.sizeof(t) == size, f"{struct}.{f} size"


def test_init_functions_fill_the_python_structs():
    lib = recur.load_library()
    for cls in (_lib.LoadOptions, _lib.ModelConfig, _lib.SaveOptions, _lib.TrainerConfig, _lib.Dataset):
        s = lib.init_struct(cls)
        assert s.struct_size == ctypes.sizeof(cls)
    assert lib.init_struct(_lib.TrainerConfig).epochs == 10
    assert lib.init_struct(_lib.LoadOptions).max_tensors == 1024


def test_library_exports_equal_header():
    lib = recur.load_library()
    out = subprocess.run(["nm", "-D", "--defined-only", lib.path], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    exported = {r[2] for r in rows if len(r) == 3 and r[1] in "TDBRW" and r[2].startswith("recur_")}
    others = {r[2] for r in rows if len(r) == 3 and r[1] in "TDBRW" and not r[2].startswith("recur_")}
    assert exported == set(header_prototypes())
    assert others == set()


def test_status_codes_match_header():
    from recur._errors import STATUS_NAMES

    header = {int(v): n for n, v in re.findall(r"#define (RECUR_E_[A-Z0-9_]+) \((-?\d+)\)", HEADER)}
    assert len(header) == len(re.findall(r"#define RECUR_E_", HEADER))
    header[0] = "RECUR_OK"
    assert header == STATUS_NAMES


def test_abi_and_version_match_header():
    abi = int(re.search(r"#define RECUR_ABI_VERSION (\d+)", HEADER).group(1))
    assert abi == _lib.ABI_VERSION == recur.load_library().recur_abi_version()
    version = re.search(r'#define RECUR_VERSION_STRING "([^"]+)"', HEADER).group(1)
    assert recur.__version__ == version == recur.library_version()


def test_submodules_on_first_use():
    import subprocess as sp
    import sys

    code = ("import recur; print(recur.convert.__name__, recur.format.__name__, recur.datasets.__name__); "
            "print(callable(recur.convert.feedbacknet), hasattr(recur.format, 'Checkpoint'))")
    r = sp.run([sys.executable, "-c", code], capture_output=True, text=True,
               env={"PYTHONPATH": str(ROOT / "bindings" / "python" / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["recur.convert", "recur.format", "recur.datasets", "True", "True"]


def test_model_methods_are_defined_on_the_class():
    """Heads, adapters, fingerprints and evaluate are methods of Model itself (not attached
    by another module at import time)."""
    import inspect

    for name in ("with_new_head", "extend_head", "save_adapter", "adapter_bytes", "apply_adapter", "evaluate"):
        fn = recur.Model.__dict__[name]
        assert inspect.getmodule(fn).__name__ == "recur.model", name
    assert isinstance(recur.Model.__dict__["fingerprint"], property)
