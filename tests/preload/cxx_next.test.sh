#!/usr/bin/env bash
# Another allocator preloaded after jmalloc (LD_PRELOAD="libjmalloc.so
# libtcmalloc_minimal.so.4", or jemalloc's, mimalloc's) defines C++'s
# operators too. The next definition liballoc/cxx.c hands a failing new
# to, and a form a program did not replace, must be the C++ runtime's
# (libstdc++'s: its loop calls this malloc, its forms the program's
# operators), not that allocator's: its new allocated from itself, so a
# new handler that freed memory here did not help (std::bad_alloc after 9
# of 200 under tcmalloc, abort under mimalloc), and the forms a program
# with its own new[] and delete[] (a pool) did not replace went to that
# allocator's, which never reached the pool (SIGABRT under tcmalloc).
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd g++
cd "$JM_TMP"
export JMALLOC_STATS_DIR=$JM_TMP
others=
for so in libtcmalloc_minimal.so.4 libmimalloc.so.2 libjemalloc.so.2; do
	for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
		[ -f "$d/$so" ] && { others="$others $d/$so"; break; }
	done
done
[ -n "$others" ] || skip "no tcmalloc, mimalloc or jemalloc installed"

# A new handler that frees a reserve: the retry must find that memory.
cat >oom.cc <<'CC'
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>
#include <sys/resource.h>
static std::vector<void *> reserve;
static int calls;
static void release()
{
	calls++;
	if (reserve.empty()) {
		std::set_new_handler(nullptr);
		return;
	}
	for (int i = 0; i < 8 && !reserve.empty(); i++) {
		std::free(reserve.back());
		reserve.pop_back();
	}
}
int main(int argc, char **argv)
{
	int mode = std::atoi(argv[1]);
	struct rlimit r = { (rlim_t)512 << 20, (rlim_t)512 << 20 };
	setrlimit(RLIMIT_AS, &r);
	for (int i = 0; i < 64; i++) {
		void *p = std::malloc(1 << 20);
		if (!p)
			break;
		std::memset(p, 1, 1 << 20);
		reserve.push_back(p);
	}
	std::vector<void *> hog;
	hog.reserve(1 << 20);
	const size_t sz = 256 << 10;
	for (;;) {
		void *p = std::malloc(sz);
		if (!p)
			break;
		hog.push_back(p);
	}
	std::set_new_handler(release);
	for (int i = 0; i < 200; i++) {
		void *p = nullptr;
		try {
			switch (mode) {
			case 0: p = ::operator new(sz); break;
			case 1: p = ::operator new[](sz); break;
			case 2: p = ::operator new(sz, std::align_val_t(4096)); break;
			default: p = ::operator new(sz, std::nothrow); break;
			}
		} catch (const std::bad_alloc &) {
			std::printf("std::bad_alloc after %d, handler %d calls\n", i, calls);
			return 2;
		}
		if (!p) {
			std::printf("NULL after %d, handler %d calls\n", i, calls);
			return 3;
		}
		hog.push_back(p);
	}
	std::printf("200 allocations, handler %d calls\n", calls);
	return calls == 0;
}
CC
# Its own new[] and delete[] on a pool: the other forms must reach them.
cp "$JM_ROOT/tests/preload/cxx_pool_array.cc" array.cc
for p in oom array; do
	g++ -std=c++17 -O1 -o $p $p.cc 2>g++.err || { cat g++.err; fail "cannot build $p.cc"; }
done
for m in 0 1 2 3; do
	LD_PRELOAD=$JMALLOC_LIB ./oom $m >out 2>&1 || { cat out; fail "oom $m: jmalloc alone"; }
done
./array >out 2>&1 || { cat out; fail "array: fails without the allocator"; }
for other in $others; do
	name=$(basename "$other")
	for m in 0 1 2 3; do
		LD_PRELOAD="$JMALLOC_LIB $other" ./oom $m >out 2>&1 ||
			{ grep -v 'allocation failed' out | tail -5; fail "a new handler's retry (form $m) with $name preloaded after jmalloc: went to $name's new"; }
	done
	LD_PRELOAD="$JMALLOC_LIB $other" ./array >out 2>&1 ||
		{ tail -5 out; fail "a program's new[] pool with $name preloaded after jmalloc: a form went to $name's"; }
	echo "$name after jmalloc: the handler's retries and the pool's forms are libstdc++'s"
done
ok "the next definition of C++'s operators is the C++ runtime's, not another allocator's"
