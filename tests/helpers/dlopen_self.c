/*
 * dlopen_self LIB: loads the allocator with dlopen after the program has
 * started (as a plugin linked with -ljmalloc is loaded), so that its
 * thread-local storage must fit in what glibc keeps spare in every
 * thread's static TLS block (a library built with the initial-exec model
 * and more than a few hundred bytes of TLS fails to load: "cannot
 * allocate memory in static TLS block"). Then allocates through the
 * library's own malloc, realloc and free from the main thread, from a
 * thread made before the load and from one made after. Prints "ok".
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*lib_malloc)(size_t);
static void *(*lib_realloc)(void *, size_t);
static void (*lib_free)(void *);
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void *churn(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);     /* held by main until the load */
	pthread_mutex_unlock(&gate);
	for (size_t i = 0; i < 20000; i++) {
		size_t n = i % 5000 + 1;
		unsigned char *p = lib_malloc(n);
		if (!p)
			return "malloc failed";
		memset(p, 0xa5, n);
		p = lib_realloc(p, 2 * n);
		if (!p || p[n - 1] != 0xa5)
			return "realloc lost the contents";
		lib_free(p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: dlopen_self LIB\n");
		return 2;
	}
	pthread_t before, after;
	pthread_mutex_lock(&gate);
	if (pthread_create(&before, NULL, churn, NULL))
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	lib_malloc = (void *(*)(size_t))dlsym(h, "malloc");
	lib_realloc = (void *(*)(void *, size_t))dlsym(h, "realloc");
	lib_free = (void (*)(void *))dlsym(h, "free");
	if (!lib_malloc || !lib_realloc || !lib_free) {
		printf("dlsym: %s\n", dlerror());
		return 1;
	}
	pthread_mutex_unlock(&gate);
	if (pthread_create(&after, NULL, churn, NULL))
		return 2;
	const char *err = churn(NULL);
	void *r1, *r2;
	pthread_join(before, &r1);
	pthread_join(after, &r2);
	if (err || r1 || r2) {
		printf("%s\n", err ? err : r1 ? (char *)r1 : (char *)r2);
		return 1;
	}
	printf("ok\n");
	return 0;
}
