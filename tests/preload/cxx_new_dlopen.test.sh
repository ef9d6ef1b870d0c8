#!/usr/bin/env bash
# A C++ library dlopen'd (RTLD_LOCAL, as Python loads an extension) by a
# C program: its libstdc++ is not in the global scope, so its operator
# new binds to libjmalloc.so's and a failure's next definition
# (dlsym(RTLD_NEXT)) is not found: the new handler must still run and
# std::bad_alloc reach the library's catch, as without the allocator
# (with liballoc/cxx.c of session 28 the process aborted: "no C++
# library to throw std::bad_alloc"). Also a library linked with
# -static-libstdc++ (its C++ runtime inside it, manylinux-style).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd g++
cd "$JM_TMP"
cat >plug.cc <<'CC'
#include <cstddef>
#include <new>
static int calls;
static void give_up_second() { if (++calls == 2) std::set_new_handler(nullptr); }
static volatile std::size_t huge = (std::size_t)1 << 62;
extern "C" int plug(void)
{
	int r = 0;
	std::set_new_handler(give_up_second);
	try { (void)::operator new(huge); r |= 1; }
	catch (const std::bad_alloc &) { if (calls != 2) r |= 2; }
	try { (void)::operator new[](huge); r |= 4; } catch (const std::bad_alloc &) {}
	try { (void)::operator new(huge, std::align_val_t(64)); r |= 8; } catch (const std::bad_alloc &) {}
	if (::operator new(huge, std::nothrow) != nullptr) r |= 16;
	int *a = new int[10];
	delete[] a;
	return r;
}
CC
cat >host.c <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	void *h = dlopen(argv[1], RTLD_NOW);  /* RTLD_LOCAL */
	if (!h) { printf("dlopen: %s\n", dlerror()); return 2; }
	int (*f)(void) = (int (*)(void))dlsym(h, "plug");
	int r = f();
	printf("plug: %d\n", r);
	return r;
}
C
gcc -O1 -o host host.c -ldl 2>cc.err || { cat cc.err; fail "cannot build host.c"; }
g++ -std=c++17 -O1 -fPIC -shared -o plug.so plug.cc 2>cc.err || { cat cc.err; fail "cannot build plug.so"; }
g++ -std=c++17 -O1 -fPIC -shared -static-libstdc++ -static-libgcc -o plugs.so plug.cc 2>cc.err ||
	{ cat cc.err; fail "cannot build plugs.so"; }
for so in plug.so plugs.so; do
	./host "./$so" >plain.out 2>&1 || { cat plain.out; fail "$so: fails without the allocator"; }
	LD_PRELOAD=$JMALLOC_LIB ./host "./$so" >out 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || { cat out; fail "$so dlopen'd by a C program: exit $rc (new handler, std::bad_alloc)"; }
	echo "$so: $(cat out)"
done
ok "a dlopen'd C++ library's failing new: its new handler, then std::bad_alloc it catches"
