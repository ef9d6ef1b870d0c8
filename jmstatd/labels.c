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
 *
 * And a user may name a cgroup of theirs after another's container: a
 * systemd host delegates user@UID.service's subtree to its user (and a
 * unit's to its User= with Delegate=), who may mkdir
 * docker-<root's container id>.scope there and move a process into it.
 * Its series were then root's container's in /metrics, `ps --container`
 * listed it, and its alerts gave root's command that container
 * (JMALLOC_ALERT_CONTAINER: a command that restarts it). So an id or a
 * pod uid is taken only from a cgroup directory owned by root (made by
 * the runtime, or systemd's system instance): looked at in the
 * hierarchy's mount in our mount namespace. Where we cannot see it (not
 * mounted here, or mounted at a subtree: a daemon in a cgroup namespace
 * of its own, whose paths of other processes begin with "/.."), as
 * before: docs/containers.md says so.
 */
#include "jmstatd.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool hex_run(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* Where the id at path[at] is looked at (made_by_root, below). */
struct where {
	const char *ctl;         /* the v1 controllers; NULL: cgroup2 */
	const char *raw;         /* the path as the kernel wrote it */
	size_t rawlen;
};
static bool made_by_root(const struct where *w, long at);

/* The last run of exactly 64 lower-case hex digits in path whose cgroup
 * directory root made. */
static void find_container(const char *path, char *out, const struct where *w)
{
	out[0] = '\0';
	size_t len = strlen(path);
	for (size_t i = 0; i + 64 <= len; i++) {
		bool before = i == 0 || !isxdigit((unsigned char)path[i - 1]);
		bool after = i + 64 == len || !isxdigit((unsigned char)path[i + 64]);
		if (before && after && hex_run(path + i, 64)) {
			if (made_by_root(w, (long)i)) {
				memcpy(out, path + i, 64);
				out[64] = '\0';
			}
			i += 63;
		}
	}
}

/* "pod" and a uid 8-4-4-4-12, '-' or '_' between groups: the last whose
 * cgroup directory root made. */
static void find_pod(const char *path, char *out, const struct where *w)
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
		if (ok && !isxdigit((unsigned char)*q) && made_by_root(w, (long)(p - path))) {
			uid[k] = '\0';
			memcpy(out, uid, k + 1);
		}
	}
}

/* Where the hierarchy is mounted here at its root: the cgroup2 one
 * (controllers NULL) or the v1 one with every controller of the
 * comma-separated list (as /proc/PID/cgroup names them: "memory",
 * "cpu,cpuacct", "name=systemd"). Read from /proc/self/mountinfo. */
static bool hier_mount(const char *controllers, char *out, size_t outsz)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *field[5], *save = NULL, *tok = strtok_r(line, " \n", &save);
		int n = 0;
		for (; tok && n < 5; tok = strtok_r(NULL, " \n", &save))
			field[n++] = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
		char *source = fstype ? strtok_r(NULL, " \n", &save) : NULL;
		char *super = source ? strtok_r(NULL, " \n", &save) : NULL;
		if (n < 5 || !super || strcmp(field[3], "/") != 0)
			continue;
		if (controllers == NULL) {
			found = strcmp(fstype, "cgroup2") == 0;
		} else if (strcmp(fstype, "cgroup") == 0) {
			found = true;
			char want[256];
			snprintf(want, sizeof(want), "%s", controllers);
			char *s2 = NULL;
			for (char *c = strtok_r(want, ",", &s2); c && found; c = strtok_r(NULL, ",", &s2)) {
				bool has = false;
				char opts[1024], *s3 = NULL;
				snprintf(opts, sizeof(opts), "%s", super);
				for (char *o = strtok_r(opts, ",", &s3); o && !has; o = strtok_r(NULL, ",", &s3))
					has = strcmp(o, c) == 0;
				found = has;
			}
		}
		if (found) {
			/* The mount point, its octal escapes (\040) undone. */
			size_t k = 0;
			for (const char *c = field[4]; *c && k + 1 < outsz; c++) {
				if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' &&
				    c[3] >= '0' && c[3] <= '7') {
					out[k++] = (char)((c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0'));
					c += 3;
				} else {
					out[k++] = *c;
				}
			}
			out[k] = '\0';
		}
	}
	fclose(f);
	return found;
}

