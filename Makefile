# jmalloc: one Makefile for the allocator, the daemon, the CLI and the tests.
#
#   make                      build everything (liballoc/libjmalloc.{so,a},
#                             jmstatd/jmstatd, jmctl/jmctl)
#   make check                the whole test suite (tests/runner.sh)
#   make check T=daemon       one group of it (unit, api, or a tests/ directory)
#   make demo                 the quick-start demonstration
#   make bench                the benchmark suite (tests/bench)
#   make fuzz                 every fuzz target, longer (FUZZ_SECONDS each)
#   make stress               the stress tests in full (make check runs them short)
#   make DEBUG=1              -O0, assertions on (JM_DEBUG=2)
#   make SANITIZE=address     jmstatd, jmctl and the allocator's test build
#                             under a sanitizer (address|undefined|thread, or
#                             several: address,undefined), every report fatal
#   make check SANITIZE=address,undefined [T=...]
#                             the same tests against that build (docs/testing.md)
#   make install PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc   (man pages in
#                             share/man/manN, docs and the example config in
#                             share/doc/jmalloc, SYSCONFDIR/jmstatd.conf if absent)
#   make uninstall            the same variables: removes what install put
#
# Sources are found by wildcard: a new .c file in liballoc/, common/,
# jmstatd/ or jmctl/ is part of its program; a new tests/unit/*.c or
# tests/api/*.c is a test; a new tests/*/*.test.sh is run by `make check`.
# Objects go to build/ (the release, test and sanitized builds apart); the
# artefacts sit beside their sources (liballoc/libjmalloc.so,
# jmstatd/jmstatd, jmctl/jmctl), where the docs name them. A change of the
# settings (DEBUG, SANITIZE, CFLAGS, LDFLAGS) from one make to the next
# rebuilds everything they reach (build/flags holds those of the last one),
# so that `make SANITIZE=address` then `make` never mixes objects.

.DEFAULT_GOAL := all

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
DEBUG   ?= 0
SANITIZE ?=

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wno-unused-parameter
ifeq ($(DEBUG),0)
OPT     = -O2 -g
DBGDEF  = -DJM_DEBUG=0
else
OPT     = -O0 -g3
DBGDEF  = -DJM_DEBUG=$(DEBUG)
endif
BASECFLAGS = -std=gnu11 $(OPT) $(WARN) -D_GNU_SOURCE -fno-strict-aliasing $(DBGDEF)
CFLAGS  ?=
LDFLAGS ?=

# GCC's "undefined" leaves out float-cast-overflow (a double cast to an
# integer it does not fit: undefined, and on x86-64 the value 2^63): it is
# added wherever undefined is asked for.
comma := ,
UBSAN = undefined,float-cast-overflow
# GCC warns (-Wtsan, an error under -Werror) that ThreadSanitizer does not
# model atomic_thread_fence, which the allocator's stats rows (jm__row_begin,
# jm__row_end) and its deferred purge start (bg.c) use: what only such a
# fence orders it could report as a race (none in the tests it runs). The
# warning is dropped where the compiler knows it (clang has no -Wtsan, and
# refuses a -Wno- it does not know under -Werror): make SANITIZE=thread
# failed at bg.c before.
NO_TSAN_WARN := $(if $(findstring thread,$(SANITIZE)),$(shell echo 'int x;' | \
                  $(CC) -Werror -Wno-tsan -x c -c -o /dev/null - 2>/dev/null && echo -Wno-tsan))
ifneq ($(SANITIZE),)
SANFLAGS = -fsanitize=$(SANITIZE)$(if $(findstring undefined,$(SANITIZE)),$(comma)float-cast-overflow) -fno-sanitize-recover=all -fno-omit-frame-pointer $(NO_TSAN_WARN)
else
SANFLAGS =
endif

