/*
 * http_head.c: the request head of the Prometheus endpoint (http.c),
 * checked: where it ends, its request line and header lines, and the
 * bearer token it carries compared with the one expected. Pure functions
 * on a buffer, no I/O: http.c reads the head and answers it, and the fuzz
 * target (tests/fuzz/http_fuzz.c) drives both through a real connection.
 *
 * What a head must be: lines ending in LF (an optional CR before it), no
 * NUL or other control byte but tab, CR and LF; a request line METHOD SP
 * TARGET SP HTTP/1.x with a token for the method and a path for the
 * target; header lines NAME ":" VALUE, no folding. Anything else is a bad
 * request (400) with its reason.
 */
#include "jmstatd.h"

#include <string.h>
#include <strings.h>

static bool tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Checks a complete head (lines ending in LF, an optional CR before it),
 * in place (len + 1 bytes: a NUL is put at len, the lines' ends cut): NULL
 * and *req, which points into head; or why it is a bad request, one line. */
const char *jmd_http_parse(char *head, size_t len, struct jmd_http_head *req)
{
	/* No NUL or other control byte but tab, CR and LF anywhere. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)head[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f)
			return "bad request: a control byte in the request\n";
	}
	head[len] = '\0';
	char *save = NULL;
	char *line = strtok_r(head, "\n", &save);
	if (!line)
		return "bad request: empty\n";
	size_t ll = strlen(line);
	if (ll && line[ll - 1] == '\r')
		line[--ll] = '\0';
	/* METHOD SP TARGET SP HTTP/1.x */
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line)
		return "bad request: expected 'METHOD /path HTTP/1.1'\n";
	*sp1 = *sp2 = '\0';
	const char *method = line, *target = sp1 + 1, *version = sp2 + 1;
	for (const char *s = method; *s; s++) {
		if (!tchar(*s))
			return "bad request: bad method\n";
	}
	if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
		return "bad request: HTTP/1.0 or HTTP/1.1 only\n";
	if (target[0] != '/')
		return "bad request: the target must be a path\n";
	/* Header lines: NAME ":" VALUE; no folding. */
	const char *auth = NULL;
	for (char *h = strtok_r(NULL, "\n", &save); h; h = strtok_r(NULL, "\n", &save)) {
		size_t hl = strlen(h);
		if (hl && h[hl - 1] == '\r')
			h[--hl] = '\0';
		if (hl == 0)
			break;
		char *colon = strchr(h, ':');
		bool ok = colon && colon != h;
		for (char *s = h; ok && s < colon; s++)
			ok = tchar(*s);
		if (!ok)
			return "bad request: a malformed header line\n";
		if ((size_t)(colon - h) == 13 && strncasecmp(h, "Authorization", 13) == 0)
			auth = colon + 1;
	}
	req->method = method;
	req->target = target;
	req->auth = auth;
	return NULL;
}

/* Is auth (a header value, NULL if none) "Bearer TOKEN" with the token
 * expected? Compared in time that does not depend on where they differ. */
bool jmd_http_token_ok(const char *want, const char *auth)
{
	if (!auth)
		return false;
	while (*auth == ' ' || *auth == '\t')
		auth++;
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	size_t n = strlen(auth), w = strlen(want);
	while (n > 0 && (auth[n - 1] == ' ' || auth[n - 1] == '\t'))
		n--;
	unsigned char diff = n != w;
	for (size_t i = 0; i < w; i++)
		diff |= (unsigned char)(want[i] ^ (i < n ? auth[i] : 0));
	return diff == 0;
}

/* The end of the head: after "\n\r\n" or "\n\n"; 0 if not there yet. */
size_t jmd_http_head_end(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '\n')
			continue;
		if (s[i + 1] == '\n')
			return i + 2;
		if (s[i + 1] == '\r' && i + 2 < len && s[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}
