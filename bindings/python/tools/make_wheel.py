#!/usr/bin/env python3
"""Builds the binary wheel of the recur package from the source tree and an already built
librecur.so, with the standard library only (no setuptools, pip or network): `make wheel`.

    python3 bindings/python/tools/make_wheel.py --lib .build/release/librecur.so --out dist

The wheel is tagged py3-none-linux_<machine>: the package is pure Python over ctypes (any
CPython 3.8+), and the bundled library needs only glibc, libm, libz and libgcc_s (the Swift
and C++ runtimes are linked into it). The glibc and zlib versions it needs are read off the
library and printed. Output is deterministic (fixed timestamps, sorted entries).
"""

import argparse
import base64
import hashlib
import platform
import re
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PKG = HERE.parent
ROOT = PKG.parents[1]


def version() -> str:
    return re.search(r'#define RECUR_VERSION_STRING "([^"]+)"', (ROOT / "include" / "recur.h").read_text()).group(1)


def requirements(lib: Path):
    """Highest GLIBC_ and ZLIB_ symbol versions the library references (objdump -T)."""
    try:
        out = subprocess.run(["objdump", "-T", str(lib)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None

    def top(prefix):
        vs = {tuple(int(x) for x in v.split(".")) for v in re.findall(prefix + r"_([0-9.]+)\)", out)}
        return ".".join(map(str, max(vs))) if vs else None

    return top("GLIBC"), top("ZLIB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args()
    v = version()
    machine = platform.machine()
    tag = f"py3-none-linux_{machine}"
    name = f"recur-{v}-{tag}.whl"
    pyproject = (PKG / "pyproject.toml").read_text()
    deps = re.search(r"dependencies = \[(.*?)\]", pyproject).group(1)
    requires = [d.strip().strip('"') for d in deps.split(",") if d.strip()]
    glibc, zlib_v = requirements(a.lib)
    dist = f"recur-{v}.dist-info"
    files = {}
    for p in sorted((PKG / "src" / "recur").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            files["recur/" + p.relative_to(PKG / "src" / "recur").as_posix()] = p.read_bytes()
    files["recur/_lib/librecur.so"] = a.lib.read_bytes()
    readme = (PKG / "README.md").read_text()
    meta = [f"Metadata-Version: 2.1", "Name: recur", f"Version: {v}",
            "Summary: Python bindings (ctypes) for librecur, an embeddable runtime for feedback (recurrent) "
            "neural networks", "Requires-Python: >=3.8"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    meta += ["Description-Content-Type: text/markdown", "", readme]
    files[f"{dist}/METADATA"] = "\n".join(meta).encode()
    files[f"{dist}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: recur make_wheel.py\nRoot-Is-Purelib: false\n"
                              f"Tag: {tag}\n").encode()
    files[f"{dist}/top_level.txt"] = b"recur\n"
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    a.out.mkdir(parents=True, exist_ok=True)
    target = a.out / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    print(f"{target} ({target.stat().st_size} bytes): any CPython >= 3.8 on Linux {machine} with "
          f"glibc >= {glibc or '?'} and zlib (libz.so.1) >= {zlib_v or '?'}; no Swift needed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
