#!/usr/bin/env bash
# Installs what the build and tests need when it is missing (Debian/Ubuntu; run as root
# or with sudo). The Swift toolchain itself must already be on PATH.
set -euo pipefail
need=()
command -v swift >/dev/null || { echo "deps: the Swift toolchain (swift) is not on PATH" >&2; exit 1; }
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v nm >/dev/null || need+=(binutils)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v valgrind >/dev/null || need+=(valgrind)
command -v python3 >/dev/null || need+=(python3 python3-pip)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python test dependencies (numpy for the bindings; pytest; wheel for no-isolation builds;
# hypothesis for the mutation fuzzing of the Python reader).
missing_py=()
for mod in numpy pytest wheel hypothesis; do
  python3 -c "import $mod" 2>/dev/null || missing_py+=("$mod")
done
if [ ${#missing_py[@]} -gt 0 ]; then
  echo "deps: pip installing ${missing_py[*]}"
  python3 -m pip install -q "${missing_py[@]}" || python3 -m pip install -q --break-system-packages "${missing_py[@]}"
fi
