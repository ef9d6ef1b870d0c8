/*
 * A program with its own operator new[] and delete[] drawing on a pool
 * (the preload tests cxx_next, cxx_partial): sized delete[] and nothrow
 * new[] must reach them; a plain new and delete are not the pool's. Exit 0
 * when each new[] and each delete[] was the pool's.
 */
#include <cstdio>
#include <cstdlib>
#include <new>
static char pool[1 << 20] __attribute__((aligned(16)));
static size_t used;
static long news, deletes;
void *operator new[](std::size_t n)
{
	n = (n + 15) & ~(std::size_t)15;
	if (used + n > sizeof pool)
		throw std::bad_alloc();
	news++;
	void *p = pool + used;
	used += n;
	return p;
}
void operator delete[](void *p) noexcept
{
	if (p != nullptr && (p < (void *)pool || p >= (void *)(pool + sizeof pool)))
		std::abort();
	if (p != nullptr)
		deletes++;
}
struct S { long a[3]; ~S() {} };
int main()
{
	for (int i = 0; i < 1000; i++) {
		S *s = new S[3];                       /* sized delete[] */
		delete[] s;
		char *c = new (std::nothrow) char[5];  /* nothrow new[] */
		delete[] c;
		long *l = new long;                    /* not the pool's */
		delete l;
	}
	std::printf("array: %ld news, %ld deletes\n", news, deletes);
	return news == 2000 && deletes == 2000 ? 0 : 1;
}
