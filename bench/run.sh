#!/usr/bin/env bash
# make bench: recur from C beside a plain-C reference (step_bench, misc_bench, cell_bench: GRU/LSTM
# beside a plain-C fused-gate cell, load_bench: 1 vs 2
# threads with busy cores, the resident-memory
# table of Tests/reliability/memory.c), then recur
# from Python beside numpy / PyTorch / ONNX Runtime when they are installed (bench/peers.py;
# bench/setup-peers.sh installs them into bench/.venv), all in one run; bench/report.py prints
# the combined table and writes .build/bench/report.json.
#   bash bench/run.sh [--quick]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build/bench"
mkdir -p "$out"
cc -std=c99 -O3 -march=native -ffast-math -c "$root/bench/ref_step.c" -o "$out/ref_step.o"
cc -std=c99 -O3 -march=native -ffast-math -c "$root/bench/ref_cell.c" -o "$out/ref_cell.o"
for b in step_bench misc_bench load_bench cell_bench; do
  cc -std=c99 -O2 -Wall -Wextra -I"$root/include" -I"$root/bench" "$root/bench/$b.c" "$out/ref_step.o" "$out/ref_cell.o" \
     -L"$root/.build/release" -lrecur -Wl,-rpath,"$root/.build/release" -lm -o "$out/$b"
done
cc -std=c99 -O2 -Wall -Wextra -I"$root/include" "$root/bench/coldstart.c" \
   -L"$root/.build/release" -lrecur -Wl,-rpath,"$root/.build/release" -o "$out/coldstart_recur"
cc -std=c99 -O2 -Wall -Wextra -DPLAIN -I"$root/bench" "$root/bench/coldstart.c" "$out/ref_step.o" -lm -o "$out/coldstart_plain"
"$out/step_bench" --json "$out/step_bench.json" "$@"
echo
"$out/misc_bench" --json "$out/misc_bench.json" --dir "$out" "$@"
echo
"$out/load_bench" --json "$out/load_bench.json" "$@"
echo
"$out/cell_bench" --json "$out/cell_bench.json" "$@"
echo
# Resident memory: the reliability suite's malloc-counting tool (Tests/reliability/memory.c).
cc -std=c99 -O2 -Wall -I"$root/include" "$root/Tests/reliability/memory.c" \
   -L"$root/.build/release" -lrecur -Wl,-rpath,"$root/.build/release" -o "$out/memory"
echo "resident heap bytes (malloc interposed):"
"$out/memory" figures | tee "$out/memory_figures.md"
echo
py=python3
if [ -x "$root/bench/.venv/bin/python" ]; then py="$root/bench/.venv/bin/python"; fi
RECUR_LIBRARY="$root/.build/release/librecur.so" PYTHONPATH="$root/bindings/python/src" \
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  "$py" "$root/bench/peers.py" --json "$out/peers.json" "$@"
echo
RECUR_LIBRARY="$root/.build/release/librecur.so" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  "$py" "$root/bench/cell_peers.py" --json "$out/cell_peers.json" "$@"
if [ "${1:-}" != --quick ]; then
  echo
  RECUR_LIBRARY="$root/.build/release/librecur.so" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$py" "$root/bench/finetune_bench.py" --json "$out/finetune_bench.json"
fi
echo
"$py" "$root/bench/report.py" "$out"
