"""`pip install ./bindings/python` bundles librecur.so: `import recur` then works from any
directory with no environment variable."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT


def test_pip_install_bundles_library(tmp_path):
    target = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k not in ("RECUR_LIBRARY", "PYTHONPATH")}
    try:
        import wheel  # noqa: F401  (needed for --no-build-isolation)
        isolation = ["--no-build-isolation"]
    except ImportError:
        isolation = []
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *isolation, "--target", str(target),
                        str(ROOT / "bindings" / "python")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    bundled = target / "recur" / "_lib" / "librecur.so"
    assert bundled.exists()
    env["PYTHONPATH"] = str(target)
    code = ("import recur, numpy as np; lib = recur.load_library(); print(lib.path); "
            "m = recur.Model.load(%r); print(m.session().step(np.zeros(m.input_size)).shape)"
            % str(ROOT / "models" / "feedbacknet-10-20-5.recur"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == str(bundled)
    assert lines[1] == "(5,)"


def test_lookup_failure_lists_every_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["RECUR_LIBRARY"] = str(tmp_path / "nope.so")
    code = ("import sys; sys.path.insert(0, %r); import recur._lib as L; L._candidates = lambda: []\n"
            "try:\n    L.load_library()\nexcept OSError as e:\n    print(e)" % str(ROOT / "bindings" / "python" / "src"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "nope.so: not found" in r.stdout
    assert "system loader" in r.stdout or "librecur" in r.stdout


def test_explicit_path_wins():
    import recur

    lib = recur.load_library(str(ROOT / ".build" / "release" / "librecur.so"))
    assert lib.recur_abi_version() == recur.ABI_VERSION
