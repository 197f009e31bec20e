#!/usr/bin/env bash
# Installs what the build and tests need when it is missing (Debian/Ubuntu; run as root
# or with sudo), and nothing when everything is there. The Swift toolchain itself must
# already be on PATH. `make deps` (and .ci/run, make test) run it; building never does.
#
#   deps.sh                  system packages and the Python test packages
#   deps.sh system [numpy]   system packages only (make demo), plus numpy if named
set -euo pipefail
mode=${1:-all}
need=()
command -v swift >/dev/null || { echo "deps: the Swift toolchain (swift) is not on PATH" >&2; exit 1; }
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v nm >/dev/null || need+=(binutils)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v valgrind >/dev/null || need+=(valgrind)
command -v python3 >/dev/null || need+=(python3 python3-pip)
if [ "$mode" != system ] && ! python3 -c "import ensurepip, venv" 2>/dev/null; then need+=(python3-venv); fi
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python test dependencies (numpy for the bindings; pytest; hypothesis for the mutation fuzzing
# of the Python reader; onnx for the ONNX converter tests, which build graphs and evaluate them with
# onnx.reference; torch is not installed: its tests skip). The venv module is needed by the install tests (python3-venv below).
if [ "$mode" = system ]; then mods="${2:-}"; else mods="numpy pytest hypothesis onnx"; fi
missing_py=()
for mod in $mods; do
  python3 -c "import $mod" 2>/dev/null || missing_py+=("$mod")
done
if [ ${#missing_py[@]} -gt 0 ]; then
  echo "deps: pip installing ${missing_py[*]}"
  python3 -m pip install -q "${missing_py[@]}" || python3 -m pip install -q --break-system-packages "${missing_py[@]}"
fi
