/*
 * libc_names: allocates through glibc's internal names (__libc_malloc and
 * its kin, which some libraries and tools call directly) and frees through
 * the public ones, and the other way round. Under LD_PRELOAD the allocator
 * must serve both names, or the second call is handed a pointer of the
 * other allocator (a foreign pointer: the allocator aborts, or glibc
 * corrupts its heap). Prints "ok" and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

int main(void)
{
	char *a = __libc_malloc(100);
	memset(a, 1, 100);
	a = realloc(a, 5000);           /* ours, on a pointer from __libc_ */
	free(a);
	char *b = malloc(200);
	b = __libc_realloc(b, 300000);
	__libc_free(b);
	char *c = __libc_calloc(10, 10);
	for (int i = 0; i < 100; i++)
		if (c[i])
			return 1;
	free(c);
	void *d = __libc_memalign(4096, 100);
	if ((size_t)d % 4096)
		return 1;
	free(d);
	free(__libc_valloc(10));
	free(__libc_pvalloc(10));
	__libc_free(malloc(1 << 22));
	puts("ok");
	return 0;
}
