#!/usr/bin/env bash
# Builds and runs the C step benchmark against the release library (make bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build/bench"
mkdir -p "$out"
cc -std=c99 -O3 -march=native -ffast-math -c "$root/bench/ref_step.c" -o "$out/ref_step.o"
cc -std=c99 -O2 -Wall -Wextra -I"$root/include" -I"$root/bench" "$root/bench/step_bench.c" "$out/ref_step.o" \
   -L"$root/.build/release" -lrecur -Wl,-rpath,"$root/.build/release" -lm -o "$out/step_bench"
"$out/step_bench" --json "$out/step_bench.json" "$@"
echo "(JSON: $out/step_bench.json)"
