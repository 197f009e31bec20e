"""Readers for small sequence datasets (standard library + numpy only)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np


def load_ts(path) -> Tuple[List[np.ndarray], List[str]]:
    """Read an sktime/aeon ``.ts`` file with class labels.

    Returns ``(sequences, labels)``: each sequence is a ``(T, channels)`` float32 array
    (lengths may differ), each label the case's class label string. ``?`` or ``NaN``
    values are refused (this reader does not impute).
    """
    seqs: List[np.ndarray] = []
    labels: List[str] = []
    in_data = False
    dims = None
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            low = line.lower()
            if low.startswith("@dimensions"):
                dims = int(line.split()[1])
            if low.startswith("@data"):
                in_data = True
            continue
        parts = line.split(":")
        label = parts[-1].strip()
        channels = [np.array([float(v) for v in p.split(",")], dtype=np.float32) for p in parts[:-1]]
        if dims is not None and len(channels) != dims:
            raise ValueError(f"{path}:{n}: {len(channels)} channels, header says {dims}")
        lengths = {len(c) for c in channels}
        if len(lengths) != 1:
            raise ValueError(f"{path}:{n}: channels of different lengths {sorted(lengths)}")
        x = np.stack(channels, axis=1)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{path}:{n}: missing or non-finite values")
        seqs.append(x)
        labels.append(label)
    if not in_data:
        raise ValueError(f"{path}: no @data section")
    return seqs, labels
