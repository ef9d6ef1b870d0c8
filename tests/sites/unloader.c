/* unloader BIG SMALL: calls BIG's unloadlib_call (a frame of 4000 bytes)
 * with a callback that allocates, on the main stack; dlcloses it, dlopens
 * SMALL (the same code, a frame of 200 bytes, loaded at the same address)
 * and calls it the same way on a makecontext stack of 16 KiB under a
 * PROT_NONE page. Prints "ok" and the two addresses. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

static void (*call)(void (*)(void));
static void *volatile kept;
static ucontext_t main_ctx, ctx;

static void allocate(void)
{
	for (int i = 0; i < 4; i++) {
		kept = malloc(64);
		free(kept);
	}
}

static void on_stack(void)
{
	call(allocate);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW);
	if (h == NULL || (call = (void (*)(void (*)(void)))dlsym(h, "unloadlib_call")) == NULL)
		return 3;
	void *big = (void *)call;
	call(allocate);
	call(allocate);
	dlclose(h);
	h = dlopen(argv[2], RTLD_NOW);
	if (h == NULL || (call = (void (*)(void (*)(void)))dlsym(h, "unloadlib_call")) == NULL)
		return 4;
	size_t size = 16384;
	char *m = mmap(NULL, size + 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + size, 65536, PROT_NONE) != 0)
		return 5;
	getcontext(&ctx);
	ctx.uc_stack.ss_sp = m;
	ctx.uc_stack.ss_size = size;
	ctx.uc_link = &main_ctx;
	makecontext(&ctx, on_stack, 0);
	swapcontext(&main_ctx, &ctx);
	printf("ok %s\n", big == (void *)call ? "same" : "moved");
	return 0;
}