/* The mount points found, kept: a line of mountinfo per mount of the
 * host read once per hierarchy, not at each new process. One not found
 * is looked for again 10 s later. */
#define NMOUNTS 4
static struct {
	char key[64];            /* "" for cgroup2, else the v1 controllers */
	char mnt[256];
	bool found;
	time_t looked;
	bool used;
} mounts[NMOUNTS];

static const char *mount_of(const char *controllers)
{
	const char *key = controllers ? controllers : "";
	time_t now = time(NULL);
	size_t i, free_at = NMOUNTS;
	for (i = 0; i < NMOUNTS; i++) {
		if (mounts[i].used && strcmp(mounts[i].key, key) == 0)
			break;
		if (!mounts[i].used && free_at == NMOUNTS)
			free_at = i;
	}
	if (i == NMOUNTS) {
		i = free_at == NMOUNTS ? 0 : free_at;
		snprintf(mounts[i].key, sizeof(mounts[i].key), "%s", key);
		mounts[i].used = true;
		mounts[i].looked = 0;
		mounts[i].found = false;
	}
	if (!mounts[i].found && (mounts[i].looked == 0 || now - mounts[i].looked >= 10)) {
		mounts[i].looked = now ? now : 1;
		mounts[i].found = hier_mount(controllers, mounts[i].mnt, sizeof(mounts[i].mnt));
	}
	return mounts[i].found ? mounts[i].mnt : NULL;
}

/* Whether the cgroup directory that holds w->raw[at] may name a
 * container: owned by root, or not to be looked at from here (above). */
static bool made_by_root(const struct where *w, long at)
{
	const char *controllers = w->ctl, *path = w->raw;
	size_t cglen = w->rawlen;
	if ((size_t)at >= cglen)
		return false;
	if (path[0] != '/' || (cglen >= 3 && strncmp(path, "/..", 3) == 0) || memmem(path, cglen, "/../", 4))
		return true;      /* outside our cgroup namespace: cannot tell */
	const char *mnt = mount_of(controllers);
	if (!mnt)
		return true;      /* not mounted here: cannot tell */
	const char *end = memchr(path + at, '/', cglen - (size_t)at);
	size_t upto = end ? (size_t)(end - path) : cglen;
	char dir[4096];
	int n = snprintf(dir, sizeof(dir), "%s%.*s", mnt, (int)upto, path);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return false;
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0;
}

bool jmd_cgroup_root_made(const char *controllers, const char *path, size_t len, size_t at)
{
	const struct where w = { controllers, path, len };
	return made_by_root(&w, (long)at);
}

int jmd_labels_read(pid_t host, struct jmd_labels *l)
{
	memset(l, 0, sizeof(*l));
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)host);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	/* An empty file (read gives 0 and sets no errno) is its own error:
	 * errno was whatever an earlier call left, an EMFILE once, which
	 * refused a client as out of file descriptors. */
	int err_no = n < 0 ? errno : ENODATA;
	close(fd);
	if (n <= 0) {
		errno = err_no;
		return -err_no;
	}
	buf[n] = '\0';
	const char *v2 = NULL, *v1 = NULL;
	size_t v2len = 0, v1len = 0;
	char v1ctl[64] = "";
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
				size_t clen = (size_t)(c2 - (c1 + 1));
				if (clen < sizeof(v1ctl)) {
					memcpy(v1ctl, c1 + 1, clen);
					v1ctl[clen] = '\0';
				}
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	const char *cg = v2 ? v2 : v1;
	size_t cglen = v2 ? v2len : v1len;
	const char *ctl = v2 ? NULL : v1ctl;
	if (!cg)
		cg = "/", cglen = 1;
	/* The path as the kernel wrote it, for looking at its directories. */
	char raw[sizeof(l->cgroup)];
	size_t rawlen = cglen < sizeof(raw) ? cglen : sizeof(raw) - 1;
	memcpy(raw, cg, rawlen);
	raw[rawlen] = '\0';
	if (cglen >= sizeof(l->cgroup))
		cglen = sizeof(l->cgroup) - 1;
	for (size_t i = 0; i < cglen; i++) {
		unsigned char ch = (unsigned char)cg[i];
		l->cgroup[i] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
	}
	l->cgroup[cglen] = '\0';
	const struct where w = { ctl, raw, rawlen };
	find_container(l->cgroup, l->container, &w);
	find_pod(l->cgroup, l->pod, &w);
	return 0;
}
