/*
 * principal.c: the user a uid's bounds are charged to.
 *
 * Every bound the daemon keeps against one user is kept per uid: clients
 * on the socket (server.c), segment files read a tick (sample.c),
 * containers' directories (dirs.c), per-exe series (metrics_exes.c),
 * alert commands running and waiting (alerts_notify.c). But
 * a user given subordinate uids (/etc/subuid, which newuidmap grants to
 * rootless containers: 65,536 of them each, by default) runs processes
 * as any of those: each was another uid with bounds of its own, and one
 * user with 8 of them held every connection slot of the users other than
 * root. So a uid inside a user's subordinate range is charged to that
 * user (its principal); any other uid is its own. Only an unprivileged
 * user's ranges count: root can map any uid in a namespace of its
 * making, and those stay their own (a runtime's containers are not
 * root, for the bounds).
 *
 * The file (--subuid-file, default /etc/subuid: "USER:START:COUNT" lines,
 * USER a name or a uid) is read at start and again when its modification
 * time or size changes, checked at most once a second (newusers and
 * usermod add ranges while the daemon runs). A file that cannot be read
 * is no range: every uid its own, as before.
 *
 * A tally (jmd_tally) counts a list's items per user in one pass, for the
 * bounds kept on what the daemon remembers of each: dead processes
 * (sample.c) and resolved alerts (alerts.c). Those lists also have a
 * bound in all, shared fairly (jmd_tally_level): when the users' items
 * together pass it, each user keeps as many as the level that fits it
 * (their newest), the same for all, so that the users who have the most
 * lose theirs first. A bound per user alone let eight users' churn
 * together push out the one item of a ninth (root's service that had
 * just died).
 */
#include "jmstatd.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PRINCIPAL_MAX_RANGES 4096
#define PRINCIPAL_CHECK_NS   1000000000ull

struct range {
	uint32_t owner;
	uint64_t start, end;     /* [start, end) */
};

static struct range *ranges;
static size_t nranges;
static struct timespec file_mtime;
static off_t file_size = -1;
static uint64_t checked_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return false;
	*v = x;
	return true;
}

static void load(const char *path)
{
	FILE *f = fopen(path, "re");
	free(ranges);
	ranges = NULL;
	nranges = 0;
	if (!f)
		return;
	char line[512];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f) && nranges < PRINCIPAL_MAX_RANGES) {
		line[strcspn(line, "\r\n")] = '\0';
		char *user = line, *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || line[0] == '#')
			continue;
		*c1 = *c2 = '\0';
		uint64_t owner, start, count;
		if (!parse_u64(c1 + 1, &start) || !parse_u64(c2 + 1, &count) || count == 0 ||
		    start > UINT32_MAX || count > (uint64_t)UINT32_MAX + 1 - start)
			continue;
		if (!parse_u64(user, &owner)) {
			struct passwd *pw = getpwnam(user);
			if (!pw)
				continue;
			owner = pw->pw_uid;
		}
		if (owner == 0 || owner > UINT32_MAX)
			continue;
		if (nranges == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct range *v = realloc(ranges, ncap * sizeof(*v));
			if (!v)
				break;
			ranges = v;
			cap = ncap;
		}
		ranges[nranges++] = (struct range){ (uint32_t)owner, start, start + count };
	}
	fclose(f);
	jmd_debug("%s: %zu subordinate uid ranges", path, nranges);
}

/* Reads the file again if it changed (at most once a second). */
static void refresh(const struct jmd *d)
{
	uint64_t now = now_ns();
	if (checked_ns && now - checked_ns < PRINCIPAL_CHECK_NS)
		return;
	checked_ns = now;
	const char *path = d->opt.subuid_file ? d->opt.subuid_file : JMD_SUBUID_FILE;
	struct stat st;
	if (stat(path, &st) != 0) {
		if (file_size != -1)
			load(path);      /* gone: no ranges */
		file_size = -1;
		return;
	}
	if (st.st_size == file_size && st.st_mtim.tv_sec == file_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == file_mtime.tv_nsec)
		return;
	file_size = st.st_size;
	file_mtime = st.st_mtim;
	load(path);
}

uint32_t jmd_principal(const struct jmd *d, uint32_t uid)
{
	if (uid == 0)
		return 0;
	refresh(d);
	for (size_t i = 0; i < nranges; i++)
		if (uid >= ranges[i].start && uid < ranges[i].end)
			return ranges[i].owner;
	return uid;
}

