#!/usr/bin/env bash
# C++ programs on clang's C++ library (libc++, libc++abi) under the
# allocator, as on libstdc++ (cxx_new.test.sh): the program's and libc++'s
# operator new and delete bind to libjmalloc.so (LD_DEBUG=bindings); a new
# of an impossible size calls the new handler libc++abi keeps until it is
# uninstalled, then throws libc++abi's std::bad_alloc (scalar, aligned, a
# size the alignment's rounding wraps, an alignment not a power of two),
# and the nothrow forms return NULL, also when the handler throws. And a C
# program with two C++ plugins dlopen'd RTLD_LOCAL, one on libstdc++ and
# one on libc++: a failing new goes on to the caller's own runtime (the
# old library took the first loaded object's, libstdc++'s, for both: its
# exception crossed libc++'s frames, a SIGSEGV in libunwind).
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd clang++ g++ cc
cd "$JM_TMP"
printf '#include <new>\nint main() { delete new int; }\n' >probe.cc
clang++ -stdlib=libc++ -o probe probe.cc 2>/dev/null && ./probe ||
	skip "clang++ -stdlib=libc++ does not build here: libc++-dev and libc++abi-dev are not installed"

cat >lc.cc <<'CC'
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <malloc.h>
#include <new>
#include <string>
#include <typeinfo>
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
static volatile size_t huge = (size_t)1 << 62;
static volatile size_t odd_align = 48;
#define CHECK(c) do { if (!(c)) { std::printf("FAILED: %s (line %d)\n", #c, __LINE__); return 1; } } while (0)
static const char *lib_of(const void *a)
{
	Dl_info di;
	return dladdr(a, &di) && di.dli_fname ? di.dli_fname : "nobody";
}
int main()
{
	std::printf("_Znwm: %s\n", lib_of(dlsym(RTLD_DEFAULT, "_Znwm")));
	std::vector<std::string> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(std::string(i % 200 + 20, 'x'));
	char *p = new char[100];
	CHECK(malloc_usable_size(p) >= 100);
	delete[] p;
	void *a = ::operator new(1000, std::align_val_t(4096));
	CHECK(((uintptr_t)a & 4095) == 0 && malloc_usable_size(a) >= 1000);
	::operator delete(a, std::align_val_t(4096));

	std::set_new_handler(count_then_give_up);
	try { void *q = ::operator new(huge); std::printf("FAILED: new gave %p\n", q); return 1; }
	catch (const std::bad_alloc &e) { std::printf("bad_alloc (%s) from %s\n", e.what(), lib_of(&typeid(e))); }
	CHECK(handler_calls == 3);
	handler_calls = 0;
	std::set_new_handler(count_then_give_up);
	try { void *q = ::operator new[](huge, std::align_val_t(64)); std::printf("FAILED: %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	CHECK(handler_calls == 3);
	try { void *q = ::operator new(SIZE_MAX - 10, std::align_val_t(64)); std::printf("FAILED: %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	try { void *q = ::operator new(100, std::align_val_t(odd_align)); std::printf("FAILED: %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	std::printf("new handler called 3 times, then std::bad_alloc\n");
	CHECK(::operator new(huge, std::nothrow) == nullptr);
	CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
	handler_calls = 0;
	std::set_new_handler(throwing_handler);
	CHECK(::operator new(huge, std::nothrow) == nullptr);
	CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
	CHECK(handler_calls == 2);
	std::set_new_handler(nullptr);
	std::printf("nothrow new returns NULL\n");
	return 0;
}
CC
clang++ -stdlib=libc++ -std=c++17 -O1 -Wno-non-power-of-two-alignment -o lc lc.cc -ldl 2>clang.err ||
	{ cat clang.err; fail "cannot build lc.cc with clang++ -stdlib=libc++"; }
./lc >plain.out 2>&1 || { cat plain.out; fail "lc: fails without the allocator"; }
grep -q "^bad_alloc (std::bad_alloc) from .*libc++abi" plain.out ||
	{ cat plain.out; fail "lc: std::bad_alloc is not libc++abi's without the allocator"; }
LD_DEBUG=bindings LD_DEBUG_OUTPUT=$JM_TMP/bind LD_PRELOAD=$JMALLOC_LIB ./lc >lc.out 2>&1 ||
	{ cat lc.out; fail "a libc++ program under the allocator"; }
cat lc.out
grep -q "^_Znwm: .*libjmalloc" lc.out || fail "libc++: _Znwm is not libjmalloc.so's"
diff <(sed 1d plain.out) <(sed 1d lc.out) || fail "libc++: the failure paths differ from libc++'s own"
# The program's and libc++abi's references to new and delete: libjmalloc.so's.
for sym in _Znwm _Znam _ZdlPv _ZdaPv _ZnwmRKSt9nothrow_t _ZnwmSt11align_val_t; do
	grep -h "binding file \./lc \[0\] to .*: normal symbol \`$sym'" bind.* | grep -q libjmalloc ||
		fail "libc++: the program's $sym is not bound to libjmalloc.so"
done
grep -h "binding file [^ ]*libc++abi[^ ]* \[0\] to [^ ]* \[0\]: normal symbol \`_Znwm'" bind.* | grep -q libjmalloc ||
	fail "libc++: libc++abi's call of _Znwm (its nothrow new) is not bound to libjmalloc.so"
echo "libc++: new and delete bound to libjmalloc.so; handler, std::bad_alloc and nothrow as libc++'s own"

# Two plugins, one per C++ library, dlopen'd RTLD_LOCAL by a C program:
# each one's failing new goes on to its own library's (libstdc++ loaded
# first: the other order crashes without the allocator too, libgcc_s's
# unwinder reaching LLVM's libunwind).
cat >plug.cc <<'CC'
#include <cstdio>
#include <new>
static int calls;
static void give_up() { if (++calls == 2) std::set_new_handler(nullptr); }
static volatile size_t huge = (size_t)1 << 62;
extern "C" int PLUG(void)
{
	calls = 0;
	std::set_new_handler(give_up);
	try { void *q = ::operator new(huge); std::printf("new gave %p\n", q); return 1; }
	catch (const std::bad_alloc &e) { std::printf("%s: handler %d, %s\n", __func__, calls, e.what()); }
	if (::operator new(huge, std::nothrow) != nullptr || ::operator new[](huge, std::align_val_t(64), std::nothrow) != nullptr)
		return 1;
	try { void *q = ::operator new(huge, std::align_val_t(64)); std::printf("new gave %p\n", q); return 1; }
	catch (const std::bad_alloc &) {}
	return calls == 2 ? 0 : 1;
}
CC
cat >host.c <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(void)
{
	void *g = dlopen("./gnu.so", RTLD_NOW | RTLD_LOCAL), *l = dlopen("./llvm.so", RTLD_NOW | RTLD_LOCAL);
	if (!g || !l) { printf("%s\n", dlerror()); return 2; }
	int (*fg)(void) = (int (*)(void))dlsym(g, "plug_gnu"), (*fl)(void) = (int (*)(void))dlsym(l, "plug_llvm");
	int rl = fl(), rg = fg();
	printf("libc++ plugin %d, libstdc++ plugin %d\n", rl, rg);
	return rl || rg;
}
C
g++ -shared -fPIC -O1 -std=c++17 -DPLUG=plug_gnu -o gnu.so plug.cc 2>g++.err || { cat g++.err; fail "cannot build gnu.so"; }
clang++ -stdlib=libc++ -shared -fPIC -O1 -std=c++17 -DPLUG=plug_llvm -o llvm.so plug.cc 2>clang.err ||
	{ cat clang.err; fail "cannot build llvm.so"; }
cc -O1 -o host host.c -ldl 2>cc.err || { cat cc.err; fail "cannot build host.c"; }
./host >host.plain 2>&1 || { cat host.plain; fail "host: fails without the allocator"; }
LD_PRELOAD=$JMALLOC_LIB ./host >host.out 2>&1
rc=$?
[ "$rc" -eq 0 ] || { cat host.out; fail "a libc++ and a libstdc++ plugin under the allocator: exit $rc"; }
cmp host.plain host.out || { cat host.out; fail "host: another output under the allocator"; }
cat host.out
ok "libc++ programs and plugins: the allocator's operators, each runtime's own failure path"