UV_LIBS      := $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
CMOCKA_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
# elfutils libdw: jmctl symbolizes the sampled stacks of `jmctl sites`.
DW_LIBS      := $(shell pkg-config --libs libdw 2>/dev/null || echo -ldw -lelf)
# zlib: the gzip of pprof profiles (common/pprof.c), in jmstatd and jmctl.
Z_LIBS       := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)

# The settings every object is built with; rewritten only when they change.
FLAGS_FILE := build/flags
FLAGS_NOW  := $(CC) $(BASECFLAGS) $(SANFLAGS) $(CFLAGS) $(LDFLAGS)
$(shell mkdir -p build; [ "$$(cat $(FLAGS_FILE) 2>/dev/null)" = '$(FLAGS_NOW)' ] || \
        printf '%s\n' '$(FLAGS_NOW)' >$(FLAGS_FILE))

# ---------------------------------------------------------------- allocator
# The allocator depends on libc and the kernel alone. Everything is hidden
# but the API, which malloc.c marks with JM_EXPORT.
LIB_SRCS  := $(sort $(wildcard liballoc/*.c))
LIB_CFLAGS = $(BASECFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
             -fno-builtin -fno-stack-protector -fno-reorder-blocks-and-partition \
             -pthread -Iliballoc -Iliballoc/include

REL_OBJS  := $(LIB_SRCS:%.c=build/rel/%.o)
# The test build: the same sources without the libc names (so that it can
# live beside a sanitizer's malloc) and with the internals reachable.
TST_OBJS  := $(LIB_SRCS:%.c=build/test/%.o)

# The allocator's code goes to its own section, jm_text, so that the heap
# profiler can tell its own frames from the program's (prof.c).
JM_SECTION = objcopy --rename-section .text=jm_text $@

build/rel/%.o: %.c $(wildcard liballoc/*.h liballoc/include/*.h) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@
	$(JM_SECTION)

build/test/%.o: %.c $(wildcard liballoc/*.h liballoc/include/*.h) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(SANFLAGS) -DJM_NO_LIBC_NAMES=1 -DJM_TEST=1 $(CFLAGS) -c $< -o $@
	$(JM_SECTION)

liballoc/libjmalloc.so: $(REL_OBJS)
	$(CC) -shared -pthread -Wl,-z,now -Wl,-soname,libjmalloc.so -o $@ $^ $(LDFLAGS)

# Not rawfork.o: in a static link glibc's fork() calls _Fork, which would
# be its (liballoc/rawfork.c); nor deepbind.o, whose dlopen goes on to the
# next one, which a static program has not (liballoc/deepbind.c).
liballoc/libjmalloc.a: $(filter-out build/rel/liballoc/rawfork.o build/rel/liballoc/deepbind.o,$(REL_OBJS))
	rm -f $@
	ar rcs $@ $^

build/libjmalloc_test.a: $(TST_OBJS)
	rm -f $@
	ar rcs $@ $^

# ------------------------------------------------------- daemon and CLI
# common/ holds what jmstatd and jmctl share (the segment reader, protocol
# helpers); both link it.
COMMON_SRCS := $(sort $(wildcard common/*.c))
D_SRCS      := $(sort $(wildcard jmstatd/*.c))
C_SRCS      := $(sort $(wildcard jmctl/*.c))
APP_CFLAGS   = $(BASECFLAGS) $(SANFLAGS) -pthread -Iliballoc/include -Icommon

build/app/%.o: %.c $(wildcard common/*.h liballoc/include/*.h jmstatd/*.h jmctl/*.h) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(CFLAGS) -c $< -o $@

COMMON_OBJS := $(COMMON_SRCS:%.c=build/app/%.o)

# What each program links: here only, for every build of it.
D_LIBS = $(UV_LIBS) $(JANSSON_LIBS) $(Z_LIBS) -lm
C_LIBS = $(JANSSON_LIBS) -lncursesw $(DW_LIBS) $(Z_LIBS)

jmstatd/jmstatd: $(D_SRCS:%.c=build/app/%.o) $(COMMON_OBJS)
	$(CC) $(SANFLAGS) -pthread -o $@ $^ $(D_LIBS) $(LDFLAGS)

jmctl/jmctl: $(C_SRCS:%.c=build/app/%.o) $(COMMON_OBJS)
	$(CC) $(SANFLAGS) -pthread -o $@ $^ $(C_LIBS) $(LDFLAGS)

# build/tests/jmstatd-xfield: jmstatd with one more row in each X-list of
# jmstatd/fields.h (-DJMD_TEST_EXTRA_FIELD), for tests/daemon/xfield.test.sh;
# `make tests` builds it (-O0: only its outputs matter).
build/xfield/%.o: %.c $(wildcard common/*.h liballoc/include/*.h jmstatd/*.h) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -O0 -DJMD_TEST_EXTRA_FIELD=1 $(CFLAGS) -c $< -o $@

build/tests/jmstatd-xfield: $(D_SRCS:%.c=build/xfield/%.o) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -pthread -o $@ $^ $(D_LIBS) $(LDFLAGS)

PROGRAMS = liballoc/libjmalloc.so liballoc/libjmalloc.a
ifneq ($(D_SRCS),)
PROGRAMS += jmstatd/jmstatd
endif
ifneq ($(C_SRCS),)
PROGRAMS += jmctl/jmctl
endif

all: $(PROGRAMS)

# ---------------------------------------------------------------- tests
# tests/unit/*.c: cmocka tests of the internals, linked with the test build.
# tests/api/*.c: the API conformance suite, written against the libc names;
#   built three ways: linked with libjmalloc.so (which interposes on libc),
#   and with the test build of the allocator under ASan and under UBSan,
#   where tests/api/jm_names.h renames malloc & co to the jm_ names.
# tests/helpers/*.c: programs that the shell tests run under LD_PRELOAD.
# tests/unit/test_jmd_*.c: cmocka tests of the daemon's pure parts, linked
#   with jmstatd's own objects but main.o and log.o (tests/unit/jmd_test.h
#   stands in for log.c and uv_spawn), as the fuzz targets are.
UNIT_SRCS   := $(filter-out tests/unit/test_jmd_%,$(sort $(wildcard tests/unit/*.c)))
DUNIT_SRCS  := $(sort $(wildcard tests/unit/test_jmd_*.c))
API_SRCS    := $(sort $(wildcard tests/api/*.c))
HELPER_SRCS := $(sort $(wildcard tests/helpers/*.c))
TEST_CFLAGS  = -std=gnu11 -O1 -g $(WARN) -Wno-missing-prototypes -D_GNU_SOURCE -pthread \
               -Iliballoc -Iliballoc/include -Icommon -fno-builtin

UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=build/tests/unit/%) \
               $(DUNIT_SRCS:tests/unit/%.c=build/tests/unit/%)
# The allocator's own unit tests also under ASan and UBSan.
ALLOC_UNIT  := $(filter tests/unit/test_alloc%,$(UNIT_SRCS))
UNIT_ASAN   := $(ALLOC_UNIT:tests/unit/%.c=build/tests/unit-asan/%)
UNIT_UBSAN  := $(ALLOC_UNIT:tests/unit/%.c=build/tests/unit-ubsan/%)
API_BINS    := $(API_SRCS:tests/api/%.c=build/tests/api/%)
API_ASAN    := $(API_SRCS:tests/api/%.c=build/tests/api-asan/%)
API_UBSAN   := $(API_SRCS:tests/api/%.c=build/tests/api-ubsan/%)
HELPER_BINS := $(HELPER_SRCS:tests/helpers/%.c=build/tests/helpers/%)

build/tests/unit/%: tests/unit/%.c build/libjmalloc_test.a $(wildcard common/*.[ch] tests/fuzz/*.h liballoc/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(SANFLAGS) -DJM_NO_LIBC_NAMES=1 -DJM_TEST=1 -o $@ $< build/libjmalloc_test.a $(CMOCKA_LIBS) $(Z_LIBS)

DUNIT_OBJS = $(filter-out build/app/jmstatd/main.o build/app/jmstatd/log.o,$(D_SRCS:%.c=build/app/%.o)) \
             $(COMMON_OBJS)
build/tests/unit/test_jmd_%: tests/unit/test_jmd_%.c tests/unit/jmd_test.h $(DUNIT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -Ijmstatd -Wno-missing-prototypes -Wno-unused-function $(CFLAGS) -o $@ $< \
	  $(DUNIT_OBJS) $(D_LIBS) $(CMOCKA_LIBS) -lm $(LDFLAGS)

API_HDRS := $(wildcard tests/api/*.h tests/helpers/*.h)

build/tests/api/%: tests/api/%.c liballoc/libjmalloc.so $(API_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -Lliballoc -Wl,-rpath,$(CURDIR)/liballoc -Wl,--no-as-needed -ljmalloc $(CMOCKA_LIBS)

# Sanitizer builds of the API suite: the allocator objects compiled with the
# sanitizer too, in their own directories.
build/asan/%.o: %.c $(wildcard liballoc/*.h liballoc/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -fsanitize=address -fno-omit-frame-pointer -DJM_NO_LIBC_NAMES=1 -DJM_TEST=1 $(CFLAGS) -c $< -o $@
	$(JM_SECTION)
build/ubsan/%.o: %.c $(wildcard liballoc/*.h liballoc/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -fsanitize=$(UBSAN) -fno-sanitize-recover=all -DJM_NO_LIBC_NAMES=1 -DJM_TEST=1 $(CFLAGS) -c $< -o $@
	$(JM_SECTION)

build/tests/api-asan/%: tests/api/%.c $(LIB_SRCS:%.c=build/asan/%.o) $(API_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fsanitize=address -fno-omit-frame-pointer -include tests/api/jm_names.h -DJM_SANITIZED=1 \
	  -o $@ $< $(LIB_SRCS:%.c=build/asan/%.o) $(CMOCKA_LIBS)
build/tests/api-ubsan/%: tests/api/%.c $(LIB_SRCS:%.c=build/ubsan/%.o) $(API_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fsanitize=$(UBSAN) -fno-sanitize-recover=all -include tests/api/jm_names.h -DJM_SANITIZED=1 \
	  -o $@ $< $(LIB_SRCS:%.c=build/ubsan/%.o) $(CMOCKA_LIBS)

build/tests/unit-asan/%: tests/unit/%.c $(LIB_SRCS:%.c=build/asan/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fsanitize=address -fno-omit-frame-pointer -DJM_NO_LIBC_NAMES=1 -DJM_TEST=1 \
	  -o $@ $< $(LIB_SRCS:%.c=build/asan/%.o) $(CMOCKA_LIBS)
build/tests/unit-ubsan/%: tests/unit/%.c $(LIB_SRCS:%.c=build/ubsan/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -fsanitize=$(UBSAN) -fno-sanitize-recover=all -DJM_NO_LIBC_NAMES=1 -DJM_TEST=1 \
	  -o $@ $< $(LIB_SRCS:%.c=build/ubsan/%.o) $(CMOCKA_LIBS)

build/tests/helpers/%: tests/helpers/%.c $(wildcard tests/helpers/*.h tests/fuzz/*.h liballoc/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -O2 -o $@ $< -ldl

TEST_BINS = $(UNIT_BINS) $(UNIT_ASAN) $(UNIT_UBSAN) $(API_BINS) $(API_ASAN) $(API_UBSAN) $(HELPER_BINS) \
            build/tests/jmstatd-xfield
SHELL_TESTS := $(sort $(wildcard tests/*/*.test.sh))

