#!/usr/bin/env bash
# Installs the Python peers of `make bench` (numpy, PyTorch, ONNX Runtime) into bench/.venv,
# which bench/run.sh then uses. PyTorch from PyPI brings its CUDA wheels (~3 GB); it runs on
# the CPU. Not needed by `make test` or CI.   bash bench/setup-peers.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python3 -m venv "$root/bench/.venv"
"$root/bench/.venv/bin/pip" install --upgrade pip
"$root/bench/.venv/bin/pip" install numpy torch onnx onnxruntime
"$root/bench/.venv/bin/python" -c "import numpy, torch, onnxruntime; print('peers ready:', numpy.__version__, torch.__version__, onnxruntime.__version__)"
