# recur -- top-level entry points.
#
#   make                 build the release library .build/release/librecur.so
#   make install PREFIX=/some/dir
#                        install include/recur.h, lib/librecur.so, lib/pkgconfig/recur.pc, bin/recur
#                        and share/recur/models/*.recur (non-system prefixes: recur.pc carries an
#                        rpath; /usr and /usr/local as root: ldconfig runs)
#   make wheel           dist/recur-VERSION-py3-none-linux_ARCH.whl with the library bundled
#   make deps            install missing system and Python test packages (apt, pip): the only
#                        target that runs a package manager; make demo and make test run it first
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
# The toolchain's lld links the release products when it ships one: GNU ld prints a "use of
# mktemp is dangerous" warning for the copy of FoundationEssentials that the CLI's argument
# parser pulls in (the library itself has no Foundation); lld does not.
LLD      := $(if $(wildcard $(dir $(realpath $(shell command -v $(SWIFT) 2>/dev/null)))ld.lld),-Xswiftc -use-ld=lld)
RELEASE  := -c release -Xswiftc -static-stdlib $(STATICCXX) $(LLD) -Xlinker --version-script=$(CURDIR)/include/recur.map -Xcc -gdwarf-4
LIBDIR   := $(CURDIR)/.build/release
LIB      := $(LIBDIR)/librecur.so
OUT      := $(CURDIR)/.build/recur-c
DEMO     ?= c
K        ?= 5

.PHONY: all lib lib-deps install wheel demo test test-swift test-c test-python reliability fuzz bench bench-python deps clean

all: lib

# The only target that installs anything (apt-get for missing system packages, pip for the
# Python test packages); .ci/run, make demo and make test call it. Building (make, make lib,
# make install, make wheel, and pip's build of bindings/python) never does.
deps:
	@bash .ci/deps.sh

# What the demo needs: the system build tools (plus numpy for DEMO=all).
lib-deps:
	@bash .ci/deps.sh system $(if $(filter all,$(DEMO)),numpy)

# SwiftPM does not recompile Swift files when a C header they import changes its macros
# (RECUR_VERSION_*, struct layouts): touch those that read include/recur.h when it is newer.
HEADER_STAMP := .build/.recur-h-stamp
$(HEADER_STAMP): include/recur.h
	@mkdir -p .build && touch Sources/RecurCore/Version.swift Sources/Recur/*.swift && touch $@

lib: $(HEADER_STAMP)
	@command -v $(SWIFT) >/dev/null || { echo "make: the Swift toolchain ($(SWIFT)) is not on PATH" >&2; exit 1; }
	@if [ -n "$(STATICCXX)" ]; then mkdir -p $(CXXDIR) && ln -sf $(STDCXX_A) $(CXXDIR)/libstdc++.a; fi
	$(SWIFT) build $(RELEASE)

# System prefixes are on the loader's and pkg-config's default paths; anything else gets an
# rpath in recur.pc, so `cc app.c $$(pkg-config --cflags --libs recur)` builds a program that
# runs without LD_LIBRARY_PATH (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig finds the .pc).
SYSTEM_PREFIX := $(filter /usr /usr/local,$(patsubst %/,%,$(PREFIX)))
PC_RPATH := $(if $(SYSTEM_PREFIX),, -Wl,-rpath,$${libdir})

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/recur/models
	install -m 755 $(LIBDIR)/recur-cli $(DESTDIR)$(PREFIX)/bin/recur
	install -m 644 include/recur.h $(DESTDIR)$(PREFIX)/include/recur.h
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/librecur.so
	install -m 644 models/*.recur $(DESTDIR)$(PREFIX)/share/recur/models/
	printf 'prefix=%s\nincludedir=$${prefix}/include\nlibdir=$${prefix}/lib\n\nName: recur\nDescription: Embeddable runtime for feedback (recurrent) neural networks\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lrecur%s\nLibs.private: -lz -lm\n' \
		'$(PREFIX)' '$(VERSION)' '$(PC_RPATH)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/recur.pc
	@if [ -n "$(SYSTEM_PREFIX)" ] && [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
		ldconfig && echo "installed into $(PREFIX) (ldconfig updated the loader cache)"; \
	elif [ -z "$(SYSTEM_PREFIX)" ]; then \
		echo "installed into $(PREFIX); for pkg-config: export PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig (programs built with it find librecur.so through its rpath)"; fi

wheel: lib
	python3 bindings/python/tools/make_wheel.py --lib $(LIB) --out dist

demo: lib-deps lib
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

test: deps
	@$(MAKE) --no-print-directory test-swift test-c test-python

test-swift:
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
