# SPDX-License-Identifier: MIT
# spoke - parallel bulk installer engine for Python wheels.
#
#   make            libspoke (static + shared) and build/spoke
#   make deps       install missing Debian packages to build and test (root),
#                   else print the command; deps-build, deps-test, deps-bench
#   make test       the test suite (tests/run.sh); test-asan, test-tsan: sanitizers
#   make demo       install a generated demo set into a fresh venv
#   make bench      the benchmark (bench-quick: a subset in under two minutes;
#                   bench-install: the install benchmark alone)
#   make install PREFIX=/usr/local
#   make clean      remove $(BUILD) and its sanitizer and fuzz siblings
#
# Sources are found by wildcard per folder, so adding a module is adding a file.

CC      ?= cc
PREFIX  ?= /usr/local
# The Python binding (make install): next to the library it loads.
PYDIR   ?= $(PREFIX)/lib/python3/dist-packages
BUILD   ?= build
# The version is defined once, in spoke.h (as zstd's build reads zstd.h);
# the .so name, pkg-config and `spoke --version` all follow it. SOVER is the
# ABI version, which moves only when the ABI breaks.
SOVER   := 0
version_part = $(shell sed -n 's/^\#define SPOKE_VERSION_$(1)[[:blank:]]*\([0-9][0-9]*\).*/\1/p' include/spoke.h)
VERSION := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
ifneq ($(words $(subst ., ,$(VERSION))),3)
$(error cannot read SPOKE_VERSION_MAJOR/MINOR/PATCH from include/spoke.h (got '$(VERSION)'))
endif

# CFLAGS is the user's (optimisation, debug); the language level and the
# warnings are always added, so `make CFLAGS=-O0` or a sanitizer build
# (SANFLAGS) still compiles with -Werror.
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla
CPPFLAGS += -I. -Iinclude -D_GNU_SOURCE -DSPOKE_BUILDING
# The CLI sees the public header and nothing else (cli/check-imports.sh
# checks the objects too: no call but spoke_* and libc).
CLI_CPPFLAGS := -Iinclude -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
SANFLAGS ?=
ALL_CFLAGS = -std=c11 $(WARN) -pthread $(CFLAGS) $(SANFLAGS)
LIBS     := -luring -lzstd -ldeflate -lz -lcrypto -lcjson -lutf8proc -pthread

