#!/usr/bin/env bash
# C++'s operator new and delete are the allocator's own (liballoc/cxx.c),
# not libstdc++'s wrappers around malloc and free: each of the twenty
# names resolves to libjmalloc.so (fails on a library without them: they
# were libstdc++'s); a block from new is the allocator's (its usable size)
# and one from aligned new has its alignment; a new of an impossible size
# calls the installed new handler until it is uninstalled, then throws
# std::bad_alloc (scalar, array, aligned), throws at once without one, and
# its nothrow forms return NULL (also when the handler throws); an
# alignment not a power of two throws too. Deletes of a foreign pointer
# (plain, sized, array, aligned) abort with the allocator's message. A
# program with its own operator new and delete (a pool of its own) keeps
# them for the forms it did not define (sized delete, delete[], nothrow
# new): they went to free, which aborted on its pool's pointer. And a
# static link with libjmalloc.a: the operators, the handler, bad_alloc.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd g++
cd "$JM_TMP"
export JMALLOC_STATS_DIR=$JM_TMP
cat >names.cc <<'CC'
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <malloc.h>
#include <new>
#include <string>
#include <vector>

static int handler_calls;
static void count_then_give_up()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}
static void throwing_handler()
{
	handler_calls++;
	throw std::bad_alloc();
}
struct alignas(256) Wide { char c[300]; };
static volatile size_t huge = (size_t)1 << 62;
#define CHECK(c) do { if (!(c)) { std::printf("FAILED: %s (line %d)\n", #c, __LINE__); return 1; } } while (0)

