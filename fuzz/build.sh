#!/usr/bin/env bash
# Builds the libFuzzer target (.build/fuzz/fuzz_load) with AddressSanitizer, compiling
# RecurCore's sources into the harness module.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build/fuzz"
mkdir -p "$out"
srcs=$(find "$root/Sources/RecurCore" -name '*.swift' | sort)
if [ -x "$out/fuzz_load" ] && [ -z "$(find $srcs "$root/fuzz/FuzzLoad.swift" -newer "$out/fuzz_load" 2>/dev/null)" ]; then
  exit 0
fi
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name RecurFuzz \
  -I "$root/Sources/CZlib" $srcs "$root/fuzz/FuzzLoad.swift" -o "$out/fuzz_load"
