"""The README's install paths, run exactly as a new user types them: `pip install
./bindings/python` in a new `python3 -m venv`, the wheel of `make wheel` on a PATH without
Swift, and the C quick start built from an installed prefix outside the repository."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()
HEADER_VERSION = re.search(r'#define RECUR_VERSION_STRING "([^"]+)"', (ROOT / "include" / "recur.h").read_text()).group(1)


def section(title: str) -> str:
    """The README text from the heading `title` to the next heading of the same or higher level."""
    m = re.search(r"^(#+) " + re.escape(title) + r"\n", README, re.M)
    assert m, title
    level = len(m.group(1))
    rest = README[m.end():]
    end = re.search(r"^#{1,%d} " % level, rest, re.M)
    return rest[: end.start()] if end else rest


def blocks(text: str, lang: str):
    return re.findall(r"```%s\n(.*?)```" % lang, text, re.S)


def commands(block: str):
    """Shell lines of a README block, comments after `  #` removed."""
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RECUR_LIBRARY", "LD_LIBRARY_PATH",
                                                             "PKG_CONFIG_PATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def new_venv(path: Path) -> Path:
    """`python3 -m venv PATH`, no extra flags."""
    r = subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path / "bin"


CHECK = ("import importlib.metadata as md, numpy as np, recur\n"
         "lib = recur.load_library()\n"
         "m = recur.Model.load(%r)\n"
         "y = m.session().step(np.zeros(m.input_size, np.float32))\n"
         "print(lib.path)\n"
         "print(md.version('recur'), recur.__version__)\n"
         "print(y.shape, round(float(y.sum()), 4))\n")


def check_installed(python: Path, env, where: Path):
    code = CHECK % str(ROOT / "models" / "vowels-5speakers.recur")
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=str(where))
    assert r.returncode == 0, r.stdout + r.stderr
    path, versions, result = r.stdout.strip().splitlines()
    return path, versions.split(), result


def test_readme_pip_install_in_a_new_venv(tmp_path):
    lines = [c for c in commands(blocks(section("Python"), "sh")[0]) if c.startswith("pip install")]
    assert lines == ["pip install ./bindings/python"], lines
    bin_dir = new_venv(tmp_path / "venv")
    env = clean_env(PATH=f"{bin_dir}:{os.environ['PATH']}", VIRTUAL_ENV=str(tmp_path / "venv"))
    r = subprocess.run(lines[0], shell=True, cwd=str(ROOT), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # Nothing was installed into the user's environment besides recur and its numpy.
    assert "deps: " not in r.stdout + r.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path, versions, result = check_installed(bin_dir / "python", env, elsewhere)
    assert path.startswith(str(tmp_path / "venv")) and path.endswith("recur/_lib/librecur.so")
    assert versions == [HEADER_VERSION, HEADER_VERSION]
    assert result == "(5,) 1.0"


def test_make_wheel_installs_without_swift(tmp_path):
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "wheel"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "glibc >= " in r.stdout and "no Swift needed" in r.stdout
    wheels = sorted((ROOT / "dist").glob(f"recur-{HEADER_VERSION}-py3-none-linux_*.whl"))
    assert len(wheels) == 1, wheels
    bin_dir = new_venv(tmp_path / "venv")
    # A PATH with no Swift toolchain on it (the wheel must not need one).
    no_swift = ":".join(p for p in os.environ["PATH"].split(":") if "swift" not in p)
    env = clean_env(PATH=f"{bin_dir}:{no_swift}")
    assert shutil.which("swift", path=env["PATH"]) is None
    r = subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheels[0])], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    path, versions, result = check_installed(bin_dir / "python", env, tmp_path)
    assert path.startswith(str(tmp_path / "venv"))
    assert versions == [HEADER_VERSION, HEADER_VERSION]
    assert result == "(5,) 1.0"
    needed = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    assert "swift" not in needed.lower()


def test_readme_c_quick_start_from_an_installed_prefix(tmp_path):
    sec = section("C")
    source = blocks(sec, "c")[0]
    lines = commands(blocks(sec, "sh")[0])
    assert lines[0].startswith("make install PREFIX=$HOME/"), lines
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (work / "quickstart.c").write_text(source)
    # The user runs `make install` in the repository, the rest where they saved quickstart.c.
    script = "set -eu\ncd %s\n%s\ncd %s\n%s\n" % (ROOT, lines[0], work, "\n".join(lines[1:]))
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean_env(HOME=str(home)))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = r.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"after 20 frames:((?: \d\.\d{3}){5})  -> (speaker \d)", out)
    assert m, out
    probs = [float(v) for v in m.group(1).split()]
    # The same stream through the Python bindings gives the same numbers and label.
    import recur

    model = recur.Model.load(ROOT / "models" / "vowels-5speakers.recur")
    s = model.session()
    for t in range(20):
        frame = np.array([0.1 * ((t + 3 * i) % 7) - 0.3 for i in range(12)], np.float32)
        y = s.step(frame)
    assert probs == [round(float(v), 3) for v in y]
    # ... and the README quotes what it prints.
    assert f"`{out}`" in README.replace("\n", " ")
    assert m.group(2) == model.labels[int(np.argmax(y))]
    # It ran from the prefix outside the repository, found through recur.pc's rpath.
    ldd = subprocess.run(["ldd", str(work / "quickstart")], capture_output=True, text=True, check=True).stdout
    assert str(home / ".local" / "lib" / "librecur.so") in ldd, ldd
    assert not str(ROOT) in ldd


def test_system_prefix_install_runs_ldconfig_and_has_no_rpath(tmp_path):
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "install", "PREFIX=/usr/local"], capture_output=True,
                         text=True, check=True).stdout
    assert "ldconfig" in dry
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "install", "PREFIX=/usr/local", f"DESTDIR={tmp_path}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pc = (tmp_path / "usr/local/lib/pkgconfig/recur.pc").read_text()
    assert "Libs: -L${libdir} -lrecur\n" in pc and "rpath" not in pc
    assert "ldconfig updated" not in r.stdout  # never with DESTDIR (a staged install)


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
