/*
 * daemon_holder: a program for the daemon's end-to-end tests, run under
 * LD_PRELOAD=libjmalloc.so (it is not linked with the allocator). It
 * allocates exactly what it is told and holds it, so that a test can check
 * the daemon's counters against known numbers.
 *
 * It reads commands, one per line, on stdin and answers each on stdout:
 *   alloc SIZE N   malloc(SIZE) N times, touch each region, hold them -> "ok"
 *   free           free every region held                             -> "ok"
 *   pid            -> its pid
 *   exit           exit(0)
 * At start it makes one malloc/free pair (so that the allocator and its
 * segment are set up) and prints "ready PID".
 *
 * Between commands it makes no allocation of its own: no stdio, and the
 * table of held pointers is mapped with mmap, so that the allocator's
 * counters move only by what the commands ask for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_HELD (1u << 20)

static void **held;
static size_t nheld;

static void say(const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = write(STDOUT_FILENO, s, len);
		if (n <= 0)
			_exit(3);
		s += n;
		len -= (size_t)n;
	}
}

static void say_num(const char *prefix, unsigned long v)
{
	char buf[64];
	char digits[24];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t len = strlen(prefix);
	memcpy(buf, prefix, len);
	while (n)
		buf[len++] = digits[--n];
	buf[len++] = '\n';
	buf[len] = '\0';
	say(buf);
}

/* One line from stdin, without stdio; 0 at EOF. */
static int read_line(char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		char ch;
		ssize_t n = read(STDIN_FILENO, &ch, 1);
		if (n <= 0)
			return len ? 1 : 0;
		if (ch == '\n')
			break;
		if (len + 1 < cap)
			buf[len++] = ch;
	}
	buf[len] = '\0';
	return 1;
}

static unsigned long number(const char **s)
{
	while (**s == ' ')
		(*s)++;
	unsigned long v = 0;
	while (**s >= '0' && **s <= '9')
		v = v * 10 + (unsigned long)(*(*s)++ - '0');
	return v;
}

int main(void)
{
	held = mmap(NULL, MAX_HELD * sizeof(void *), PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (held == MAP_FAILED)
		return 2;
	free(malloc(1));
	say_num("ready ", (unsigned long)getpid());
	char line[256];
	while (read_line(line, sizeof(line))) {
		if (strncmp(line, "alloc ", 6) == 0) {
			const char *s = line + 6;
			unsigned long size = number(&s);
			unsigned long n = number(&s);
			if (n > MAX_HELD - nheld) {
				say("error: too many\n");
				continue;
			}
			for (unsigned long i = 0; i < n; i++) {
				char *p = malloc(size);
				if (!p) {
					say("error: malloc failed\n");
					break;
				}
				p[0] = 1;
				held[nheld++] = p;
			}
			say("ok\n");
		} else if (strcmp(line, "free") == 0) {
			while (nheld)
				free(held[--nheld]);
			say("ok\n");
		} else if (strcmp(line, "pid") == 0) {
			say_num("", (unsigned long)getpid());
		} else if (strcmp(line, "exit") == 0) {
			return 0;
		} else {
			say("error: unknown command\n");
		}
	}
	return 0;
}
