/*
 * A program with its own operator new and delete drawing on a pool (the
 * preload tests cxx_new, cxx_partial): every form it did not define
 * (sized delete, new[] and delete[], nothrow new, nothrow delete[]) must
 * reach its new or delete. Exit 0 when each new and each delete was the
 * pool's.
 */
#include <cstdio>
#include <cstdlib>
#include <new>
static char pool[1 << 20] __attribute__((aligned(16)));
static size_t used;
static long news, deletes;
void *operator new(std::size_t n)
{
	n = (n + 15) & ~(std::size_t)15;
	if (used + n > sizeof pool)
		throw std::bad_alloc();
	news++;
	void *p = pool + used;
	used += n;
	return p;
}
void operator delete(void *p) noexcept
{
	if (p != nullptr && (p < (void *)pool || p >= (void *)(pool + sizeof pool)))
		std::abort();
	if (p != nullptr)
		deletes++;
}
struct S { long a[3]; virtual ~S() {} };
int main()
{
	for (int i = 0; i < 1000; i++) {
		S *s = new S;                          /* sized delete: _ZdlPvm */
		delete s;
		int *a = new int[10];                  /* new[], delete[] */
		delete[] a;
		char *c = new (std::nothrow) char[7];  /* nothrow new[] */
		delete[] c;
		char *d = new (std::nothrow) char[9];
		::operator delete[](d, std::nothrow);  /* nothrow delete[] */
	}
	std::printf("pool: %ld news, %ld deletes\n", news, deletes);
	return news == 4000 && deletes == 4000 ? 0 : 1;
}
