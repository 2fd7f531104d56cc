# zcshim - TCP zero-copy receive for unmodified programs.
#
#   make            build build/libzcshim.so and build/zcstat
#   make demo       install what is missing, build, run the demo
#   make test       install what is missing, build, run every test suite
#   make check-symbols   prove the library exports only its hooks
#   make fuzz       libFuzzer targets for FUZZ_SECONDS each (default 60)
#   make bench      zcbench: shim vs plain recv() (BENCH_ARGS="--runs 7 ...")
#   make soak       SOAK_SECONDS of random connections, reads, dups, closes, forks
#   make tsan       ThreadSanitizer on the threaded helpers under the shim
#   make test SANITIZE=address,undefined   the tools, helpers and tests sanitized
#   make test SANITIZE=thread   the shim, tools and helpers under ThreadSanitizer
#   make install PREFIX=/usr/local DESTDIR=
#
# Debian packages are installed on demand (tools/deps.sh), so a fresh
# machine needs only these commands.

.DEFAULT_GOAL := all

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
# SANITIZE=address,undefined (or thread) builds the tools, helpers and
# tests with those sanitizers, in a build directory of their own.
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD   ?= build
SAN_FLAGS =
else
BUILD   ?= build-$(subst $(comma),-,$(SANITIZE))
SAN_FLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -DZCSHIM_SANITIZE
endif
comma := ,

CFLAGS_BASE = -std=gnu11 -O2 -g -Wall -Wextra -Werror -MMD -MP
TSAN_MODE = $(findstring thread,$(SANITIZE))
# With SANITIZE=thread the shim itself is instrumented too: TSan cannot see
# the locks and atomics of an uninstrumented shim, so the helpers' reports
# would be about synchronisation it never saw.  (With ASan the shim stays
# plain; its own ASan build is tested apart, see libzcshim-asan.so.)
SHIM_SAN = $(if $(TSAN_MODE),-fsanitize=thread)
# Link-time optimisation: the hooks, the fd table and the read path live in
# separate files, and a pass-through read crosses all of them (measured with
# callgrind: 284 -> 186 instructions per 4 KiB pass-through read).
SHIM_LTO = $(if $(SANITIZE),,-flto=auto)
SHIM_CFLAGS = $(CFLAGS_BASE) -fPIC -fvisibility=hidden -fno-strict-aliasing $(SHIM_SAN) $(SHIM_LTO)
# The version's one home is debian/changelog; every tool's --version says it.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
TOOL_CFLAGS = $(CFLAGS_BASE) $(SAN_FLAGS) -DZCSHIM_MULTIARCH='"$(MULTIARCH)"' -DZCSHIM_VERSION='"$(VERSION)"'
# The Criterion runners cannot run under ThreadSanitizer (their arena
# collides with its memory layout): with SANITIZE=thread only the shim and
# the programs the runners drive are instrumented.  The runners are told
# which build they drive (ZCSHIM_SANITIZE, ZCSHIM_SANITIZE_THREAD).
TEST_SAN = $(if $(TSAN_MODE),,$(SAN_FLAGS))
TEST_DEFS = $(if $(SANITIZE),-DZCSHIM_SANITIZE) $(if $(TSAN_MODE),-DZCSHIM_SANITIZE_THREAD)
TEST_CFLAGS = $(CFLAGS_BASE) $(TEST_SAN) $(TEST_DEFS)
CFLAGS ?=

# common/: what the shim and the tools both use (segment layout and reader,
# reason names, stats directory, kernel probe, formatter).
COMMON_SRC = common/segfmt.c common/statdir.c common/kzc.c common/zfmt.c common/size.c
SHIM_SRC = shim/preload.c shim/init.c shim/fdtable.c shim/zcwin.c shim/zcread.c shim/stats.c \
           shim/callsite.c shim/config.c shim/log.c shim/libc.c shim/iocur.c shim/memok.c \
           shim/take.c shim/policy.c shim/peer.c shim/auto.c shim/inplace.c shim/sigwatch.c shim/maphooks.c shim/sighooks.c shim/sandbox.c $(COMMON_SRC)
SHIM_OBJ = $(SHIM_SRC:%.c=$(BUILD)/obj/%.o)
LIB      = $(BUILD)/libzcshim.so

