"""Builds librecur.so (release, the same flags as the top-level `make`) and bundles it in
the package as recur/_lib/librecur.so, so `import recur` needs no environment variable.

Set RECUR_PREBUILT_LIBRARY=/path/to/librecur.so to bundle an existing build instead.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


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


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
