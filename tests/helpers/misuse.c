/*
 * misuse: commits one allocator misuse, named on the command line, after
 * printing the address involved on stdout. Run under LD_PRELOAD by
 * tests/preload/misuse.test.sh, which expects the allocator to name that
 * address on stderr and abort.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <malloc.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>

/* write-after-free-arena-cache-link's second thread: counted in its
 * arena by its small fills, then asleep while the process lives. */
static int sleeper_ready;
static void *small_keep[2000], *sleeper_keep[2000];
static void *counted_sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++)
		sleeper_keep[i] = malloc(16 + (size_t)(i % 40) * 16);
	__atomic_store_n(&sleeper_ready, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

static void say(void *p)
{
	printf("%p\n", p);
	fflush(stdout);
}

static void *free_in_thread(void *p)
{
	free(p);
	return NULL;
}

/* double-free-tiny-other-cache's thread: boots its cache (an allocation),
 * frees the region into it, lets main free it again, then exits, which
 * flushes its cache to the regions' runs. */
static int hold_go[2], hold_back[2];
static void *free_and_hold(void *p)
{
	char c = 0;
	free(malloc(8));
	free(p);
	if (write(hold_go[1], &c, 1) != 1 || read(hold_back[0], &c, 1) != 1)
		abort();
	return NULL;
}

/* double-free-tiny-two-caches' thread: boots its cache with room in its
 * 8 B list, frees p into it, lets main free p again, then allocates 8 B
 * (its list's first region: p). */
static size_t hold_take_size = 8;   /* 0: double-free-tiny-two-caches-zero */
static void *hold_then_take(void *p)
{
	char c = 0;
	void *h[10];
	for (int i = 0; i < 10; i++)
		h[i] = malloc(8);
	free(h[0]);
	free(p);
	if (write(hold_go[1], &c, 1) != 1 || read(hold_back[0], &c, 1) != 1)
		abort();
	void *a = malloc(hold_take_size);
	if (write(hold_go[1], &c, 1) != 1 || read(hold_back[0], &c, 1) != 1)
		abort();
	return a;
}

/* double-free-tiny-first-malloc's thread: frees regions main allocated
 * (the first 64 to their runs, a new thread's; then its cache is up and
 * they go to its 8 B list), p last, lets main free p again, then makes
 * its first allocation, 8 B. */
enum { FIRST_FREES = 70 };
static void *free_then_take(void *arg)
{
	void **v = arg;
	char c = 0;
	for (int i = 0; i <= FIRST_FREES; i++)
		free(v[i]);
	if (write(hold_go[1], &c, 1) != 1 || read(hold_back[0], &c, 1) != 1)
		abort();
	void *a = malloc(8);
	if (write(hold_go[1], &c, 1) != 1 || read(hold_back[0], &c, 1) != 1)
		abort();
	return a;
}

/* A forked child frees every other one of n regions of `size` bytes its
 * parent allocated and wrote (its cache set aside: to their runs, nothing
 * of them written), then frees 210,000 of its own 48 B regions (its cache
 * the fast paths' again after 65,536), then frees the region before the
 * last again, on the fast path, and allocates twice. The parent says that
 * region's address and aborts if the child did (SIGABRT); 0 if the child
 * went on. */
static int forked_refree(size_t size)
{
	enum { N = 20000, OWN = 210000 };
	void **v = malloc(N * sizeof(void *));
	for (int i = 0; i < N; i++) {
		v[i] = malloc(size);
		memset(v[i], 0x33, size);
	}
	say(v[N - 2]);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < N; i += 2)
			free(v[i]);
		void **w = malloc(OWN * sizeof(void *));
		for (int i = 0; i < OWN; i++)
			w[i] = malloc(48);
		for (int i = 0; i < OWN; i++)
			free(w[i]);
		free(v[N - 2]);
		void *a = malloc(size), *b = malloc(size);
		printf("not reported: %p %p\n", a, b);
		fflush(stdout);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
		signal(SIGABRT, SIG_DFL);
		raise(SIGABRT);
	}
	return 0;
}

/* Frees the n regions of v (say()s the last one first), frees 8 MiB,
 * which starts the background purger (4 MiB dirty at once:
 * docs/purging.md; pthread_create allocates on this thread), then frees
 * each region again in a child, where it must be reported (SIGABRT), and
 * the last one here. 1 if one was not. */
