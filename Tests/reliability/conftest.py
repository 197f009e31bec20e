import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
LIBDIR = ROOT / ".build" / "release"


def build_c(src: Path, out: Path, *extra: str) -> Path:
    """Compile a C helper against the release library (make lib first)."""
    import subprocess

    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", f"-I{ROOT / 'include'}", str(src), f"-L{LIBDIR}", "-lrecur",
                    f"-Wl,-rpath,{LIBDIR}", "-lm", "-lpthread", *extra, "-o", str(out)], check=True)
    return out