# The tools link common/ only; the unit tests and fuzzers also link the
# shim's pure modules (configuration parser, stats segment writer, logger,
# auto mode, the policy).
TOOL_COMMON_SRC = common/segread.c $(COMMON_SRC)
COMMON_OBJ = $(TOOL_COMMON_SRC:%.c=$(BUILD)/tobj/%.o)
TEST_COMMON_SRC = $(TOOL_COMMON_SRC) shim/stats.c shim/config.c shim/log.c shim/auto.c shim/policy.c shim/peer.c tools/zcstat/zcprom.c
TEST_COMMON_OBJ = $(TEST_COMMON_SRC:%.c=$(BUILD)/testobj/%.o)

# The programs the tests, the demo and the benchmark drive live in
# tests/helpers/ and are built into build/helpers/, apart from the tools
# that ship.
HELPERS = zcsend zcrecv zcecho zcsem zclife zcnozc zcsmall zcstress zcbad zcdiff zcstack zcput
HDIR = $(BUILD)/helpers
HELPER_BIN = $(HELPERS:%=$(HDIR)/%) $(HDIR)/zcapi $(HDIR)/zcstress-asan $(HDIR)/libzcfault.so $(HDIR)/libzcseen.so $(BUILD)/libzcshim-asan.so

# The in-place API's test driver links the library, as an application would.
$(HDIR)/zcapi: $(BUILD)/tobj/tests/helpers/zcapi.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $< -L$(BUILD) -lzcshim -Wl,-rpath,'$$ORIGIN/..' -pthread

$(HDIR)/libzcfault.so: tests/helpers/zcfault.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared -o $@ $< -ldl

$(HDIR)/libzcseen.so: tests/helpers/zcseen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared -o $@ $< -ldl

