#!/usr/bin/env bash
# C-side tests: install into a temporary prefix, then check the installed artefacts
# exactly as a C user would see them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
prefix=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT
make -s install PREFIX="$prefix" >/dev/null
lib="$prefix/lib/librecur.so"
fail=0; pass=0
ok()  { echo "ok   $*"; pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }

# 1. The header compiles cleanly as C99 and C++ with strict warnings.
for std in c99 c11; do
  if cc -std=$std -Wall -Wextra -Werror -pedantic -fsyntax-only -x c "$prefix/include/recur.h"; then ok "header as $std"; else bad "header as $std"; fi
done
if c++ -std=c++11 -Wall -Wextra -Werror -pedantic -I"$prefix/include" Tests/c/header_cpp.cpp -L"$prefix/lib" -lrecur -Wl,-rpath,"$prefix/lib" -o "$work/cpp" && "$work/cpp"; then
  ok "header as C++11, linked and run"; else bad "header as C++11"; fi

# 2. Dependencies: only libc, libm, libz, libgcc_s, libstdc++ (and the loader); the Makefile links
#    libstdc++ statically when the compiler has libstdc++.a, so it should be absent then.
needed=$(readelf -d "$lib" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort)
extra=$(echo "$needed" | grep -vE '^(libc\.so\.6|libm\.so\.6|libz\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$' || true)
if [ -z "$extra" ]; then ok "dependencies: $(echo $needed)"; else bad "unexpected dependencies: $extra"; fi
if echo "$needed" | grep -q swift; then bad "links a Swift runtime library dynamically"; fi
if [ -f "$(${CC:-cc} -print-file-name=libstdc++.a)" ] && echo "$needed" | grep -q 'libstdc++'; then
  bad "libstdc++.a is available but libstdc++.so is still a dependency"; fi

# 3. Exported symbols == functions declared in the header.
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sort -u)
declared=$(sed -nE 's/^RECUR_API[^(]*[^a-z0-9_](recur_[a-z0-9_]+)\(.*/\1/p' "$prefix/include/recur.h" | sort -u)
if [ "$exported" == "$declared" ]; then ok "exports == header ($(echo "$declared" | wc -l) functions)"
else bad "exports differ from header:"; diff <(echo "$exported") <(echo "$declared") || true; fi

# 4. pkg-config file works.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
if [ "$(pkg-config --modversion recur)" == "$(sed -n 's/^#define RECUR_VERSION_STRING "\(.*\)"/\1/p' include/recur.h)" ]; then ok "pkg-config version"; else bad "pkg-config"; fi

# 5. The C test program, built with pkg-config against the installed copy.
cc -std=c99 -O1 -Wall -Wextra -Werror -pedantic Tests/c/test_api.c $(pkg-config --cflags --libs recur) \
   -Wl,-rpath,"$prefix/lib" -lm -lpthread -o "$work/test_api"
if "$work/test_api" "$work"; then ok "test_api"; else bad "test_api"; fi

# 5b. Fine-tuning through the C API.
cc -std=c99 -O1 -Wall -Wextra -Werror -pedantic Tests/c/test_train.c $(pkg-config --cflags --libs recur) \
   -Wl,-rpath,"$prefix/lib" -lm -o "$work/test_train"
if "$work/test_train" "$work"; then ok "test_train"; else bad "test_train"; fi

# 5c. The ABI promise: programs built against the frozen 0.1.0 and 0.2.0 headers (ABI version 1)
#     run on this library (test_api wrote $work/gated.recur), and every version-1 field keeps its
#     offset in both.
cc -std=c99 -O1 -Wall -Wextra -Werror -pedantic -I Tests/c/abi_v1 Tests/c/test_abi_v1.c -L"$prefix/lib" -lrecur \
   -Wl,-rpath,"$prefix/lib" -lm -o "$work/test_abi_v1"
if "$work/test_abi_v1" models/vowels-5speakers.recur; then ok "ABI v1 client (frozen 0.1.0 header) on this library"; else bad "ABI v1 client"; fi
cc -std=c99 -O1 -Wall -Wextra -Werror -pedantic -I Tests/c/abi_v2 Tests/c/test_abi_v2.c -L"$prefix/lib" -lrecur \
   -Wl,-rpath,"$prefix/lib" -lm -o "$work/test_abi_v2"
if [ -f "$work/gated.recur" ] && "$work/test_abi_v2" models/vowels-5speakers.recur "$work/gated.recur"; then
  ok "ABI 0.2.0 client (frozen header, config without the 0.3.0 fields) on this library, GRU/LSTM file included"
else bad "ABI 0.2.0 client"; fi
cc -std=c99 -Wall -Wextra -Werror -I Tests/c/abi_v1 Tests/c/abi_layout.c -o "$work/layout_v1"
cc -std=c99 -Wall -Wextra -Werror -I Tests/c/abi_v2 Tests/c/abi_layout.c -o "$work/layout_v2"
cc -std=c99 -Wall -Wextra -Werror -I "$prefix/include" Tests/c/abi_layout.c -o "$work/layout_now"
if diff <("$work/layout_v1") <("$work/layout_now") >/dev/null && diff <("$work/layout_v2") <("$work/layout_now") >/dev/null; then ok "struct layouts: every version-1 field at its 0.1.0 offset ($("$work/layout_now" | wc -l) checked)"
else bad "struct layouts changed:"; diff <("$work/layout_v1") <("$work/layout_now") || true; fi

# 6. Stepping allocates nothing (malloc interposed and counted).
cc -std=c99 -O1 -Wall -Wextra -Werror Tests/c/test_alloc.c $(pkg-config --cflags --libs recur) -Wl,-rpath,"$prefix/lib" -o "$work/test_alloc"
if "$work/test_alloc"; then ok "zero allocations per step"; else bad "allocations on the step path"; fi

# 6b. The installed CLI is statically linked like the library and runs.
cli_needed=$(readelf -d "$prefix/bin/recur" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort)
if echo "$cli_needed" | grep -qvE '^(libc\.so\.6|libm\.so\.6|libz\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'; then
  bad "recur CLI dependencies: $(echo $cli_needed)"
elif "$prefix/bin/recur" inspect models/vowels-5speakers.recur >/dev/null; then ok "installed recur CLI: $(echo $cli_needed)"
else bad "installed recur CLI does not run"; fi

# 7. No Foundation/ICU inside the library.
if nm -D "$lib" | grep -qi 'icu\|Foundation'; then bad "Foundation/ICU symbols present"; else ok "no Foundation/ICU"; fi

echo "ctests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