LIB_SRCS := $(sort $(wildcard base/*.c io/*.c engine/*.c cache/*.c))
CLI_SRCS := $(sort $(wildcard cli/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
PIC_OBJS := $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/t_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%) \
	$(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/tests/t_replay_%,$(wildcard tests/fuzz/fuzz_*.c))

STATIC := $(BUILD)/libspoke.a
SHARED := $(BUILD)/libspoke.so.$(VERSION)
BIN    := $(BUILD)/spoke

# Debian packages, by what needs them. Building needs only the first list;
# a test whose tool is missing skips and says which (tests/lib.sh need_tool).
DEPS_BUILD := build-essential pkg-config liburing-dev libzstd-dev \
	libdeflate-dev zlib1g-dev libssl-dev libcjson-dev libutf8proc-dev
DEPS_TEST := clang xfsprogs btrfs-progs e2fsprogs strace python3 python3-venv \
	python3-pip-whl python3-setuptools-whl python3-wheel-whl python3-pytest \
	zip unzip zstd util-linux python3-pdm
DEPS_BENCH := gnuplot-nox python3 python3-venv python3-pip-whl \
	python3-setuptools-whl python3-wheel-whl unzip util-linux xfsprogs \
	e2fsprogs

.PHONY: all deps deps-build deps-test deps-bench test test-asan test-tsan \
	demo bench bench-quick bench-install install clean tests fuzz fuzz-build stress

all: $(STATIC) $(SHARED) $(BIN)

-include $(LIB_OBJS:.o=.d) $(PIC_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

$(BUILD)/obj/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CLI_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(PIC_OBJS) libspoke.map
	$(CC) -shared -Wl,-soname=libspoke.so.$(SOVER) -Wl,-z,defs \
		-Wl,--version-script=libspoke.map $(ALL_CFLAGS) -o $@ $(PIC_OBJS) $(LIBS)
	ln -sf libspoke.so.$(VERSION) $(BUILD)/libspoke.so.$(SOVER)
	ln -sf libspoke.so.$(SOVER) $(BUILD)/libspoke.so

# The CLI links the static library: one self-contained binary. The static
# library still holds the hidden internals by name, so the link is preceded
# by a check that the CLI objects call nothing but spoke_* and libc.
$(BIN): $(CLI_OBJS) $(STATIC) cli/check-imports.sh
	cli/check-imports.sh $(CC) $(CLI_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJS) $(STATIC) $(LIBS)

$(BUILD)/tests/%: tests/%.c tests/testlib.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(LIBS)

# Sanitizer runs are several times slower, so each test gets 900 s there
# instead of 300 (the fault sweep runs spoke a thousand times).
# Sanitizer builds skip the shared library: -z defs cannot see the sanitizer
# runtime, which only executables link.
tests: $(STATIC) $(BIN) $(TEST_BINS)

# The fuzz targets with a plain main() that replays their seed corpus.
$(BUILD)/tests/t_replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DCORPUS='"tests/fuzz/corpus_$*"' $(ALL_CFLAGS) -o $@ $< \
		tests/fuzz/replay.c $(STATIC) $(LIBS)

# deps-LIST: install what LIST lacks (as root), else print the command. A
# developer who cannot install test or bench tools still builds and tests:
# only the build list is fatal, the tests that need a missing tool skip.
deps: deps-build deps-test

deps-build:
	@$(call install_pkgs,build,$(DEPS_BUILD),exit 1)

deps-test:
	@$(call install_pkgs,test,$(DEPS_TEST),echo "deps-test: the tests that need them will skip")

deps-bench:
	@$(call install_pkgs,bench,$(DEPS_BENCH),exit 1)

# $(call install_pkgs,NAME,PACKAGES,WHAT-TO-DO-WHEN-NOT-ROOT)
install_pkgs = missing=$$(for p in $(2); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps-$(1): all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps-$(1): installing$$(echo $$missing | sed 's/^/ /')"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps-$(1): missing packages; run as root:"; \
		echo "  apt-get install -y $$(echo $$missing)"; $(3); fi

test: deps-build deps-test
	$(MAKE) all tests
	BUILD=$(BUILD) tests/run.sh

# Sanitizer builds live beside $(BUILD); their flags add to the usual ones.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSAN_FLAGS := -fsanitize=thread

test-asan: deps-build deps-test
	$(MAKE) BUILD=$(BUILD)-asan CC=clang CFLAGS="-O1 -g" SANFLAGS="$(ASAN_FLAGS)" tests
	BUILD=$(BUILD)-asan SPOKE_SANITIZER=asan \
		SPOKE_TEST_TIMEOUT=$${SPOKE_TEST_TIMEOUT:-900} tests/run.sh

test-tsan: deps-build deps-test
	$(MAKE) BUILD=$(BUILD)-tsan CC=clang CFLAGS="-O1 -g" SANFLAGS="$(TSAN_FLAGS)" tests
	BUILD=$(BUILD)-tsan SPOKE_SANITIZER=tsan \
		SPOKE_TEST_TIMEOUT=$${SPOKE_TEST_TIMEOUT:-900} tests/run.sh --tsan

# Fuzz targets (libFuzzer, clang): every parser of untrusted input. The seed
# corpora are replayed by the normal test run too (t_fuzz_replay.sh).
FUZZ_DIR := $(BUILD)-fuzz
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 300
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer

$(FUZZ_DIR)/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(FUZZ_DIR)
	clang $(CPPFLAGS) -std=c11 $(WARN) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(LIBS)

fuzz-build: $(FUZZ_TARGETS)

# make fuzz FUZZ_SECONDS=60 (CI) or longer by hand. New inputs go to a scratch
# corpus, so the committed seeds stay small.
fuzz: deps-build deps-test fuzz-build
	@for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
		mkdir -p $(FUZZ_DIR)/corpus-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			$(FUZZ_DIR)/corpus-$$n tests/fuzz/corpus_$${n#fuzz_} 2>&1 | tail -3 || exit 1; \
	done

demo: deps-build deps-test all
	tests/demo.sh $(BUILD)

bench: deps-build deps-bench all
	bench/run.sh
	bench/install.sh

# The install benchmark alone (issue 13: spoke install against pip, cp -al
# and copy-tree on ext4 and XFS; ~15 min on 2 cores).
bench-install: deps-build deps-bench all
	bench/install.sh

bench-quick: deps-build deps-bench all
	bench/run.sh --quick

# The long forms of the reliability tests (docs/RELIABILITY.md): the fault
# sweep over three scenarios plus every allocation, 200 kill points.
stress: all
	BUILD=$(BUILD) bash tests/t_sweep.sh --full
	BUILD=$(BUILD) bash tests/t_crash.sh --full

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/spoke
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libspoke.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libspoke.so.$(SOVER)
	ln -sf libspoke.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libspoke.so
	install -m 644 include/spoke.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/spoke.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		libspoke.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libspoke.pc
	install -d $(DESTDIR)$(PYDIR)/spoke
	install -m 644 python/spoke/__init__.py $(DESTDIR)$(PYDIR)/spoke/
	printf 'LIBRARY = "%s"\n' '$(PREFIX)/lib/libspoke.so.$(SOVER)' \
		> $(DESTDIR)$(PYDIR)/spoke/_libpath.py

# The embedding examples (docs/EMBEDDING.md) built against this tree's
# shared library, as a host builds against an installed one; the rpath lets
# them run from build/. tests/t_examples.sh builds them with pkg-config
# from a `make install` copy instead.
.PHONY: examples
examples: $(BUILD)/examples/install_wheels

$(BUILD)/examples/install_wheels: examples/install_wheels.c include/spoke.h $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iinclude -o $@ $< -L$(BUILD) -lspoke \
		-Wl,-rpath,$(abspath $(BUILD))

# Only what this build made: $(BUILD) and the sanitizer and fuzz builds
# named after it, never a directory the variable did not name.
clean:
	@case "$(BUILD)" in ""|/|.|..) echo "clean: refusing BUILD='$(BUILD)'" >&2; exit 1 ;; esac
	rm -rf -- $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(FUZZ_DIR)
