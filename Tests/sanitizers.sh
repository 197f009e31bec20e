#!/usr/bin/env bash
# Runs the tests under the sanitizers. Usage: bash Tests/sanitizers.sh [address|thread|undefined|c|all]
#   address    the whole Swift test suite under AddressSanitizer (also catches leaks via LSan)
#   thread     the whole Swift test suite under ThreadSanitizer
#   thread-ci  only the concurrency tests (stress, C ABI, trainer) under TSan: what CI runs
#   undefined  the C tests built with UndefinedBehaviorSanitizer (swiftc rejects -sanitize=undefined
#              on Linux; Swift code itself traps on overflow and out-of-bounds in checked builds)
#   c          the C tests against an AddressSanitizer build of librecur, compiled with the
#              toolchain's clang (same sanitizer runtime as Swift), and under ThreadSanitizer
# Each build uses its own scratch directory (.build-asan, .build-tsan, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
fail=0
run() { echo "== $*"; if "$@"; then echo "== ok"; else echo "== FAILED: $*"; fail=1; fi; }

if [ "$what" = address ] || [ "$what" = all ]; then
  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/Tests/lsan.supp run swift test --sanitize=address --scratch-path .build-asan
fi
if [ "$what" = thread ] || [ "$what" = all ]; then
  RECUR_STRESS_STEPS=${RECUR_STRESS_STEPS:-20000} TSAN_OPTIONS=halt_on_error=1 \
    run swift test --sanitize=thread --scratch-path .build-tsan
fi
if [ "$what" = thread-ci ]; then
  RECUR_STRESS_STEPS=${RECUR_STRESS_STEPS:-20000} TSAN_OPTIONS=halt_on_error=1 \
    run swift test --sanitize=thread --scratch-path .build-tsan --filter 'StressTests|CABITests|TrainerTests|ThreadTests'
fi
if [ "$what" = undefined ] || [ "$what" = all ]; then
  clang=$(dirname "$(command -v swift)")/clang
  make -s lib >/dev/null
  lib=$(pwd)/.build/release
  tmp=$(mktemp -d)
  for t in test_api test_train test_alloc; do
    "$clang" -std=c99 -g -fsanitize=undefined -fno-sanitize-recover=all -Iinclude Tests/c/$t.c -L"$lib" -lrecur \
      -Wl,-rpath,"$lib" -lm -lpthread -o "$tmp/$t"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 run "$tmp/$t" "$tmp"
  done
  rm -rf "$tmp"
fi
if [ "$what" = c ] || [ "$what" = all ]; then
  clang=$(dirname "$(command -v swift)")/clang
  for san in ${C_SANITIZERS:-address thread}; do
    sp=.build-c$san
    swift build --sanitize=$san --scratch-path $sp --product recur >/dev/null
    lib=$(cd $sp/debug && pwd)
    tmp=$(mktemp -d)
    extra=""
    if [ $san = thread ]; then  # clang's TSan runtime intercepts libdispatch: link the toolchain's
      sw=$(cd "$(dirname "$(command -v swift)")/../lib/swift/linux" && pwd)
      extra="-L$sw -ldispatch -lBlocksRuntime -Wl,-rpath,$sw"
    fi
    for t in test_api test_train; do
      "$clang" -std=c99 -g -fsanitize=$san -Iinclude Tests/c/$t.c -L"$lib" -lrecur -Wl,-rpath,"$lib" -lm -lpthread $extra -o "$tmp/$t"
      ASAN_OPTIONS=detect_leaks=1 TSAN_OPTIONS=halt_on_error=1 run "$tmp/$t" "$tmp"
    done
    rm -rf "$tmp"
  done
fi
exit $fail