tests: all $(TEST_BINS)

# The environment every test sees: where the artefacts are.
TEST_ENV = JM_ROOT=$(CURDIR) JMALLOC_LIB=$(CURDIR)/liballoc/libjmalloc.so \
           JMSTATD=$(CURDIR)/jmstatd/jmstatd JMCTL=$(CURDIR)/jmctl/jmctl \
           JM_HELPERS=$(CURDIR)/build/tests/helpers JM_BUILD=$(CURDIR)/build
# With SANITIZE, the same tests against the sanitized jmstatd and jmctl:
# every report ends the program with its own status, a leak too (LSan at
# exit); the runner fails a test that left a report anywhere in its
# directory or output; a test that cannot run so (valgrind's) skips itself
# on JM_SANITIZED, and one that judges memory figures (ASan's quarantine
# and shadow make them mean nothing) leaves them unjudged.
# ThreadSanitizer's reports end the program too (its own status, 88), and
# tests/tsan.supp holds the races it reports that are not the program's
# (each with its reason). Its deadlock detector is off: the allocator's
# fork handlers hold every arena's and bin's lock at once, more than the
# 64 it tracks in a thread (a CHECK failure in jm__arena_prefork).
ifneq ($(SANITIZE),)
TEST_ENV += JM_SANITIZED=$(SANITIZE) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
            TSAN_OPTIONS=halt_on_error=1:exitcode=88:detect_deadlocks=0:suppressions=$(CURDIR)/tests/tsan.supp
