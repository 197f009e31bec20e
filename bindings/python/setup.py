"""Builds librecur.so (release, the same flags as the top-level `make lib`) and bundles it in
the package as recur/_lib/librecur.so, so `import recur` needs no environment variable.

The build installs nothing: it needs the Swift toolchain and a C compiler (which `make deps`
at the top level installs when missing), and never runs a package manager itself.
Set RECUR_PREBUILT_LIBRARY=/path/to/librecur.so to bundle an existing build instead.

The version comes from RECUR_VERSION_STRING in include/recur.h (one source for the library,
the CLI and this package).
"""

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:  # setuptools >= 70 carries bdist_wheel; older ones get it from the wheel package
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def version() -> str:
    header = ROOT / "include" / "recur.h"
    if header.exists():
        m = re.search(r'#define RECUR_VERSION_STRING "([^"]+)"', header.read_text())
        if m:
            return m.group(1)
    lib = os.environ.get("RECUR_PREBUILT_LIBRARY")
    if lib:
        f = ctypes.CDLL(lib).recur_version_string
        f.restype = ctypes.c_char_p
        return f().decode()
    raise RuntimeError("cannot find include/recur.h (or RECUR_PREBUILT_LIBRARY) to read the version")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = os.environ.get("RECUR_PREBUILT_LIBRARY")
        if not lib:
            if not (ROOT / "Package.swift").exists():
                raise RuntimeError(f"cannot find the recur repository above {HERE} to build librecur.so; "
                                   "set RECUR_PREBUILT_LIBRARY")
            subprocess.check_call(["make", "-C", str(ROOT), "lib"])
            lib = str(ROOT / ".build" / "release" / "librecur.so")
        dest = Path(self.build_lib) / "recur" / "_lib"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, dest / "librecur.so")


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for the platform."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """ctypes only: any Python 3, no CPython ABI; only the platform (the bundled .so) matters."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(version=version(), cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
      distclass=BinaryDistribution)