int main(int argc, char **argv)
{
	if (argc > 1) {   /* misuse: a delete of a pointer never allocated */
		static char buf[64];
		void *p = buf + 16;
		if (!std::strcmp(argv[1], "delete")) ::operator delete(p);
		if (!std::strcmp(argv[1], "sized")) ::operator delete(p, 16);
		if (!std::strcmp(argv[1], "array")) ::operator delete[](p);
		if (!std::strcmp(argv[1], "aligned")) ::operator delete(p, std::align_val_t(16));
		return 0;
	}
	static const char *const names[] = {
		"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
		"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
		"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
		"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t",
		"_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
		"_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
		"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
	};
	int bad = 0;
	for (const char *n : names) {
		Dl_info di;
		void *f = dlsym(RTLD_DEFAULT, n);
		if (!f || !dladdr(f, &di) || !std::strstr(di.dli_fname, "libjmalloc")) {
			std::printf("FAILED: %s is %s's\n", n, f && dladdr(f, &di) ? di.dli_fname : "nobody");
			bad = 1;
		}
	}
	if (bad)
		return 1;
	std::printf("20 names are libjmalloc.so's\n");

	char *p = new char[100];
	CHECK(malloc_usable_size(p) >= 100);
	delete[] p;
	std::vector<std::string> v;
	for (int i = 0; i < 10000; i++)
		v.push_back(std::string(i % 200 + 20, 'x'));
	std::size_t sum = 0;
	for (auto &s : v)
		sum += s.size();
	CHECK(sum > 0);
	v.clear();
	v.shrink_to_fit();
	Wide *w = new Wide[3];
	CHECK(((uintptr_t)w & 255) == 0);
	delete[] w;
	for (size_t al = 8; al <= ((size_t)1 << 22); al <<= 1) {
		void *a = ::operator new(al + 8, std::align_val_t(al));
		CHECK(((uintptr_t)a & (al - 1)) == 0);
		CHECK(malloc_usable_size(a) >= al + 8);
		::operator delete(a, al + 8, std::align_val_t(al));
	}
	std::printf("blocks from new are the allocator's, aligned as asked\n");

	/* No memory: the handler until it uninstalls itself, then bad_alloc. */
	std::set_new_handler(count_then_give_up);
	try { void *q = ::operator new(huge); std::printf("FAILED: new gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	CHECK(handler_calls == 3);
	handler_calls = 0;
	std::set_new_handler(count_then_give_up);
	try { void *q = ::operator new[](huge); std::printf("FAILED: new[] gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	CHECK(handler_calls == 3);
	handler_calls = 0;
	std::set_new_handler(count_then_give_up);
	try { void *q = ::operator new(huge, std::align_val_t(64)); std::printf("FAILED: %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	CHECK(handler_calls == 3);
	try { void *q = ::operator new(huge); std::printf("FAILED: new gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	try { void *q = ::operator new(100, std::align_val_t(48)); std::printf("FAILED: %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	/* A size the alignment's rounding wraps (libstdc++'s aligned new
	 * gave a block of 0 bytes for it). */
	try { void *q = ::operator new(SIZE_MAX - 10, std::align_val_t(64)); std::printf("FAILED: new(SIZE_MAX - 10, 64) gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	try { void *q = ::operator new[](SIZE_MAX - 1, std::align_val_t(4096)); std::printf("FAILED: new[](SIZE_MAX - 1, 4096) gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	std::printf("new handler called 3 times, then std::bad_alloc\n");

	CHECK(::operator new(huge, std::nothrow) == nullptr);
	CHECK(::operator new[](huge, std::nothrow) == nullptr);
	CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
	CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
	CHECK(::operator new(SIZE_MAX - 10, std::align_val_t(64), std::nothrow) == nullptr);
	handler_calls = 0;
	std::set_new_handler(throwing_handler);
	CHECK(::operator new(huge, std::nothrow) == nullptr);
	CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
	CHECK(handler_calls == 2);
	std::set_new_handler(nullptr);
	void *n = ::operator new(24, std::nothrow);
	CHECK(n != nullptr && malloc_usable_size(n) >= 24);
	::operator delete(n, std::nothrow);
	std::printf("nothrow new returns NULL\n");
	return 0;
}
CC
g++ -std=c++17 -O1 -Wno-unused-result -o names names.cc -ldl 2>g++.err || { cat g++.err; fail "cannot build names.cc"; }
LD_PRELOAD=$JMALLOC_LIB ./names >names.out 2>&1 || { cat names.out; fail "C++ new and delete under the allocator"; }
cat names.out

# Deletes of a pointer the allocator never gave: its report, then SIGABRT.
for how in delete sized array aligned; do
	LD_PRELOAD=$JMALLOC_LIB ./names "$how" >misuse.out 2>&1
	rc=$?
	[ "$rc" -eq 134 ] || { cat misuse.out; fail "operator delete ($how) of a foreign pointer: exit $rc, not SIGABRT"; }
	grep -q "^jmalloc\[[0-9]*\]: free of a pointer not allocated by jmalloc (or freed already): 0x[0-9a-f]*; aborting" misuse.out ||
		{ cat misuse.out; fail "operator delete ($how) of a foreign pointer: not the allocator's report"; }
done
echo "deletes of a foreign pointer: the allocator's report, SIGABRT"

# A program whose own new and delete draw on a pool: the forms it did not
# define (sized delete, delete[], nothrow new) must reach its delete.
g++ -std=c++17 -O1 -o pool "$JM_ROOT/tests/preload/cxx_pool.cc" 2>g++.err || { cat g++.err; fail "cannot build cxx_pool.cc"; }
./pool >pool.plain 2>&1 || { cat pool.plain; fail "pool: fails without the allocator"; }
LD_PRELOAD=$JMALLOC_LIB ./pool >pool.out 2>&1 || { cat pool.out; fail "a program's own operator new and delete: the other forms did not reach them"; }
cmp pool.plain pool.out || fail "pool: another output under the allocator"
echo "a program's own new and delete: $(cat pool.out)"
# Linked statically with libjmalloc.a (g++ -static): the operators are the
# library's (nm: _Znwm is jm__new, not libstdc++.a's), and with no next
# definition the new
# handler's loop is the library's, std::bad_alloc thrown through the weak
# std::__throw_bad_alloc (a std::vector pulls it from libstdc++.a).
if [ -f "$JM_ROOT/liballoc/libjmalloc.a" ] &&
	printf 'int main() { return 0; }\n' >t.cc && g++ -static -o t t.cc 2>/dev/null; then
	cat >static.cc <<'CC'
#include <cstdio>
#include <malloc.h>
#include <new>
#include <vector>
static int calls;
static void give_up() { if (++calls == 2) std::set_new_handler(nullptr); }
static volatile size_t huge = (size_t)1 << 62;
int main(int argc, char **)
{
	std::vector<long> v(argc);
	v.push_back(1);
	void *p = ::operator new(24);
	size_t u = malloc_usable_size(p);
	::operator delete(p, 24);
	std::set_new_handler(give_up);
	try { void *q = ::operator new(huge); std::printf("new gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	if (::operator new(huge, std::nothrow) != nullptr) return 1;
	std::printf("usable %zu, handler %d, bad_alloc\n", u, calls);
	return !(u >= 24 && calls == 2 && v.size() == 2);
}
CC
	g++ -static -std=c++17 -O1 -o static static.cc "$JM_ROOT/liballoc/libjmalloc.a" -pthread \
		>g++.err 2>&1 || { cat g++.err; fail "g++ -static with libjmalloc.a"; }
	# and quietly: ld warned at every such link that a static dlopen needs
	# the shared libraries at run time (cxx.c named dlopen).
	! grep -i warning g++.err || fail "g++ -static with libjmalloc.a: ld warns"
	new_at=$(nm static | awk '$3 == "_Znwm" {print $1}')
	[ -n "$new_at" ] && [ "$new_at" = "$(nm static | awk '$3 == "jm__new" {print $1}')" ] ||
		fail "g++ -static with libjmalloc.a: _Znwm is not the library's ($new_at)"
	./static >static.out 2>&1 || { cat static.out; fail "a static C++ program with libjmalloc.a"; }
	echo "static: $(cat static.out)"
else
	echo "no libjmalloc.a or no static libstdc++: the static link not tried"
fi
ok "C++'s operator new and delete are the allocator's, with the standard's semantics"