endif

# make check T="GROUP..." runs some groups only: unit (the cmocka tests,
# with their ASan and UBSan builds), api (the API suite, three builds), or
# the name of a directory of tests/ (daemon, cli, alerts, docs, ...: its
# *.test.sh). Without T, everything.
# With SANITIZE the unit tests are themselves built with it, and all of
# them run: the allocator's (test_alloc*) too, whose test build
# (build/test: JM_NO_LIBC_NAMES, the allocator called by its jm_ names
# beside the sanitizer's own malloc) is compiled with it. unit-asan and
# unit-ubsan, whose builds SANITIZE does not change, are the plain run's
# and are not run again. (Before, under address and undefined the
# allocator's were left out as the plain run's unit-asan and unit-ubsan
# again, and `make check SANITIZE=address,undefined T=unit` ran none.)
# What cannot run under a sanitizer skips itself there, saying why:
# under ASan and TSan the tests that count page faults (the shadow's pages
# fault too) and those that limit the address space (the shadow reserves
# terabytes of it). Under TSan (SANITIZE=thread) every unit test runs,
# the allocator's too (test_alloc about a minute alone on a loaded
# machine, its one-thread random workload shortened there); what they
# needed:
#   test_alloc_xthread  its barrier was destroyed while a thread could
#                       still be in pthread_barrier_wait (now after the
#                       joins)
#   test_alloc_forkstart  a forked child's locks, re-initialised, stayed
#                       the forking thread's to TSan: a second thread's
#                       taking was a double lock (init.c releases them in
#                       the child first, in TSan builds)
#   test_alloc_forkinit its child holds its parent's thread, finished
#                       and unjoined: a thread leak (tests/tsan.supp)
#   test_unwind         TSan's interceptor of backtrace() is a frame
#                       (left out), and a stack given to pthread_create
#                       must be 900 KiB
#   test_alloc          test_fork_lock_waited_not_own skips: TSan runs a
#                       signal handler only when the thread leaves
#                       pthread_mutex_lock's wait, where it must run;
#                       no thread is started in a forked child (TSan
#                       supports none after a fork of several threads:
#                       exit 0x58), so the tests that do skip that part
#   test_alloc_purge    test_huge_gather_maps_bounded skips: TSan's shadow
#                       of each region mapped is mappings of its own
#                       (8,612 at the end, not the moves')
UNIT_CHECKS = $(if $(SANITIZE),$(UNIT_BINS),$(UNIT_BINS) $(UNIT_ASAN) $(UNIT_UBSAN))
ALL_CHECKS = $(UNIT_CHECKS) $(API_BINS) $(API_ASAN) $(API_UBSAN) $(SHELL_TESTS)
check_group = $(if $(filter unit,$(1)),$(UNIT_CHECKS),$(if \
              $(filter api,$(1)),$(API_BINS) $(API_ASAN) $(API_UBSAN),$(filter tests/$(1)/%,$(SHELL_TESTS))))
