/*
 * segread_proc.c: is the writer of a segment alive, and the same process
 * (jm_seg_check_process and the others of segread.h)? Its pid alive and
 * not a zombie, the start time in /proc/PID/stat and the uids in
 * /proc/PID/status, both read through one directory fd of /proc/PID so
 * that they describe one process; /proc that cannot tell gives
 * JM_SEG_EIO, never a verdict.
 *
 * Whose process a segment may stand for. A user's (uid U's) file only
 * for a process whose real, effective and saved uids are all U, and
 * whose effective and saved gids are its real one: a set-uid or set-gid
 * program run by U (real uid U, effective another) publishes nothing
 * (liballoc/stats.c), so a file of U's that names it is U's forgery, and
 * was shown as U's process with U's figures. Root's file
 * for any process of its pid and start: only root makes a root-owned
 * file, and a process that published as root and then dropped its
 * privileges (a server's worker forked as root, then setuid to its
 * service's user) is still that process; it is shown as root's, to root
 * alone. Before, such a process vanished at its next check (60 s at
 * most), or was never shown when it dropped them before the daemon first
 * read it.
 *
 * A writer in a time namespace (unshare --time, CRIU's restored
 * containers) reads its start time shifted by its namespace's boot-time
 * offset (the kernel adds it to /proc/PID/stat for readers in that
 * namespace): that start is its, when it matches ours shifted by the
 * offset in /proc/PID/timens_offsets, within the tick the shift may round
 * either way. Without this its live segment was taken for a reused pid's
 * and removed.
 */
#include "segread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads the small file name under the directory dfd into buf, NUL-terminated;
 * returns its length or -1 with errno set. */
static ssize_t read_small(int dfd, const char *name, char *buf, size_t size)
{
	size_t len = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* After /proc/PID failed us: gone if the kernel says so, else unknown. */
static int gone_or_eio(pid_t pid)
{
	int saved = errno;

	if ((saved == ENOENT || saved == ESRCH) && kill(pid, 0) < 0 && errno == ESRCH)
		return JM_SEG_EDEAD;
	errno = saved;
	return JM_SEG_EIO;
}

/* Parses /proc/PID/stat: the state (field 3) and the start time (field 22),
 * counted after the last ')' since the command name may hold anything. */
bool jm_seg_parse_stat(const char *stat, char *state, uint64_t *start_time)
{
	const char *p = strrchr(stat, ')');

	if (p == NULL)
		return false;
	p++;
	for (int field = 3; field <= 22; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			return false;
		if (field == 3)
			*state = *p;
		if (field == 22) {
			errno = 0;
			*start_time = strtoull(p, &end, 10);
			return end != p && errno == 0;
		}
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return false;
}

/* The boot-time offset of the time namespace of the process whose /proc
 * directory is dfd, in clock ticks (0: none, or unknown). */
static int64_t boottime_offset_ticks(int dfd)
{
	char buf[256];
	const char *line;
	long long sec, nsec;
	long tck = sysconf(_SC_CLK_TCK);

	if (tck <= 0 || read_small(dfd, "timens_offsets", buf, sizeof buf) < 0)
		return 0;
	line = strstr(buf, "boottime");
	if (line == NULL || sscanf(line + 8, "%lld %lld", &sec, &nsec) != 2)
		return 0;
	return (int64_t)sec * tck + (int64_t)nsec * tck / 1000000000;
}

/* Is claimed the start time of the process that /proc shows started at
 * seen (dfd its /proc directory), as that process sees it? */
static bool same_start(int dfd, uint64_t seen, uint64_t claimed)
{
	int64_t offset, diff;

	if (seen == claimed)
		return true;
	offset = boottime_offset_ticks(dfd);
	if (offset == 0)
		return false;
	diff = (int64_t)(claimed - seen) - offset;
	return diff >= -1 && diff <= 1;
}

int jm_seg_check_process(const struct jm_seg *seg)
{
	return jm_seg_check_process_as(seg, (pid_t)seg->hdr.pid);
}

int jm_seg_check_process_as(const struct jm_seg *seg, pid_t pid)
{
	return jm_seg_check_pid(pid, &seg->hdr.start_time, seg->hdr.uid);
}

int jm_seg_check_pid(pid_t pid, const uint64_t *start, uint32_t want_uid)
{
	char path[32], buf[8192];
	const char *uid_line, *gid_line;
	uint64_t start_time = 0;
	unsigned long uid, euid, suid, gid, egid, sgid;
	char state = 0;
	int dfd, err;

	if (pid <= 0)
		return JM_SEG_EDEAD;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return JM_SEG_EDEAD;
	/* Both files are read through one directory fd: should the pid die and
	 * be reused meanwhile, the reads fail rather than describe another
	 * process. */
	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return gone_or_eio(pid);

	if (read_small(dfd, "stat", buf, sizeof buf) < 0) {
		err = gone_or_eio(pid);
		goto out;
	}
	if (!jm_seg_parse_stat(buf, &state, &start_time)) {
		errno = EINVAL;
		err = JM_SEG_EIO;
		goto out;
	}
	if (state == 'Z' || state == 'X') {     /* exited, not yet reaped */
		err = JM_SEG_EDEAD;
		goto out;
	}
	if (start != NULL && !same_start(dfd, start_time, *start)) {
		err = JM_SEG_EREUSED;
		goto out;
	}

	if (read_small(dfd, "status", buf, sizeof buf) < 0) {
		err = gone_or_eio(pid);
		goto out;
	}
	uid_line = strstr(buf, "\nUid:");
	gid_line = strstr(buf, "\nGid:");
	if (uid_line == NULL || sscanf(uid_line + 5, "%lu %lu %lu", &uid, &euid, &suid) != 3 ||
	    gid_line == NULL || sscanf(gid_line + 5, "%lu %lu %lu", &gid, &egid, &sgid) != 3) {
		errno = EINVAL;
		err = JM_SEG_EIO;
		goto out;
	}
	if (want_uid == 0)
		err = 0;        /* root's: published as root, maybe its uids dropped since */
	else
		err = uid == want_uid && euid == want_uid && suid == want_uid && egid == gid &&
		      sgid == gid ? 0 : JM_SEG_EOWNER;
out:
	close(dfd);
	return err;
}
