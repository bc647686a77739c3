# SPDX-License-Identifier: MIT
# spoke - parallel bulk installer engine for Python wheels.
#
#   make            libspoke (static + shared) and build/spoke
#   make deps       install missing Debian packages (root), else print the command
#   make test       the test suite (tests/run.sh); test-asan, test-tsan: sanitizers
#   make demo       install a generated demo set into a fresh venv
#   make bench      the benchmark (bench-quick: a subset in under two minutes)
#   make install PREFIX=/usr/local
#
# Sources are found by wildcard per folder, so adding a module is adding a file.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
SOVER   := 0
VERSION := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla
CPPFLAGS += -I. -Iinclude -D_GNU_SOURCE -DSPOKE_BUILDING
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -pthread
LIBS     := -luring -lzstd -ldeflate -lcrypto -lcjson -lutf8proc -pthread

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

DEB_PKGS := build-essential clang pkg-config liburing-dev libzstd-dev \
	libdeflate-dev libssl-dev libcjson-dev libutf8proc-dev xfsprogs btrfs-progs e2fsprogs \
	strace python3 python3-venv python3-pip-whl python3-setuptools-whl \
	python3-wheel-whl python3-pytest zip unzip zstd util-linux gnuplot-nox

.PHONY: all deps test test-asan test-tsan demo bench bench-quick install \
	clean tests fuzz fuzz-build stress

all: $(STATIC) $(SHARED) $(BIN)

-include $(LIB_OBJS:.o=.d) $(PIC_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(PIC_OBJS) libspoke.map
	$(CC) -shared -Wl,-soname=libspoke.so.$(SOVER) -Wl,-z,defs \
		-Wl,--version-script=libspoke.map $(CFLAGS) -o $@ $(PIC_OBJS) $(LIBS)
	ln -sf libspoke.so.$(VERSION) $(BUILD)/libspoke.so.$(SOVER)
	ln -sf libspoke.so.$(SOVER) $(BUILD)/libspoke.so

# The CLI links the static library: one self-contained binary, and it can
# only reach what spoke.h exports plus nothing hidden it could call by mistake
# (it includes nothing but spoke.h).
$(BIN): $(CLI_OBJS) $(STATIC)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(STATIC) $(LIBS)

$(BUILD)/tests/%: tests/%.c tests/testlib.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(STATIC) $(LIBS)

# Sanitizer builds skip the shared library: -z defs cannot see the sanitizer
# runtime, which only executables link.
tests: $(STATIC) $(BIN) $(TEST_BINS)

# The fuzz targets with a plain main() that replays their seed corpus.
$(BUILD)/tests/t_replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DCORPUS='"tests/fuzz/corpus_$*"' $(CFLAGS) -o $@ $< \
		tests/fuzz/replay.c $(STATIC) $(LIBS)

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: missing packages; run as root:"; \
		echo "  apt-get install -y $$(echo $$missing)"; exit 1; fi

test: deps
	$(MAKE) all tests
	BUILD=$(BUILD) tests/run.sh

test-asan: deps
	$(MAKE) BUILD=build-asan CC=clang \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" tests
	BUILD=build-asan SPOKE_SANITIZER=asan tests/run.sh

test-tsan: deps
	$(MAKE) BUILD=build-tsan CC=clang CFLAGS="-O1 -g -fsanitize=thread" tests
	BUILD=build-tsan SPOKE_SANITIZER=tsan tests/run.sh --tsan

# Fuzz targets (libFuzzer, clang): every parser of untrusted input. The seed
# corpora are replayed by the normal test run too (t_fuzz_replay.sh).
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 300
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer

build-fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p build-fuzz
	clang $(CPPFLAGS) -std=c11 $(WARN) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(LIBS)

fuzz-build: $(FUZZ_TARGETS)

# make fuzz FUZZ_SECONDS=60 (CI) or longer by hand. New inputs go to a scratch
# corpus, so the committed seeds stay small.
fuzz: deps fuzz-build
	@for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
		mkdir -p build-fuzz/corpus-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			build-fuzz/corpus-$$n tests/fuzz/corpus_$${n#fuzz_} 2>&1 | tail -3 || exit 1; \
	done

demo: deps all
	tests/demo.sh $(BUILD)

bench: deps all
	bench/run.sh

bench-quick: deps all
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

# The embedding examples (docs/EMBEDDING.md) built against this tree's
# shared library, as a host builds against an installed one; the rpath lets
# them run from build/. tests/t_examples.sh builds them with pkg-config
# from a `make install` copy instead.
.PHONY: examples
examples: $(BUILD)/examples/install_wheels

$(BUILD)/examples/install_wheels: examples/install_wheels.c include/spoke.h $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -o $@ $< -L$(BUILD) -lspoke \
		-Wl,-rpath,$(abspath $(BUILD))

clean:
	rm -rf build build-asan build-tsan build-fuzz