CHECKS = $(if $(T),$(foreach g,$(T),$(call check_group,$(g))),$(ALL_CHECKS))

# The test packages (packages/test.list, demo.list): as root the missing
# ones are installed first (JM_INSTALL=0: not), otherwise they are named,
# with the command that installs them, before and after the run (their
# tests are skipped).
check: tests
	@for g in $(T); do case $$g in unit|api) ;; *) [ -d "tests/$$g" ] || { echo \
	  "make check T=$$g: no such test group (unit, api, or a directory of tests/)" >&2; exit 2; };; \
	  esac; done
	@[ -n "$(strip $(CHECKS))" ] || { echo "make check T=$(T): no test in that group" >&2; exit 2; }
	@packages/ensure.sh --for "make check: test packages" test demo || true
	@rc=0; $(TEST_ENV) tests/runner.sh $(CHECKS) || rc=$$?; \
	  packages/ensure.sh --missing test demo >/dev/null || \
	    JM_INSTALL=0 packages/ensure.sh --for "make check: tests skipped for want of" test demo; \
	  exit $$rc

demo:
	@$(TEST_ENV) ./demo.sh

# The allocator suite, then jmstatd at scale (JM_SCALE_PROCS=0 skips it).
bench: all build/tests/helpers/site_fill
	$(TEST_ENV) tests/bench/run.sh
	if [ "$${JM_SCALE_PROCS:-1000}" != 0 ]; then $(TEST_ENV) python3 tests/bench/scale.py; fi
	$(TEST_ENV) python3 tests/bench/pprof_serve.py

