/* thread_teardown N: a forked child, older than its purger's grace,
 * makes N threads on stacks of its own, one at a time, half of them
 * detached (each ends on its own) and half joined, each allocating
 * nothing. glibc frees each thread's DTV holding its stack cache's lock
 * (in the ending thread, or in the joiner); tests/preload/
 * thread_teardown.test.sh runs it preloaded, where such a free could
 * start the allocator's purger, whose pthread_create then waited for
 * that lock for ever. The child is killed by SIGALRM after 30 s;
 * prints "child exited 0" when it ends normally. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void *quick(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	static void *keep[1000];
	for (int i = 0; i < 1000; i++)
		keep[i] = malloc(64 + (size_t)i * 8);
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		alarm(30);
		/* Older than the purger's grace in a child (its interval:
		 * 100 ms at decay_ms:2000 and below): its first start is due. */
		usleep(300000);
		for (int i = 0; i < 100; i++)
			free(keep[i]);
		/* A joined thread's stack serves the next one (the join
		 * returns once the kernel has let it go); a detached one's
		 * is never used again (its teardown runs on it after its
		 * function returned, for as long as the machine's load
		 * makes it last). */
		static char joined_stack[64 << 10] __attribute__((aligned(4096)));
		for (int i = 0; i < n; i++) {
			pthread_attr_t at;
			pthread_t t;
			bool detached = i % 2 == 0;
			void *stack = joined_stack;
			if (detached && (stack = mmap(NULL, sizeof joined_stack, PROT_READ | PROT_WRITE,
			        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
				_exit(4);
			pthread_attr_init(&at);
			pthread_attr_setstack(&at, stack, sizeof joined_stack);
			if (detached)
				pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &at, quick, NULL) != 0)
				_exit(3);
			pthread_attr_destroy(&at);
			if (!detached)
				pthread_join(t, NULL);
		}
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 2;
	if (WIFSIGNALED(st)) {
		printf("child killed by signal %d\n", WTERMSIG(st));
		return 1;
	}
	printf("child exited %d\n", WEXITSTATUS(st));
	return WEXITSTATUS(st) == 0 ? 0 : 1;
}