void jmd_principal_free(void)
{
	free(ranges);
	ranges = NULL;
	nranges = 0;
	file_size = -1;
	checked_ns = 0;
}

uint32_t *jmd_tally(struct jmd_tally *t, uint64_t user)
{
	uint32_t h = (uint32_t)((user ^ (user >> 32)) * 2654435761u) % JMD_TALLY_SLOTS;
	for (uint32_t i = 0; i < JMD_TALLY_SLOTS; i++) {
		struct jmd_tally_slot *c = &t->slot[(h + i) % JMD_TALLY_SLOTS];
		if (c->n == 0)
			c->user = user;
		if (c->user == user)
			return &c->n;
	}
	return NULL;
}

uint32_t jmd_tally_level(const struct jmd_tally *t, uint32_t per_user, uint32_t total)
{
	uint32_t lo = 0, hi = per_user;      /* the sum fits at lo; find the highest */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		uint64_t sum = 0;
		for (uint32_t i = 0; i < JMD_TALLY_SLOTS && sum <= total; i++)
			sum += t->slot[i].n < mid ? t->slot[i].n : mid;
		if (sum <= total)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo ? lo : 1;     /* more users than places: the newest in all */
}

/* Whose bounds a file counts against (jmstatd.h); the live processes'
 * bound too (figures.c). */
/* A container's key: the pid namespace its root's directories were
 * reached through (dirs.c, top_pidns), else its mount namespace. */
static uint64_t dir_key(const struct jmd_dir *dir)
{
	if (dir->container & JMD_CHARGE_CGROUP)
		return JMD_CHARGE_CONTAINER | JMD_CHARGE_CGROUP | (uint32_t)dir->container;
	if (dir->container)
		return JMD_CHARGE_CONTAINER | JMD_CHARGE_PIDNS | (uint32_t)dir->container;
	return JMD_CHARGE_CONTAINER | (uint32_t)dir->mntns;
}

const char *jmd_key_text(char *buf, size_t len, uint64_t key)
{
	if (key & JMD_CHARGE_CONTAINER)
		snprintf(buf, len, "%s:[%u]", key & JMD_CHARGE_CGROUP ? "cgroup" :
		         key & JMD_CHARGE_PIDNS ? "pid" : "mnt", (unsigned)key);
	else
		snprintf(buf, len, "uid %u", (unsigned)key);
	return buf;
}

/* Whether every uid's files and processes in dir count as its
 * container's: a directory of root's namespaces, but not one of the
 * host's own private namespaces (reached through a process of our pid
 * namespace whose cgroup names no container, dirs.c: a service's with a
 * /dev/shm of its own, TemporaryFileSystem=/dev/shm, or a set-uid
 * sandbox's). Those share one key, and a user whose process ran in one
 * (a service run as nobody) filled its bounds with names of segments,
 * and root's services in the others were not tracked (nineteenth pass,
 * tests/containers/private_ns_bound.test.sh): there a user's files and
 * processes count as that user's, as on the host, and root's as the
 * shared key's. */
static bool dir_every_uid(const struct jmd_dir *dir)
{
	return dir->owner == 0 && dir->container != JMD_CHARGE_CGROUP;
}

uint64_t jmd_file_charge(const struct jmd *d, const struct jmd_dir *dir, uint32_t uid)
{
	if (dir && dir->mntns && (uid == 0 || dir_every_uid(dir)))
		return dir_key(dir);
	if (uid != 0)
		return jmd_principal(d, uid);
	return JMD_CHARGE_NONE;
}

/* Root's processes in a container's own directory, and every uid's there
 * when root owns the container's namespaces: the container's (jmstatd.h). */
uint64_t jmd_proc_charge(const struct jmd *d, const struct jmd_proc *p)
{
	if (jmd_proc_scope(p))
		return dir_key(p->entry->dir);
	return jmd_principal(d, p->uid);
}

uint64_t jmd_proc_scope(const struct jmd_proc *p)
{
	const struct jmd_dir *dir = p->entry ? p->entry->dir : NULL;
	return dir && dir->mntns && (p->uid == 0 || dir_every_uid(dir)) ? dir->mntns : 0;
}
