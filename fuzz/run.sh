#!/usr/bin/env bash
# Fuzz the checkpoint loader for SECONDS seconds in total (half as-is, half with the CRCs
# recomputed by the harness). Crashes are saved to .build/fuzz/crashes/; copy each into
# fuzz/regressions/ once fixed.   bash fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
half=$(( (secs + 1) / 2 ))
out="$root/.build/fuzz"
bash "$root/fuzz/build.sh"
rm -rf "$out/seeds" && python3 "$root/fuzz/make_corpus.py" "$out/seeds" >/dev/null
mkdir -p "$out/corpus-asis" "$out/corpus-crc" "$out/crashes"
total=0
for mode in asis crc; do
  log="$out/fuzz-$mode.log"
  RECUR_FUZZ_MODE=$mode "$out/fuzz_load" "$out/corpus-$mode" "$out/seeds" -dict="$root/fuzz/recur.dict" \
    -max_total_time="$half" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$mode-" > "$log" 2>&1 || { echo "fuzz ($mode): CRASH -- see $log and $out/crashes"; tail -40 "$log"; exit 1; }
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  corpus=$(ls "$out/corpus-$mode" | wc -l)
  echo "fuzz ($mode): ${runs} executions in ${half}s, ${cov}, corpus ${corpus} files, 0 crashes"
  total=$((total + runs))
done
echo "fuzz: ${total} executions in total, 0 crashes"
