#!/usr/bin/env bash
# Builds the libFuzzer target (.build/fuzz/fuzz_load) with AddressSanitizer, compiling
# RecurCore's sources into the harness module.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build/fuzz"
mkdir -p "$out"
srcs=$(find "$root/Sources/RecurCore" -name '*.swift' | sort)
if [ -x "$out/fuzz_load" ] && [ -z "$(find $srcs "$root/fuzz/FuzzLoad.swift" "$root/Sources/RecurCore/Kernels/CPU" -newer "$out/fuzz_load" 2>/dev/null)" ]; then
  exit 0
fi
# The C kernels target: compiled with clang (with ASan) and given a module map.
clang=$(dirname "$(command -v swift)")/clang
mkdir -p "$out/kernels"
cpu="$root/Sources/RecurCore/Kernels/CPU"
printf 'module CRecurKernels {\n  header "%s"\n  export *\n}\n' "$cpu/include/recur_kernels.h" \
  > "$out/kernels/module.modulemap"
"$clang" -O2 -g -fsanitize=address -I "$cpu/include" -c "$cpu/kernels.c" -o "$out/kernels/kernels.o"
"$clang" -O2 -g -fsanitize=address -I "$cpu/include" -c "$cpu/pool.c" -o "$out/kernels/pool.o"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name RecurFuzz -package-name recur -use-ld=lld \
  -I "$root/Sources/CZlib" -I "$root/Sources/CRecurAPI" -I "$out/kernels" $srcs "$root/fuzz/FuzzLoad.swift" "$out/kernels/kernels.o" "$out/kernels/pool.o" \
  -o "$out/fuzz_load"