static int refree_after_purger_start(void **v, int n)
{
	say(v[n - 1]);   /* stdout's buffer taken before the frees */
	int devnull = open("/dev/null", O_WRONLY);
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(malloc(8 << 20));
	for (int i = 0; i < n - 1; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			dup2(devnull, 2);   /* no allocation in the child */
			free(v[i]);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT) {
			fprintf(stderr, "a second free of %p (the %dth of %d regions) was not reported\n",
			    v[i], i + 1, n);
			return 1;
		}
	}
	free(v[n - 1]);
	return 0;
}

/* MANY_64 regions of 64 B, more than a thread's cache holds of them, the
 * first one's address said. */
#define MANY_64 5000
static void **many_64(void)
{
	void **v = malloc(MANY_64 * sizeof(void *));
	for (int i = 0; i < MANY_64; i++)
		v[i] = malloc(64);
	say(v[0]);
	return v;
}

/* MANY_8 regions of 8 B (class 0), more than a thread's cache holds of
 * them, the first one's address said. */
#define MANY_8 5000
static void **many_8(void)
{
	void **v = malloc(MANY_8 * sizeof(void *));
	for (int i = 0; i < MANY_8; i++)
		v[i] = malloc(8);
	say(v[0]);
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	const char *m = argv[1];
	static char on_stack_or_data[64];
	if (!strcmp(m, "double-free-small")) {
		void *p = malloc(48);
		say(p);
		free(p);
		free(p);
	} else if (!strcmp(m, "double-free-small-later")) {
		void *p = malloc(48), *q = malloc(48);
		say(p);
		free(p);
		free(q);
		free(p);
	} else if (!strcmp(m, "double-free-small-flushed")) {
		/* p goes back to its run (kept alive by its neighbour v[1])
		 * through cache flushes before the second free. */
		void **v = many_64(), *p = v[0];
		for (int i = 0; i < MANY_64; i++)
			if (i != 1)
				free(v[i]);
		free(p);
	} else if (!strcmp(m, "double-free-small-clobbered")) {
		/* A write after free clears p's free mark (its cookie, word
		 * 1), so that the second free puts p in the cache again: the
		 * flush that takes it back to its run finds its bit set. */
		void **v = many_64(), *p = v[0];
		free(p);
		((volatile uintptr_t *)p)[1] = 0;
		free(p);
		for (int i = 1; i < MANY_64; i++)
			free(v[i]);
	} else if (!strcmp(m, "double-free-tiny")) {
		/* The 8 B class: its free mark is a tag in the link's top
		 * bits (liballoc/internal.h), found in the thread's list. */
		void *p = malloc(8);
		say(p);
		free(p);
		free(p);
	} else if (!strcmp(m, "double-free-tiny-later")) {
		void *p = malloc(5), *q = malloc(8);
		say(p);
		free(p);
		free(q);
		free(p);
	} else if (!strcmp(m, "double-free-tiny-flushed")) {
		void **v = many_8(), *p = v[0];
		for (int i = 0; i < MANY_8; i++)
			if (i != 1)
				free(v[i]);
		free(p);
	} else if (!strcmp(m, "double-free-tiny-clobbered")) {
		/* A write after free clears p's tag (its only word): the
		 * second free puts p in the list again, the flush finds its
		 * bit set. */
		void **v = many_8(), *p = v[0];
		free(p);
		((volatile uintptr_t *)p)[0] = 0;
		free(p);
		for (int i = 1; i < MANY_8; i++)
			free(v[i]);
	} else if (!strcmp(m, "double-free-cross-thread")) {
		void *p = malloc(100);
		say(p);
		pthread_t t;
		free(p);
		pthread_create(&t, NULL, free_in_thread, p);
		pthread_join(t, NULL);
	} else if (!strcmp(m, "double-free-new-thread-first") ||
	           !strcmp(m, "double-free-tiny-new-thread-first")) {
		/* The first free in a thread without a cache yet, which sends
		 * the region to its run (malloc.c, NEW_THREAD_FREES), then a
		 * second on this thread's fast path: the run's free left no
		 * cookie, and the second was pushed on the list unreported,
		 * the region then handed out twice. */
		void *p = malloc(m[12] == 't' ? 8 : 100), *keep = malloc(m[12] == 't' ? 8 : 100);
		say(p);
		pthread_t t;
		pthread_create(&t, NULL, free_in_thread, p);
		pthread_join(t, NULL);
		free(p);
		void *a = malloc(m[12] == 't' ? 8 : 100), *b = malloc(m[12] == 't' ? 8 : 100);
		printf("not reported: %p %p\n", a, b);
		free(keep);
	} else if (!strcmp(m, "double-free-tiny-other-cache")) {
		/* An 8 B region freed into another thread's cache, then freed
		 * here: its tag matches, but neither this thread's list nor its
		 * run holds it (an 8 B object in use matches its tag one time
		 * in 2^15), so the free cannot say. It was pushed on this
		 * thread's list, its link overwritten: the other list ran on
		 * into this one, the other thread's exit flushed both and this
		 * thread's mallocs then handed them out again, unreported. It
		 * now goes to its run, nothing of it written: the other
		 * thread's flush finds its bit set. */
		void *p = malloc(8), *keep = malloc(8);
		say(p);
		char c = 0;
		pthread_t t;
		if (pipe(hold_go) || pipe(hold_back) ||
		    pthread_create(&t, NULL, free_and_hold, p) ||
		    read(hold_go[0], &c, 1) != 1)
			return 3;
		free(p);
		if (write(hold_back[1], &c, 1) != 1)
			return 3;
		pthread_join(t, NULL);
		void *a = malloc(8), *b = malloc(8);
		printf("not reported: %p %p\n", a, b);
		free(keep);
	} else if (!strcmp(m, "double-free-tiny-two-caches") ||
	           !strcmp(m, "double-free-tiny-two-caches-zero")) {
		/* -zero: the other thread takes p with malloc(0), which class 0
		 * serves too: its pop went unchecked while p was held (the
		 * held state's size bound was 0, and 0 <= 0), and once the
		 * held regions went to their runs (65,536 checked pops here,
		 * below) a fill here handed p out a second time. */
		bool zero = m[strlen(m) - 1] == 'o';
		if (zero)
			hold_take_size = 0;
		/* As double-free-tiny-other-cache, but the other thread's
		 * malloc takes p from its list before any flush: p went to
		 * its run at the second free, and was handed out twice
		 * (once from that list, once by a fill here), unreported.
		 * Now held, and reported by that malloc. */
		void *p = malloc(8), *keep = malloc(8);
		say(p);
		char c = 0;
		pthread_t t;
		if (pipe(hold_go) || pipe(hold_back) ||
		    pthread_create(&t, NULL, hold_then_take, p) ||
		    read(hold_go[0], &c, 1) != 1)
			return 3;
		free(p);
		if (write(hold_back[1], &c, 1) != 1 || read(hold_go[0], &c, 1) != 1)
			return 3;
		int twice = 0;
		for (int i = 0; zero && i < 70000; i++)
			free(malloc(8));
		for (int i = 0; i < 600; i++)
			twice += malloc(8) == p;
		printf("not reported: handed out here %d times\n", twice);
		if (write(hold_back[1], &c, 1) != 1)
			return 3;
		pthread_join(t, NULL);
		free(keep);
	} else if (!strcmp(m, "double-free-tiny-first-malloc")) {
		/* As double-free-tiny-two-caches, but the other thread's malloc
		 * is its first allocation, which the heap profile's budget
		 * sends to jm__prof_alloc (a thread's first draws its interval
		 * there, unsampled) and on to alloc_small: that pop of class
		 * 0's list was unchecked, p handed to the thread, and a fill
		 * here handed it out again once the held regions went to their
		 * runs (65,536 checked pops here). */
		void *v[FIRST_FREES + 1];
		for (int i = 0; i <= FIRST_FREES; i++)
			v[i] = malloc(8);
		void *p = v[FIRST_FREES];
		say(p);
		char c = 0;
		pthread_t t;
		if (pipe(hold_go) || pipe(hold_back) ||
		    pthread_create(&t, NULL, free_then_take, v) ||
		    read(hold_go[0], &c, 1) != 1)
			return 3;
		free(p);
		if (write(hold_back[1], &c, 1) != 1 || read(hold_go[0], &c, 1) != 1)
			return 3;
		int twice = 0;
		for (int i = 0; i < 70000; i++)
			free(malloc(8));
		for (int i = 0; i < 600; i++)
			twice += malloc(8) == p;
		printf("not reported: handed out here %d times\n", twice);
		if (write(hold_back[1], &c, 1) != 1)
			return 3;
		pthread_join(t, NULL);
	} else if (!strcmp(m, "double-free-tiny-forked-gone")) {
		/* As double-free-tiny-other-cache, but the process forks while
		 * p is held and the other thread's list holds it: in the child
		 * that thread is gone, and its lists went to their runs at the
		 * child's 1,024th free of an inherited region (dead_drain),
		 * unchecked: p was then both held and free in its run, a fill
		 * handed it out (its first region is not looked at), and once
		 * the held regions went to their runs (65,536 checked pops) p
		 * went back to its run under its user and was handed out a
		 * second time, unreported. The child's abort is the parent's;
		 * the other thread never exits (its flush would report p in
		 * the parent). */
		enum { INH = 2000 };
		void **inh = malloc(INH * sizeof(void *));
		for (int i = 0; i < INH; i++)
			inh[i] = malloc(48);
		void *p = malloc(8), *keep = malloc(8);
		say(p);
		char c = 0;
		pthread_t t;
		if (pipe(hold_go) || pipe(hold_back) ||
		    pthread_create(&t, NULL, free_and_hold, p) ||
		    read(hold_go[0], &c, 1) != 1)
			return 3;
		free(p);
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < INH; i++)
				free(inh[i]);
			/* Kept, not freed: a second free of p would be
			 * reported by the pop that met it again. */
			enum { TAKE = 74000 };
			void **kept = malloc(TAKE * sizeof(void *));
			int twice = 0;
			for (int i = 0; i < TAKE; i++)
				twice += (kept[i] = malloc(8)) == p;
			printf("not reported: handed out in the child %d times\n", twice);
			fflush(stdout);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
			signal(SIGABRT, SIG_DFL);
			raise(SIGABRT);
		}
		(void)keep;
		_exit(0);
	} else if (!strcmp(m, "double-free-forked-refree")) {
		forked_refree(256);
	} else if (!strcmp(m, "double-free-tiny-forked-refree")) {
		forked_refree(8);
	} else if (!strcmp(m, "free-chunk-header")) {
		/* A pointer into the header of the chunk a region is in. */
		char *p = malloc(64);
		char *c = (char *)((uintptr_t)p & ~(uintptr_t)((2 << 20) - 1));
		say(c + 64);
		free(c + 64);
	} else if (!strcmp(m, "foreign-stack")) {
		char buf[64];
		say(buf + 16);
		free(buf + 16);
	} else if (!strcmp(m, "interior-large-class")) {
		/* 20 pages: a region the cache's page-count lists keep. */
		char *p = malloc(20 * 4096);
		say(p + 3 * 4096);
		free(p + 3 * 4096);
	} else if (!strcmp(m, "interior-memalign-small")) {
		char *p = memalign(64, 100);
		say(p + 16);
		free(p + 16);
	} else if (!strcmp(m, "interior-memalign-large")) {
		char *p = memalign(1 << 16, 70000);
		say(p + 4096);
		free(p + 4096);
	} else if (!strcmp(m, "interior-memalign-huge")) {
		char *p = memalign(4 << 20, 3 << 20);
		say(p + 4096);
		free(p + 4096);
	} else if (!strcmp(m, "realloc-interior-huge")) {
		char *p = malloc(8 << 20);
		say(p + 4096);
		printf("%p\n", realloc(p + 4096, 100));
	} else if (!strcmp(m, "realloc-freed-huge-small")) {
		/* To a small size: the move's path, not the huge resize. */
		void *p = malloc(8 << 20);
		say(p);
		free(p);
		printf("%p\n", realloc(p, 100));
	} else if (!strcmp(m, "double-free-large")) {
		void *p = malloc(100000);
		say(p);
		free(p);
		free(p);
	} else if (!strcmp(m, "double-free-large-cached")) {
		/* 5 pages: a page class (one region a run of 5 pages). */
		void *p = malloc(5 * 4096);
		say(p);
		free(p);
		free(p);
	} else if (!strcmp(m, "double-free-small-purger")) {
		/* One region of every small class up to 4 KiB freed into the
		 * thread cache before the purger starts: a region the start
		 * took would be freed silently. */
		enum { N = 64 };
		void *v[N];
		int n = 0;
		for (size_t s = 16; s <= 128; s += 16)
			v[n++] = malloc(s);
		for (size_t b = 128; b < 4096; b *= 2)
			for (size_t k = 5; k <= 8; k++)
				v[n++] = malloc(b * k / 4);
		if (refree_after_purger_start(v, n))
			return 1;
	} else if (!strcmp(m, "double-free-run-purger")) {
		/* Large regions freed to their arena (16 pages: no thread cache
		 * keeps them) before the purger starts: what pthread_create
		 * allocates (its dtv) must not be carved on their pages, or a
		 * second free of one would free the purger's memory silently. */
		enum { N = 8 };
		void *v[N];
		for (int i = 0; i < N; i++)
			v[i] = malloc(16 << 12);
		if (refree_after_purger_start(v, N))
			return 1;
	} else if (!strcmp(m, "double-free-huge")) {
		void *p = malloc(8 << 20);
		say(p);
		free(p);
		free(p);
	} else if (!strcmp(m, "interior-small")) {
		char *p = malloc(64);
		say(p + 16);
		free(p + 16);
	} else if (!strcmp(m, "interior-large")) {
		char *p = malloc(100000);
		say(p + 8192);
		free(p + 8192);
	} else if (!strcmp(m, "interior-large-last")) {
		/* 73 pages, above both caches: the last page's entry is
		 * the one the page map's fill writes alone. */
		char *p = malloc(73 * 4096 - 100);
		say(p + 72 * 4096);
		free(p + 72 * 4096);
	} else if (!strcmp(m, "interior-large-cached")) {
		char *p = malloc(5 * 4096);
		say(p + 4096);
		free(p + 4096);
	} else if (!strcmp(m, "interior-huge")) {
		char *p = malloc(8 << 20);
		say(p + 4096);
		free(p + 4096);
	} else if (!strcmp(m, "foreign-static")) {
		say(on_stack_or_data + 16);
		free(on_stack_or_data + 16);
	} else if (!strcmp(m, "foreign-mmap")) {
		char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		say(p + 64);
		free(p + 64);
	} else if (!strcmp(m, "realloc-freed")) {
		void *p = malloc(1000);
		say(p);
		free(p);
		p = realloc(p, 2000);
	} else if (!strcmp(m, "realloc-freed-same")) {
		/* To a size of its class: the no-op realloc still checks. */
		void *p = malloc(1000);
		say(p);
		free(p);
		p = realloc(p, 1001);
	} else if (!strcmp(m, "realloc-foreign")) {
		say(on_stack_or_data);
		void *p = realloc(on_stack_or_data, 10);
		(void)p;
	} else if (!strcmp(m, "free-sized-wrong")) {
		void *p = malloc(32);
		say(p);
		void (*free_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
		if (free_sized == NULL)
			return 3;
		free_sized(p, 4096);
	} else if (!strcmp(m, "usable-size-freed")) {
		void *p = malloc(300000);
		say(p);
		free(p);
		printf("%zu\n", malloc_usable_size(p));
	} else if (!strcmp(m, "usable-size-freed-small")) {
		void *p = malloc(64);
		say(p);
		free(p);
		printf("%zu\n", malloc_usable_size(p));
	} else if (!strcmp(m, "usable-size-freed-tiny")) {
		void *p = malloc(8);
		say(p);
		free(p);
		printf("%zu\n", malloc_usable_size(p));
	} else if (!strcmp(m, "interior-tiny")) {
		char *p = malloc(8);
		say(p + 4);
		free(p + 4);
	} else if (!strcmp(m, "usable-size-interior-small")) {
		char *p = malloc(64);
		say(p + 16);
		printf("%zu\n", malloc_usable_size(p + 16));
	} else if (!strcmp(m, "usable-size-interior-large")) {
		char *p = malloc(100000);
		say(p + 8192);
		printf("%zu\n", malloc_usable_size(p + 8192));
	} else if (!strcmp(m, "usable-size-interior-huge")) {
		char *p = malloc(8 << 20);
		say(p + 4096);
		printf("%zu\n", malloc_usable_size(p + 4096));
	} else if (!strcmp(m, "realloc-interior-small")) {
		/* A size of its class: kept in place, it came back as is. */
		char *p = malloc(64);
		say(p + 16);
		printf("%p\n", realloc(p + 16, 60));
	} else if (!strcmp(m, "realloc-freed-huge")) {
		void *p = malloc(8 << 20);
		say(p);
		free(p);
		printf("%p\n", realloc(p, 16 << 20));
	} else if (!strcmp(m, "interior-huge-chunk")) {
		/* In the region's second 2 MiB, which the radix tree does not
		 * name. */
		char *p = malloc(8 << 20);
		say(p + (2 << 20));
		free(p + (2 << 20));
	} else if (!strcmp(m, "write-after-free-large-class")) {
		/* 20 pages: cached in the 20-23 pages' class list, its page
		 * count in its word 2. The program writes a larger count
		 * there after the free; a request of 23 pages, believing it,
		 * took the 20-page region (written 3 pages past its end). */
		size_t *p = malloc(20 * 4096);
		say(p);
		free(p);
		p[2] = 64;
		char *q = malloc(23 * 4096);
		if (q == (char *)p)
			_exit(3);   /* handed out: too small by 3 pages */
		free(q);
	} else if (!strcmp(m, "write-after-free-large-link")) {
		/* 10 pages: cached in the thread's list of 10-page regions, a
		 * region's word 0 linking it to the next. The program writes
		 * an address of its own there after the free: the request
		 * after the one that took the region back took that address
		 * for the list's next region and handed it out. */
		static char fake[11 * 4096] __attribute__((aligned(4096)));
		char *a = malloc(10 * 4096), *b = malloc(10 * 4096);
		say(fake);
		free(a);
		free(b);
		*(void **)b = fake;
		char *x = malloc(10 * 4096);
		char *y = malloc(10 * 4096);
		__asm__ volatile("" : "+r"(y));   /* compared as any pointer, not as malloc's */
		if (y == fake)
			_exit(3);   /* handed out: memory that is not the allocator's */
		free(x);
		free(y);
	} else if (!strcmp(m, "write-after-free-arena-cache-link")) {
		/* Run with narenas:1: a second thread counted in the arena
		 * (its small fills) makes it shared, so that this thread keeps
		 * one region of 12 pages and the arena's cache takes the
		 * others, linked through their word 0. The program writes an
		 * address of its own over the top one's link after the free:
		 * the request after the one that took it back found that
		 * address at the list's head (its cookie checked first). */
		static char fake3[13 * 4096] __attribute__((aligned(4096)));
		pthread_t t;
		pthread_create(&t, NULL, counted_sleeper, NULL);
		while (!__atomic_load_n(&sleeper_ready, __ATOMIC_ACQUIRE))
			usleep(1000);
		for (int i = 0; i < 2000; i++)   /* this thread counted too */
			small_keep[i] = malloc(16 + (size_t)(i % 40) * 16);
		char *a = malloc(12 * 4096), *b = malloc(12 * 4096), *c = malloc(12 * 4096);
		say(fake3);
		free(a);   /* the thread's one */
		free(b);   /* the arena's cache */
		free(c);   /* its top, linked to b */
		*(void **)c = fake3;
		char *x = malloc(12 * 4096);   /* a, from the thread's cache */
		char *y = malloc(12 * 4096);   /* c, from the arena's */
		char *z = malloc(12 * 4096);
		__asm__ volatile("" : "+r"(z));
		if (z == fake3)
			_exit(3);   /* handed out: memory that is not the allocator's */
		free(x);
		free(y);
		free(z);
	} else if (!strcmp(m, "write-after-free-large-class-link")) {
		/* The same in a class list (20 pages): the next request of
		 * the class found a word 2 and a cookie to check at an address
		 * the program chose, through its chunk's page map. */
		static char fake2[21 * 4096] __attribute__((aligned(4096)));
		char *a = malloc(20 * 4096), *b = malloc(20 * 4096);
		say(fake2);
		free(a);
		free(b);
		*(void **)b = fake2;
		char *x = malloc(20 * 4096);
		char *y = malloc(20 * 4096);
		__asm__ volatile("" : "+r"(y));
		if (y == fake2)
			_exit(3);
		free(x);
		free(y);
	} else if (!strcmp(m, "write-after-free")) {
		/* Run with JMALLOC_CONF=junk:1. */
		char *p = malloc(64);
		say(p);
		free(p);
		p[40] = 1;
		for (int i = 0; i < 1000; i++)
			(void)!malloc(64);
	} else {
		return 2;
	}
	return 0;
}