# The shim itself under ASan+UBSan, for the test that preloads it behind
# libasan (the documented order: LD_PRELOAD="libasan.so libzcshim-asan.so").
# The hooks a sanitizer runtime calls while it starts are never instrumented.
EARLY_HOOKS = shim/maphooks.c shim/sighooks.c shim/sandbox.c
$(BUILD)/early-hooks.o: $(EARLY_HOOKS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -fvisibility=hidden -Icommon -r -nostdlib -o $@ $(EARLY_HOOKS)

$(BUILD)/libzcshim-asan.so: $(SHIM_SRC) shim/libzcshim.map $(BUILD)/early-hooks.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -fvisibility=hidden -fno-strict-aliasing -O1 \
	    -fsanitize=address,undefined -fno-omit-frame-pointer -shared \
	    -Wl,--version-script=shim/libzcshim.map -Icommon -Iinclude -o $@ \
	    $(filter-out $(EARLY_HOOKS),$(SHIM_SRC)) $(BUILD)/early-hooks.o -ldl -pthread

# The stress program is built with ASan and UBSan; under the shim it needs
# ASAN_OPTIONS=verify_asan_link_order=0 (the shim is preloaded before libasan).
$(HDIR)/zcstress-asan: tests/helpers/zcstress.c tests/helpers/common.h tests/helpers/pattern.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer -o $@ $< -pthread
TESTS = test_units test_cli test_core test_semantics test_diff test_api test_lifecycle test_zcstat test_doctor test_apps test_robust test_faults test_install
TEST_BIN = $(TESTS:%=$(BUILD)/%)

# The exported symbols have one home, the version script; check-symbols
# proves the library exports exactly its global list.
EXPORTS = $(shell sed -n '/global:/,/local:/p' shim/libzcshim.map | sed 's/global://; s/local:.*//; s/;/ /g')

.SECONDARY:

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600

BENCH_ARGS ?=
DAEMON_PAIRS ?= 5

.PHONY: FORCE all deps deps-test deps-fuzz demo test fuzz bench soak tsan check-symbols install uninstall clean helpers tests deb

all: $(LIB) $(BUILD)/zcstat $(BUILD)/zcsink $(BUILD)/zcshim

# Objects depend on the flags they were built with: a changed SANITIZE,
# CFLAGS or compiler rebuilds them.
FLAGS_STAMP = $(BUILD)/.flags
FLAGS_NOW = $(CC) | $(SHIM_CFLAGS) | $(TOOL_CFLAGS) | $(TEST_CFLAGS) | $(CFLAGS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) $(CFLAGS) -Icommon -Iinclude -c $< -o $@

# The mapping hooks and sigaction run inside a sanitizer runtime's own
# start-up: never instrumented (see shim/maphooks.c, shim/sighooks.c).
$(BUILD)/obj/shim/maphooks.o $(BUILD)/obj/shim/sighooks.o $(BUILD)/obj/shim/sandbox.o: $(BUILD)/obj/shim/%.o: shim/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -fvisibility=hidden $(CFLAGS) -Icommon -c $< -o $@

$(BUILD)/tobj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $(CFLAGS) -Icommon -Ishim -Itools/zcstat -Itests -Iinclude -c $< -o $@

$(BUILD)/testobj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(CFLAGS) -Icommon -Ishim -Itools/zcstat -Itests -c $< -o $@

$(LIB): $(SHIM_OBJ) shim/libzcshim.map
	$(CC) -shared $(SHIM_SAN) $(SHIM_LTO) -O2 -Wl,--version-script=shim/libzcshim.map -Wl,-z,now -Wl,-z,relro \
	    -o $@ $(SHIM_OBJ) -ldl -pthread

# zcstat doctor reads rtnetlink and ethtool netlink through libmnl.
ZCSTAT_DIR = $(BUILD)/tobj/tools/zcstat
DOCTOR_OBJ = $(ZCSTAT_DIR)/segs.o $(ZCSTAT_DIR)/zcdoctor.o $(ZCSTAT_DIR)/znl.o $(ZCSTAT_DIR)/zccost.o
$(BUILD)/zcstat: $(ZCSTAT_DIR)/zcstat.o $(ZCSTAT_DIR)/zcprom.o $(DOCTOR_OBJ) $(COMMON_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ -lmnl -pthread

$(BUILD)/zcbench: $(BUILD)/tobj/bench/zcbench.o $(COMMON_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^

# zcsink: the in-place API's tool.  It carries the shim's objects itself
# (the API, and hooks that serve only zcsink), so it needs no run-time
# search path to find the library wherever it is installed.
$(BUILD)/zcsink: $(BUILD)/tobj/tools/zcsink.o $(SHIM_OBJ) $(COMMON_OBJ)
	$(CC) $(SAN_FLAGS) $(SHIM_SAN) $(SHIM_LTO) -O2 -o $@ $(BUILD)/tobj/tools/zcsink.o $(SHIM_OBJ) \
	    $(filter-out $(COMMON_SRC:%.c=$(BUILD)/tobj/%.o),$(COMMON_OBJ)) -ldl -pthread

# zcshim: the launcher (a shell script; the multiarch directory filled in).
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
$(BUILD)/zcshim: tools/zcshim.in
	@mkdir -p $(dir $@)
	sed -e 's|@MULTIARCH@|$(MULTIARCH)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@
	chmod 0755 $@

# The benchmark's floor: bare zero-copy receive through the shim's own
# window code (bench/zcfloor.c), no hooks.
$(BUILD)/zcfloor: $(BUILD)/tobj/bench/zcfloor.o $(BUILD)/tobj/shim/zcwin.o $(BUILD)/tobj/shim/log.o $(COMMON_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^

$(HDIR)/%: $(BUILD)/tobj/tests/helpers/%.o
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -o $@ $< -pthread -lseccomp

$(BUILD)/test_%: $(BUILD)/testobj/tests/test_%.o $(BUILD)/testobj/tests/testlib.o $(TEST_COMMON_OBJ)
	$(CC) $(TEST_SAN) -o $@ $^ $$(pkg-config --libs criterion) -pthread

helpers: $(HELPER_BIN)
tests: $(TEST_BIN)

deps:
	@sh tools/deps.sh build

deps-test:
	@sh tools/deps.sh test

deps-fuzz:
	@sh tools/deps.sh fuzz

# ThreadSanitizer on the threaded programs running under the shim, with
# the shim built with TSan too (make test SANITIZE=thread runs the whole
# suite that way).
$(HDIR)/%-tsan: tests/helpers/%.c tests/helpers/common.h tests/helpers/pattern.h common/pull.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -fsanitize=thread -fno-omit-frame-pointer -Icommon -o $@ $< -pthread

# The shim built with TSan too, preloaded behind libtsan, so that TSan sees
# its own synchronisation (an uninstrumented shim's atomics are invisible).
$(BUILD)/libzcshim-tsan.so: $(SHIM_SRC) shim/libzcshim.map $(BUILD)/early-hooks.o
	$(CC) $(CFLAGS_BASE) -fPIC -fvisibility=hidden -fno-strict-aliasing -O1 -fsanitize=thread \
	    -shared -Wl,--version-script=shim/libzcshim.map -Icommon -Iinclude -o $@ \
	    $(filter-out $(EARLY_HOOKS),$(SHIM_SRC)) $(BUILD)/early-hooks.o -ldl -pthread

tsan: deps
	@$(MAKE) --no-print-directory all $(HDIR)/zcstress-tsan $(HDIR)/zcrecv-tsan $(HDIR)/zcecho-tsan \
	    $(BUILD)/libzcshim-tsan.so $(HDIR)/zcsend $(HDIR)/zcecho
	@sh tests/scripts/tsan.sh $(BUILD)

# Not in CI: SOAK_SECONDS (default 600) of zcstress under the shim.
soak: deps
	@$(MAKE) --no-print-directory all helpers
	@sh tests/scripts/soak.sh $(BUILD) $(SOAK_SECONDS)

# The shim against plain recv(), side by side (bench/zcbench.c), then the
# daemons (bench/daemons.sh): the test packages bring them.
bench: deps-test
	@$(MAKE) --no-print-directory all helpers $(BUILD)/zcbench $(BUILD)/zcfloor
	@$(BUILD)/zcbench $(BENCH_ARGS)
	@bash bench/daemons.sh $(BUILD) $(DAEMON_PAIRS)

# libFuzzer targets (segment reader + zcstat reports, config parser),
# FUZZ_SECONDS each, then the hook layer differentially (tests/scripts/fuzz-hooks.sh:
# random call sequences with and without the shim); fails on any crash,
# sanitizer report or difference.
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory all helpers
	@sh tests/scripts/fuzz.sh $(BUILD) $(FUZZ_SECONDS)

check-symbols: $(LIB)
	@sh tools/check-symbols.sh $(LIB) $(EXPORTS)

demo: deps
	@$(MAKE) --no-print-directory all helpers
	@sh tools/demo.sh $(BUILD)

test: deps-test
	@$(MAKE) --no-print-directory all helpers tests $(BUILD)/zcbench $(BUILD)/zcfloor
	@$(MAKE) --no-print-directory check-symbols
	@ZCSHIM_SANITIZE_RUN="$(SANITIZE)" sh tests/run.sh $(BUILD) $(TESTS)

# Install layout: PREFIX/bin, PREFIX/lib/zcshim (LIBDIR: the Debian
# package uses /usr/lib/<multiarch>/zcshim), headers and pkg-config file
# for the in-place API.
LIBDIR ?= $(PREFIX)/lib/zcshim
PCDIR ?= $(PREFIX)/lib/pkgconfig
INSTALLED = $(DESTDIR)$(LIBDIR)/libzcshim.so $(DESTDIR)$(PREFIX)/bin/zcstat $(DESTDIR)$(PREFIX)/bin/zcsink \
            $(DESTDIR)$(PREFIX)/bin/zcshim $(DESTDIR)$(PREFIX)/share/man/man1/zcstat.1 \
            $(DESTDIR)$(PREFIX)/share/man/man1/zcsink.1 $(DESTDIR)$(PREFIX)/share/man/man1/zcshim.1 \
            $(DESTDIR)$(PREFIX)/share/man/man3/zcshim_recv.3 \
            $(DESTDIR)$(PREFIX)/include/zcshim.h $(DESTDIR)$(PCDIR)/zcshim.pc

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PCDIR)
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libzcshim.so
	install -m 0755 $(BUILD)/zcstat $(BUILD)/zcsink $(BUILD)/zcshim $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/zcstat.1 docs/zcsink.1 docs/zcshim.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 docs/zcshim_recv.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 0644 include/zcshim.h $(DESTDIR)$(PREFIX)/include/zcshim.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' zcshim.pc.in > $(DESTDIR)$(PCDIR)/zcshim.pc
	chmod 0644 $(DESTDIR)$(PCDIR)/zcshim.pc

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null

# The Debian packages (zcshim, zcshim-dev), built from a copy of the tree
# so that dpkg-buildpackage writes them into build/deb/, then lintian.
deb:
	@sh tools/deps.sh deb
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(BUILD)/deb/src
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error $(BUILD)/deb/*.deb

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