# Every fuzz target (tests/fuzz/*.test.sh) for a longer run than `make
# check` gives it, FUZZ_SECONDS each, on corpora kept in
# build/fuzz/corpus/NAME: make fuzz FUZZ_SECONDS=3600
FUZZ_SECONDS ?= 600
FUZZ_TESTS := $(sort $(wildcard tests/fuzz/*.test.sh))
fuzz: all
	@for t in $(FUZZ_TESTS); do echo "== $$t"; \
	  $(TEST_ENV) JM_FUZZ_SECONDS=$(FUZZ_SECONDS) JM_FUZZ_CORPUS=$(CURDIR)/build/fuzz/corpus \
	    $$t || exit 1; done

# The stress tests (tests/stress/*.test.sh) in their full form: make check
# runs the same scripts in a short, bounded form.
stress: tests
	$(TEST_ENV) JM_STRESS_FULL=1 tests/runner.sh $(sort $(wildcard tests/stress/*.test.sh))

# The man pages (each beside its program), the docs and the example config.
# DOCDIR (PREFIX/share/doc/jmalloc) keeps the tree's layout for README.md
# and docs/*.md, so that their links to each other and to fleet/ work there.
MAN_PAGES := liballoc/jmalloc.3 jmctl/jmctl.1 jmstatd/jmstatd.8 jmstatd/jmstatd.conf.5
DOC_FILES := README.md jmstatd/jmstatd.conf.example
DOCS_MD   := $(sort $(wildcard docs/*.md))
# Prometheus rules and scrape config, Grafana dashboard, Kubernetes and
# Pyroscope/Parca examples (docs/fleet.md): DOCDIR/fleet.
FLEET_FILES := $(sort $(wildcard fleet/*))
# Where the config goes (/etc/jmstatd.conf): not under PREFIX, where
# jmstatd(8) and the unit look for it.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
HEADERS    := jmalloc.h jmstat.h

# install: the programs, the library, the headers, the units (ExecStart
# with this PREFIX and SYSCONFDIR written in), the man pages, the docs, and
# $(SYSCONFDIR)/jmstatd.conf from the example, unless one is there already
# (an operator's config is never overwritten). uninstall removes what
# install put, the config only while it is the example unchanged.
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 0755 liballoc/libjmalloc.so $(DESTDIR)$(PREFIX)/lib/libjmalloc.so
	install -m 0644 liballoc/libjmalloc.a $(DESTDIR)$(PREFIX)/lib/libjmalloc.a
	install -m 0644 $(HEADERS:%=liballoc/include/%) $(DESTDIR)$(PREFIX)/include/
	install -m 0755 jmstatd/jmstatd jmctl/jmctl $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's#^ExecStart=/usr/local/bin/jmstatd#ExecStart=$(PREFIX)/bin/jmstatd#' \
	    -e 's#--config /etc/jmstatd.conf#--config $(SYSCONFDIR)/jmstatd.conf#' \
	    systemd/jmstatd.service >$(DESTDIR)$(UNITDIR)/jmstatd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/jmstatd.service
	install -m 0644 systemd/jmstatd.socket systemd/jmstatd-metrics.socket $(DESTDIR)$(UNITDIR)/
	for m in $(MAN_PAGES); do s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s && \
	  install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/ || exit 1; done
	install -d $(DESTDIR)$(PREFIX)/share/doc/jmalloc
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(PREFIX)/share/doc/jmalloc/
	install -d $(DESTDIR)$(PREFIX)/share/doc/jmalloc/docs
	install -m 0644 $(DOCS_MD) $(DESTDIR)$(PREFIX)/share/doc/jmalloc/docs/
	install -d $(DESTDIR)$(PREFIX)/share/doc/jmalloc/fleet
	install -m 0644 $(FLEET_FILES) $(DESTDIR)$(PREFIX)/share/doc/jmalloc/fleet/
	install -d $(DESTDIR)$(SYSCONFDIR)
	if [ -e $(DESTDIR)$(SYSCONFDIR)/jmstatd.conf ]; then \
	  echo "$(DESTDIR)$(SYSCONFDIR)/jmstatd.conf exists: kept (the example is in $(PREFIX)/share/doc/jmalloc)"; \
	else install -m 0644 jmstatd/jmstatd.conf.example $(DESTDIR)$(SYSCONFDIR)/jmstatd.conf; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/jmstatd $(DESTDIR)$(PREFIX)/bin/jmctl
	rm -f $(DESTDIR)$(PREFIX)/lib/libjmalloc.so $(DESTDIR)$(PREFIX)/lib/libjmalloc.a
	rm -f $(HEADERS:%=$(DESTDIR)$(PREFIX)/include/%)
	rm -f $(DESTDIR)$(UNITDIR)/jmstatd.service $(DESTDIR)$(UNITDIR)/jmstatd.socket \
	      $(DESTDIR)$(UNITDIR)/jmstatd-metrics.socket
	for m in $(MAN_PAGES); do rm -f $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/}; done
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/doc/jmalloc/,$(notdir $(DOC_FILES)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/doc/jmalloc/docs/,$(notdir $(DOCS_MD)))
	rmdir $(DESTDIR)$(PREFIX)/share/doc/jmalloc/docs 2>/dev/null || true
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/doc/jmalloc/fleet/,$(notdir $(FLEET_FILES)))
	rmdir $(DESTDIR)$(PREFIX)/share/doc/jmalloc/fleet 2>/dev/null || true
	rmdir $(DESTDIR)$(PREFIX)/share/doc/jmalloc 2>/dev/null || true
	if cmp -s jmstatd/jmstatd.conf.example $(DESTDIR)$(SYSCONFDIR)/jmstatd.conf; then \
	  rm -f $(DESTDIR)$(SYSCONFDIR)/jmstatd.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/jmstatd.conf ]; then \
	  echo "$(DESTDIR)$(SYSCONFDIR)/jmstatd.conf differs from the example: kept"; fi

clean:
	rm -rf build liballoc/libjmalloc.so liballoc/libjmalloc.a jmstatd/jmstatd jmctl/jmctl

.PHONY: all check tests demo bench fuzz stress install uninstall clean
.SECONDARY:
