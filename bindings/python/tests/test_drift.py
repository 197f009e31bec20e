"""The header, the ctypes declarations and the library's exports declare the same functions."""

import re
import subprocess

import recur
from recur import _lib
from conftest import ROOT


def header_functions():
    text = (ROOT / "include" / "recur.h").read_text()
    return set(re.findall(r"\b(recur_[a-z0-9_]+)\s*\(", text))


def test_header_equals_ctypes_declarations():
    assert header_functions() == set(_lib.DECLARED)


def test_library_exports_equal_header():
    lib = recur.load_library()
    out = subprocess.run(["nm", "-D", "--defined-only", lib.path], capture_output=True, text=True, check=True).stdout
    exported = {parts[2] for parts in (line.split() for line in out.splitlines())
                if len(parts) == 3 and parts[1] in "TDBRW" and parts[2].startswith("recur_")}
    others = {parts[2] for parts in (line.split() for line in out.splitlines())
              if len(parts) == 3 and parts[1] in "TDBRW" and not parts[2].startswith("recur_")}
    assert exported == header_functions()
    assert others == set()


def test_status_codes_match_header():
    from recur._errors import STATUS_NAMES

    text = (ROOT / "include" / "recur.h").read_text()
    header = {int(v): n for n, v in re.findall(r"#define (RECUR_E_[A-Z0-9_]+) (-?\d+)", text)}
    header[0] = "RECUR_OK"
    assert header == STATUS_NAMES


def test_abi_version_matches_header():
    text = (ROOT / "include" / "recur.h").read_text()
    abi = int(re.search(r"#define RECUR_ABI_VERSION (\d+)", text).group(1))
    assert abi == _lib.ABI_VERSION == recur.load_library().recur_abi_version()
