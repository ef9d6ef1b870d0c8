/*
 * atfork_alloc: fork handlers that allocate, registered before the
 * program's first malloc (from a constructor, as a library does), and
 * those of a library loaded with dlopen (argv[1], whose constructor
 * registers them; it exports atfork_lib_state()), which is then closed.
 * glibc runs prepare handlers in the reverse order of their registration
 * and child handlers in that order: an allocator whose own handlers were
 * registered after these (at its first use) took its locks before a
 * prepare handler allocated, and deadlocked (an alarm ends the helper
 * then). Another thread allocates all along. Each child checks what its
 * child handlers wrote, allocates and frees, and exits 0; after the
 * library is closed, forks go on (its handlers are gone with it). Prints
 * "ok" and exits 0.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *state;
static atomic_int stop;

static void prepare(void)
{
	state = malloc(1000);
	strcpy(state, "prepare");
}

static void parent(void)
{
	free(state);
	state = malloc(64);
	strcpy(state, "parent");
}

static void child(void)
{
	free(state);
	state = malloc(64);
	strcpy(state, "child");
}

__attribute__((constructor)) static void early(void)
{
	pthread_atfork(prepare, parent, child);
}

static void *churn(void *arg)
{
	void *slot[64] = {0};
	unsigned r = 1;
	while (!atomic_load(&stop)) {
		r = r * 1103515245 + 12345;
		unsigned i = (r >> 8) % 64;
		free(slot[i]);
		slot[i] = malloc((r >> 16) % 40000);
	}
	for (int i = 0; i < 64; i++)
		free(slot[i]);
	return arg;
}

static int forks(int n, const char *(*lib_state)(void))
{
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			int bad = strcmp(state, "child") != 0;
			if (lib_state && strcmp(lib_state(), "lib child") != 0)
				bad = 1;
			void *p = malloc(100 + i * 1000);
			free(p);
			_exit(bad);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("fork %d: child status %#x\n", i, st);
			return 1;
		}
		if (strcmp(state, "parent") != 0) {
			printf("fork %d: parent handler not run\n", i);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	alarm(20);
	pthread_t t;
	pthread_create(&t, NULL, churn, NULL);
	int bad = forks(20, NULL);
	if (!bad && argc > 1) {
		void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
		if (h == NULL) {
			printf("dlopen: %s\n", dlerror());
			return 1;
		}
		const char *(*lib_state)(void) = (const char *(*)(void))dlsym(h, "atfork_lib_state");
		if (lib_state == NULL) {
			printf("dlsym: %s\n", dlerror());
			return 1;
		}
		bad = forks(20, lib_state);
		dlclose(h);
		if (!bad)
			bad = forks(5, NULL); /* the library's handlers went with it */
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	if (bad)
		return 1;
	puts("ok");
	return 0;
}
