/*
 * labels.c: what a process's cgroup says about where it runs.
 *
 * Read once, when a writer becomes a live process (figures.c), from
 * /proc/HOSTPID/cgroup: the cgroup v2 path ("0::PATH") when it is not the
 * root, else the first v1 hierarchy's that is not (hybrid hosts keep the
 * container's path there). From that path, as cAdvisor and the Parca
 * agent derive them:
 *   - the container id: the last run of exactly 64 hex digits in the path
 *     (docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
 *     /docker/ID, /kubepods/.../ID, libpod-ID.scope);
 *   - the Kubernetes pod uid: "pod" then a uid, its groups joined by '-'
 *     (cgroupfs driver) or '_' (systemd driver:
 *     kubepods-burstable-pod1234_5678....slice), given with '-'.
 * A process outside any container has neither. The strings are the
 * kernel's, but a container's processes may name their own cgroups
 * (cgroup namespaces, delegation): only printable ASCII is kept.
 */
#include "jmstatd.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool hex_run(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* The last run of exactly 64 lower-case hex digits in path. */
static void find_container(const char *path, char *out)
{
	out[0] = '\0';
	size_t len = strlen(path);
	for (size_t i = 0; i + 64 <= len; i++) {
		bool before = i == 0 || !isxdigit((unsigned char)path[i - 1]);
		bool after = i + 64 == len || !isxdigit((unsigned char)path[i + 64]);
		if (before && after && hex_run(path + i, 64)) {
			memcpy(out, path + i, 64);
			out[64] = '\0';
			i += 63;
		}
	}
}

/* "pod" and a uid 8-4-4-4-12, '-' or '_' between groups. */
static void find_pod(const char *path, char *out)
{
	static const int groups[5] = { 8, 4, 4, 4, 12 };
	out[0] = '\0';
	for (const char *p = strstr(path, "pod"); p; p = strstr(p + 1, "pod")) {
		const char *q = p + 3;
		char uid[37];
		size_t k = 0;
		bool ok = true;
		for (int g = 0; g < 5 && ok; g++) {
			ok = hex_run(q, (size_t)groups[g]);
			if (!ok)
				break;
			memcpy(uid + k, q, (size_t)groups[g]);
			k += (size_t)groups[g];
			q += groups[g];
			if (g < 4) {
				ok = *q == '-' || *q == '_';
				uid[k++] = '-';
				q++;
			}
		}
		if (ok && !isxdigit((unsigned char)*q)) {
			uid[k] = '\0';
			memcpy(out, uid, k + 1);
		}
	}
}

void jmd_labels_read(pid_t host, struct jmd_labels *l)
{
	memset(l, 0, sizeof(*l));
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)host);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	const char *v2 = NULL, *v1 = NULL;
	size_t v2len = 0, v1len = 0;
	for (char *line = buf; *line;) {
		char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *c1 = memchr(line, ':', len);
		char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		if (c2) {
			const char *cg = c2 + 1;
			size_t cglen = len - (size_t)(cg - line);
			bool root = cglen == 1 && cg[0] == '/';
			if (strncmp(line, "0::", 3) == 0 && !root) {
				v2 = cg;
				v2len = cglen;
			} else if (!v1 && !root && cglen > 0) {
				v1 = cg;
				v1len = cglen;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	const char *cg = v2 ? v2 : v1;
	size_t cglen = v2 ? v2len : v1len;
	if (!cg)
		cg = "/", cglen = 1;
	if (cglen >= sizeof(l->cgroup))
		cglen = sizeof(l->cgroup) - 1;
	for (size_t i = 0; i < cglen; i++) {
		unsigned char ch = (unsigned char)cg[i];
		l->cgroup[i] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
	}
	l->cgroup[cglen] = '\0';
	find_container(l->cgroup, l->container);
	find_pod(l->cgroup, l->pod);
}
