/*
 * lineio.h: the line protocol of the helpers that a test drives through a
 * pipe (daemon_holder, cache_holder): lines read and written with read(2)
 * and write(2), no stdio and no allocation, so that the allocator's
 * counters move only by what a command asks for.
 *
 *   say(s)              writes s whole (exits 3 if stdout is gone)
 *   say_num(prefix, v)  writes prefix, v in decimal, a newline
 *   read_line(buf, cap) one line of stdin without its newline; 0 at EOF
 *   number(&s)          the decimal number at *s, after spaces; moves *s
 *   command(&size, &n)  the next line of stdin as a command: CMD_ALLOC
 *                       ("alloc SIZE N"), CMD_FREE, CMD_PID, CMD_EXIT,
 *                       CMD_OTHER, CMD_EOF
 */
#ifndef JM_TEST_LINEIO_H
#define JM_TEST_LINEIO_H

#include <string.h>
#include <unistd.h>

static inline void say(const char *s)
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

static inline void say_num(const char *prefix, unsigned long v)
{
	char buf[64], digits[24];
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

static inline int read_line(char *buf, size_t cap)
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

static inline unsigned long number(const char **s)
{
	while (**s == ' ')
		(*s)++;
	unsigned long v = 0;
	while (**s >= '0' && **s <= '9')
		v = v * 10 + (unsigned long)(*(*s)++ - '0');
	return v;
}

enum { CMD_EOF, CMD_ALLOC, CMD_FREE, CMD_PID, CMD_EXIT, CMD_OTHER };

static inline int command(unsigned long *size, unsigned long *n)
{
	static char buf[256];
	if (!read_line(buf, sizeof(buf)))
		return CMD_EOF;
	if (strncmp(buf, "alloc ", 6) == 0) {
		const char *s = buf + 6;
		*size = number(&s);
		*n = number(&s);
		return CMD_ALLOC;
	}
	if (strcmp(buf, "free") == 0)
		return CMD_FREE;
	if (strcmp(buf, "pid") == 0)
		return CMD_PID;
	if (strcmp(buf, "exit") == 0)
		return CMD_EXIT;
	return CMD_OTHER;
}

#endif
