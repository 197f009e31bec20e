# recur -- top-level entry points.
#
#   make                 build the release library .build/release/librecur.so
#   make install PREFIX=/some/dir
#                        install include/recur.h, lib/librecur.so, lib/pkgconfig/recur.pc, bin/recur
#   make demo            run the demo (builds what it needs): speaker enrollment on JapaneseVowels
#   make demo DEMO=all   also the Python variant and the C quick start
#   make test            run every test: Swift (swift test), C (Tests/c) and Python (pytest)
#   make bench           run the C benchmark (bench/README.md)
#   make reliability     the hardening checks CI runs after `make test` (docs/RELIABILITY.md):
#                        reliability tests, a bounded fuzzing run, ThreadSanitizer stress
#
# The release-only flags live here, so Package.swift stays free of unsafe flags:
# the Swift runtime is linked statically and a version script exports exactly recur_*.

SWIFT    ?= swift
CC       ?= cc
PREFIX   ?= /usr/local
VERSION  := $(shell sed -n 's/^\#define RECUR_VERSION_STRING "\(.*\)"/\1/p' include/recur.h)
# The C++ runtime the Swift runtime uses is linked statically as well when the C compiler has
# a libstdc++.a: a directory holding only that archive goes first on the library path, so the
# runtime's own -lstdc++ resolves to it (measured: ~1 ms less process start-up, ~100 KB more
# library); without one, libstdc++.so stays a dependency.
STDCXX_A := $(shell $(CC) -print-file-name=libstdc++.a 2>/dev/null)
CXXDIR   := $(CURDIR)/.build/static-cxx
ifneq ($(wildcard $(STDCXX_A)),)
STATICCXX := -Xlinker -L$(CXXDIR)
endif
RELEASE  := -c release -Xswiftc -static-stdlib $(STATICCXX) -Xlinker --version-script=$(CURDIR)/include/recur.map -Xcc -gdwarf-4
LIBDIR   := $(CURDIR)/.build/release
LIB      := $(LIBDIR)/librecur.so
OUT      := $(CURDIR)/.build/recur-c
DEMO     ?= c
K        ?= 5

.PHONY: all lib install demo test test-swift test-c test-python reliability fuzz bench bench-python deps clean

all: lib

deps:
	@bash .ci/deps.sh

lib: deps
	@if [ -n "$(STATICCXX)" ]; then mkdir -p $(CXXDIR) && ln -sf $(STDCXX_A) $(CXXDIR)/libstdc++.a; fi
	$(SWIFT) build $(RELEASE)

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(LIBDIR)/recur-cli $(DESTDIR)$(PREFIX)/bin/recur
	install -m 644 include/recur.h $(DESTDIR)$(PREFIX)/include/recur.h
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/librecur.so
	printf 'prefix=%s\nincludedir=$${prefix}/include\nlibdir=$${prefix}/lib\n\nName: recur\nDescription: Embeddable runtime for feedback (recurrent) neural networks\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lrecur\nLibs.private: -lz -lm\n' \
		'$(PREFIX)' '$(VERSION)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/recur.pc

demo: lib
	@mkdir -p $(OUT)
	@$(CC) -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/c/vowels.c -L$(LIBDIR) -lrecur -Wl,-rpath,$(LIBDIR) -lm -o $(OUT)/vowels
	@$(OUT)/vowels --k $(K) --out $(OUT)/vowels-personalised.recur
ifeq ($(DEMO),all)
	@echo; echo "=== the same story from Python (bindings/python/examples/vowels.py) ==="
	@python3 bindings/python/examples/vowels.py --k $(K)
	@echo; echo "=== C quick start (examples/c/quickstart.c) ==="
	@$(CC) -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/c/quickstart.c -L$(LIBDIR) -lrecur -Wl,-rpath,$(LIBDIR) -lm -o $(OUT)/quickstart
	@$(OUT)/quickstart $(OUT)/quickstart.recur
endif

test: test-swift test-c test-python

test-swift: deps
	$(SWIFT) test
	RECUR_KERNELS=portable $(SWIFT) test --filter 'ReferenceTests|KernelTests|RobustnessTests|QuantTests'

test-c: lib
	bash Tests/c/run.sh

test-python: lib
	python3 -m pytest -q bindings/python/tests

FUZZ_SECONDS ?= 60
reliability: lib
	python3 -m pytest -q -s Tests/reliability
	bash fuzz/run.sh $(FUZZ_SECONDS)
	bash Tests/sanitizers.sh thread-ci

fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

bench: lib
	bash bench/run.sh

bench-python: lib
	python3 bench/python_bench.py

clean:
	rm -rf .build
