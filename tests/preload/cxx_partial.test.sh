#!/usr/bin/env bash
# A program that replaces some of C++'s operators, linked where there is no
# next definition of the others for liballoc/cxx.c to hand them to:
# libstdc++ linked statically (g++ -static-libstdc++ ... -ljmalloc, or
# g++ -static with libjmalloc.a). Each form it did not replace must reach
# the one it did, as the standard defines them (sized delete and delete[]
# by delete, new[] by new, nothrow new by new, the aligned array forms by
# the aligned ones): they went to free, which aborted on its pool's
# pointer ("free of a pointer not allocated by jmalloc"). A program that
# replaced only delete keeps nothrow new's NULL.
# timeout: 180
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd g++
cd "$JM_TMP"
export JMALLOC_STATS_DIR=$JM_TMP
LIBDIR=$(dirname "$JMALLOC_LIB")

# Its own new and delete on a pool; only the array forms.
cp "$JM_ROOT/tests/preload/cxx_pool.cc" pool.cc
cp "$JM_ROOT/tests/preload/cxx_pool_array.cc" array.cc

# Only the aligned forms.
cat >aligned.cc <<'CC'
#include <cstdio>
#include <cstdlib>
#include <new>
static char pool[1 << 22] __attribute__((aligned(4096)));
static size_t used;
static long news, deletes;
void *operator new(std::size_t n, std::align_val_t a)
{
	size_t al = (size_t)a;
	used = (used + al - 1) & ~(al - 1);
	if (used + n > sizeof pool)
		throw std::bad_alloc();
	news++;
	void *p = pool + used;
	used += n;
	return p;
}
void operator delete(void *p, std::align_val_t) noexcept
{
	if (p != nullptr && (p < (void *)pool || p >= (void *)(pool + sizeof pool)))
		std::abort();
	if (p != nullptr)
		deletes++;
}
struct alignas(128) W { char c[200]; };
int main()
{
	for (int i = 0; i < 1000; i++) {
		W *w = new W;                  /* sized aligned delete */
		delete w;
		W *a = new W[2];               /* aligned new[], sized aligned delete[] */
		delete[] a;
		W *n = new (std::nothrow) W;   /* aligned nothrow new */
		delete n;
	}
	std::printf("aligned: %ld news, %ld deletes\n", news, deletes);
	return news == 3000 && deletes == 3000 ? 0 : 1;
}
CC
# Only delete (counting, then free): nothrow new's failure is still NULL.
cat >delete.cc <<'CC'
#include <cstdio>
#include <cstdlib>
#include <new>
static long deletes;
void operator delete(void *p) noexcept { if (p) deletes++; std::free(p); }
static volatile size_t huge = (size_t)1 << 62;
int main()
{
	for (int i = 0; i < 100; i++) {
		int *a = new int[3];
		delete[] a;
		long *l = new long;
		delete l;
	}
	if (::operator new(huge, std::nothrow) != nullptr ||
	    ::operator new[](huge, std::align_val_t(64), std::nothrow) != nullptr)
		return 1;
	std::printf("delete: %ld deletes, nothrow NULL\n", deletes);
	return deletes == 200 ? 0 : 1;
}
CC
static_ok=0
if [ -f "$JM_ROOT/liballoc/libjmalloc.a" ] &&
	printf 'int main() { return 0; }\n' >t.cc && g++ -static -o t t.cc 2>/dev/null; then
	static_ok=1
fi
for prog in pool array aligned delete; do
	g++ -std=c++17 -O1 -o "$prog.shared" "$prog.cc" -static-libstdc++ -Wl,--no-as-needed \
		-L"$LIBDIR" -ljmalloc -Wl,-rpath,"$LIBDIR" >g++.err 2>&1 || { cat g++.err; fail "cannot build $prog.cc"; }
	readelf -d "$prog.shared" | grep -q 'NEEDED.*libjmalloc' || fail "$prog.shared: not linked with libjmalloc.so"
	"./$prog.shared" >out 2>&1 || { cat out; fail "$prog (-static-libstdc++ -ljmalloc): a form did not reach the program's operator"; }
	echo "-static-libstdc++ -ljmalloc: $(cat out)"
	if [ "$static_ok" = 1 ]; then
		g++ -static -std=c++17 -O1 -o "$prog.static" "$prog.cc" "$JM_ROOT/liballoc/libjmalloc.a" -pthread \
			>g++.err 2>&1 || { cat g++.err; fail "g++ -static $prog.cc with libjmalloc.a"; }
		"./$prog.static" >out 2>&1 || { cat out; fail "$prog (g++ -static, libjmalloc.a): a form did not reach the program's operator"; }
		echo "g++ -static, libjmalloc.a: $(cat out)"
	fi
done
[ "$static_ok" = 1 ] || echo "no libjmalloc.a or no static libstdc++: the static link not tried"
ok "the forms a program did not replace reach those it did, with no next definition"
