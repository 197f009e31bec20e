"""Leaks and memory: load/create/step/free cycles keep resident memory and the live heap flat;
valgrind memcheck finds no errors and no definite leaks in the C tests."""

import os
import shutil
import subprocess

import pytest

from conftest import ROOT, build_c

CYCLES = int(os.environ.get("RECUR_LEAK_CYCLES", "20000"))


def test_cycles_keep_memory_flat():
    exe = build_c(ROOT / "Tests" / "reliability" / "memory.c", ROOT / ".build" / "reliability" / "memory")
    r = subprocess.run([str(exe), "cycles", str(CYCLES)], capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr


def test_memory_figures():
    exe = build_c(ROOT / "Tests" / "reliability" / "memory.c", ROOT / ".build" / "reliability" / "memory")
    r = subprocess.run([str(exe), "figures"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = [l for l in r.stdout.splitlines() if l.startswith("| 64,256")]
    per_param = float(rows[0].split("|")[4])
    assert 4.0 <= per_param < 4.2  # float32 weights, padded rows
    packed = int(rows[0].split("|")[8])
    # AVX2 machines: the layer weights in panels of 16 rows (256 rows x 320 floats), else none
    assert packed == 0 or 256 * 320 * 4 <= packed <= 256 * 320 * 4 + 64
    int8_per_param = float(rows[0].split("|")[9])
    assert 5.0 <= int8_per_param < 5.3  # int8 rows + scales + the dequantised float32 copy


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.parametrize("test", ["test_api", "test_train"])
def test_valgrind_memcheck(test, tmp_path):
    exe = build_c(ROOT / "Tests" / "c" / f"{test}.c", ROOT / ".build" / "reliability" / f"{test}-vg", "-g", "-O1")
    r = subprocess.run(["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=3",
                        str(exe), str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "definitely lost: 0 bytes" in r.stderr and "ERROR SUMMARY: 0 errors" in r.stderr
