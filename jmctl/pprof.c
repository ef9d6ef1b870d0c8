/*
 * pprof.c: `jmctl sites PID --pprof FILE|-`, the sampled heap profile of
 * one process as a gzip-compressed profile.proto (common/pprof.h), for
 * `go tool pprof`, Pyroscope or Parca (docs/pprof.md).
 *
 * From the daemon's raw {"cmd":"sites"} reply: every site, and the
 * process's module table (each executable segment's file, build-id and
 * place). Each module becomes a mapping at its runtime place (the
 * program's first, which pprof takes for the main binary); each frame a
 * location at its call address (return address - 1) in its mapping,
 * symbolized here as the calling user, or for root as the process's owner
 * in a child (sites.c: jm_run_as) (symbolize.c: function, file:line
 * where debug information exists). The addresses and mappings are kept,
 * so that pprof can symbolize the file again elsewhere, from the binaries
 * or by build-id.
 */
#include "jmctl.h"
#include "pprof.h"
#include "symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct module {
	uint64_t start, limit, offset;   /* start and limit first: jm_pprof_row_at() */
	const char *path, *build_id;
	uint64_t mapping;        /* its id in the profile */
};
_Static_assert(offsetof(struct module, start) == 0 &&
               offsetof(struct module, limit) == sizeof(uint64_t), "start, then limit");

static uint64_t hex_field(const json_t *o, const char *key)
{
	uint64_t v = 0;

	jm_frame_parse(jm_str(o, key), &v);
	return v;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Builds the profile of raw into p. */
/* Opens FILE for the profile: created if absent (never through a
 * symlink), else truncated only if it is the caller's own regular file
 * with no other link. Root writes profiles where it is told, often into
 * /tmp: a symlink or hard link planted there by another user would
 * otherwise turn the write into one to any file of root's (/etc/shadow),
 * where the kernel's protected_symlinks and protected_hardlinks are off.
 * A symlink of the caller's or root's is followed. A file that is not
 * regular (a FIFO, a device, a terminal) is written only when it is the
 * caller's or root's: another user's FIFO planted at FILE, its reader
 * waiting, was given the profile of whichever process root asked about
 * (tests/cli/pprof_path.test.sh). It is opened without waiting for a
 * reader (O_NONBLOCK) to see whose it is first; the caller's or root's
 * FIFO without a reader yet is then opened again, waiting, as before. A
 * negative errno, said on stderr when it is a refusal. */
static int refuse_not_regular(const char *file, const struct stat *st)
{
	const char *what = S_ISFIFO(st->st_mode) ? "fifo" : S_ISCHR(st->st_mode) ? "device" :
	                   S_ISSOCK(st->st_mode) ? "socket" : "special file";

	if (S_ISREG(st->st_mode) || st->st_uid == geteuid() || st->st_uid == 0)
		return 0;
	fprintf(stderr, "jmctl: %s is uid %u's %s: refusing to write the profile to it (remove "
	        "it, or choose another path)\n", file, (unsigned)st->st_uid, what);
	return -EPERM;
}

static int open_nonblock(const char *file, int flags)
{
	struct stat st;
	int fd = open(file, flags | O_NONBLOCK);

	/* ENXIO: a FIFO without a reader. Whose it is, by the name
	 * (another user cannot replace the caller's or root's file in a
	 * sticky directory), then waited on as before. */
	if (fd < 0 && errno == ENXIO) {
		if (stat(file, &st) != 0)
			return -1;
		if (refuse_not_regular(file, &st) != 0) {
			errno = EPERM;
			return -2;
		}
		fd = open(file, flags);
	}
	return fd;
}

static int open_output(const char *file)
{
	struct stat st;
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd >= 0 || errno != EEXIST)
		return fd >= 0 ? fd : -errno;
	fd = open_nonblock(file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ELOOP) {
		if (lstat(file, &st) == 0 && st.st_uid != geteuid() && st.st_uid != 0) {
			fprintf(stderr, "jmctl: %s is a symlink of uid %u: refusing to write the "
			        "profile through it (remove it, or choose another path)\n", file,
			        (unsigned)st.st_uid);
			return -EPERM;
		}
		fd = open_nonblock(file, O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	int fl = fcntl(fd, F_GETFL);
	if (refuse_not_regular(file, &st) != 0 ||
	    (fl >= 0 && (fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)) {
		close(fd);
		return -EPERM;
	}
	if (S_ISREG(st.st_mode) && (st.st_uid != geteuid() || st.st_nlink != 1)) {
		if (st.st_uid != geteuid())
			fprintf(stderr, "jmctl: %s is uid %u's file: refusing to overwrite it with the "
			        "profile (remove it, or choose another path)\n", file, (unsigned)st.st_uid);
		else
			fprintf(stderr, "jmctl: %s has %lu links: refusing to overwrite it with the "
			        "profile (remove it, or choose another path)\n", file,
			        (unsigned long)st.st_nlink);
		close(fd);
		return -EPERM;
	}
	if (S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int build(struct jm_pprof *p, const json_t *raw, struct jm_sym *sym)
{
	json_t *jm = json_object_get(raw, "modules"), *e, *s, *f;
	size_t nmod = json_is_array(jm) ? json_array_size(jm) : 0, i, j;
	struct module *mods = calloc(nmod + 1, sizeof *mods);
	int err = -ENOMEM;

	if (mods == NULL)
		return -ENOMEM;
	json_array_foreach(jm, i, e) {
		mods[i] = (struct module){ hex_field(e, "start"), hex_field(e, "limit"),
		                           hex_field(e, "offset"), jm_str(e, "path"),
		                           jm_str(e, "build_id"), 0 };
		/* The program first: pprof takes the first mapping for it. */
		if (json_is_true(json_object_get(e, "main")) &&
		    (mods[i].mapping = jm_pprof_mapping(p, mods[i].start, mods[i].limit, mods[i].offset,
		                                        mods[i].path, mods[i].build_id)) == 0)
			goto out;
	}
	for (i = 0; i < nmod; i++)
		if (mods[i].mapping == 0 &&
		    (mods[i].mapping = jm_pprof_mapping(p, mods[i].start, mods[i].limit, mods[i].offset,
		                                        mods[i].path, mods[i].build_id)) == 0)
			goto out;
	jm_pprof_sort_rows(mods, nmod, sizeof *mods);

	json_array_foreach(json_object_get(raw, "sites"), i, s) {
		uint64_t locs[JMSTAT_SITE_FRAMES];
		size_t n = 0;

		json_array_foreach(json_object_get(s, "frames"), j, f) {
			uint64_t addr;
			struct jm_frame fr;

			if (n == JMSTAT_SITE_FRAMES || jm_frame_parse(json_string_value(f), &addr) != 0 ||
			    addr == 0)
				continue;
			const struct module *m = jm_pprof_row_at(mods, nmod, sizeof *mods, addr - 1);
			struct jm_pprof_line line = { 0 };
			bool named = sym && jm_sym_lookup(sym, addr, &fr) == 0;
			if (named) {
				line.function = fr.function;
				line.file = fr.file;
				line.line = fr.line;
			}
			locs[n] = jm_pprof_location(p, m ? m->mapping : 0, addr - 1, &line, 1);
			if (named)
				jm_frame_free(&fr);
			if (locs[n++] == 0)
				goto out;
		}
		if (n == 0)
			continue;
		err = jm_pprof_sample(p, locs, n, (uint64_t)jm_int(s, "alloc_objects"),
		                      (uint64_t)jm_int(s, "alloc_bytes"),
		                      (uint64_t)jm_int(s, "live_objects"),
		                      (uint64_t)jm_int(s, "live_bytes"));
		if (err)
			goto out;
	}
	err = 0;
out:
	free(mods);
	return err;
}

/* The profile of pid as gzip bytes; symbolized (its files opened by the
 * paths of /proc/PID/maps) when symbolize. */
struct profile_job {
	const json_t *raw;
	long pid;
	int procfd;              /* /proc/PID, checked: jm_proc_dir */
	bool symbolize;
	int sym_err;             /* set: why the maps did not read, not said */
	struct jm_maps_text maps; /* its maps, read by jm_run_as's child as root (sites.c) */
	bool maps_read;
};

static void profile_maps(void *arg)
{
	struct profile_job *job = arg;

	jm_maps_read((pid_t)job->pid, job->procfd, &job->maps);
	job->maps_read = true;
}

static void say_unsymbolized(long pid, int err)
{
	fprintf(stderr, "jmctl: cannot read /proc/%ld/maps (%s): the profile is not "
	        "symbolized (pprof can symbolize it from the binaries)\n", pid, strerror(-err));
}

static int profile_build(void *arg, char **out, size_t *out_len)
{
	struct profile_job *job = arg;
	struct jm_pprof *p = jm_pprof_new((uint64_t)jm_int(job->raw, "sample_bytes"), false);
	struct jm_sym *sym = NULL;
	unsigned char *gz = NULL;
	size_t len = 0;
	struct timespec ts;
	int err;

	if (p == NULL)
		return -ENOMEM;
	err = job->symbolize ? jm_sym_open_from((pid_t)job->pid, job->procfd,
	                                                  job->maps_read ? &job->maps : NULL, &sym) : 0;
	if (err && job->sym_err == 1)
		job->sym_err = err;     /* in jm_run_as's child: its stderr is /dev/null */
	else if (err)
		say_unsymbolized(job->pid, err);
	err = build(p, job->raw, sym);
	jm_sym_close(sym);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (err == 0)
		err = jm_pprof_encode(p, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, &gz, &len);
	jm_pprof_free(p);
	*out = (char *)gz;
	*out_len = len;
	return err;
}

/* profile_build in jm_run_as's child: the profile after a byte, the
 * errno (0-255) of maps that did not read, which the parent says. */
static int profile_build_as(void *arg, char **out, size_t *out_len)
{
	struct profile_job *job = arg;
	char *gz = NULL, *buf;
	size_t len = 0;
	int err;

	job->sym_err = 1;
	err = profile_build(job, &gz, &len);
	if (err)
		return err;
	buf = malloc(len + 1);
	if (buf == NULL) {
		free(gz);
		return -ENOMEM;
	}
	buf[0] = (char)(unsigned char)(job->sym_err == 1 || -job->sym_err > 255 ? 0 : -job->sym_err);
	memcpy(buf + 1, gz, len);
	free(gz);
	*out = buf;
	*out_len = len + 1;
	return 0;
}

int jm_sites_pprof(const json_t *raw, long pid, const char *file)
{
	/* The process held from the owner's check to its maps (sites.c). */
	struct profile_job job = { raw, pid, jm_proc_dir(pid), true, 0, { NULL, 0, 0 }, false };
	unsigned char *gz = NULL;
	size_t len = 0;
	uid_t uid;
	gid_t gid;
	bool not_root;
	int err, fd;

	/* Root symbolizes another user's process as that user, as sites do
	 * (sites.c): that user's files are theirs to choose; a process whose
	 * owner /proc does not tell (gone), not at all. */
	if (geteuid() == 0 && jm_process_owner(job.procfd, &uid, &gid, &not_root) != 0) {
		job.symbolize = false;
	} else if (geteuid() == 0 && not_root) {
		/* Its maps read as root, its files opened as the owner (sites.c). */
		err = jm_run_as_root_first(uid, gid, job.procfd, profile_maps, profile_build_as, &job,
		                           (char **)&gz, &len);
		if (err == 0 && len == 0) {
			free(gz);
			gz = NULL;
			err = -EPROTO;
		} else if (err == 0) {
			if (gz[0] != 0)
				say_unsymbolized(pid, -(int)gz[0]);
			memmove(gz, gz + 1, --len);
		}
		if (err != 0) {
			fprintf(stderr, "jmctl: symbolizing as uid %u, the owner of process %ld, %s: the "
			        "profile is not symbolized (pprof can symbolize it from the binaries)\n",
			        (unsigned)uid, pid, jm_run_as_why(err));
			job.symbolize = false;
		}
	}
	if (gz == NULL && (err = profile_build(&job, (char **)&gz, &len)) != 0) {
		fprintf(stderr, "jmctl: cannot build the profile: %s\n", strerror(-err));
		free(gz);
		if (job.procfd >= 0)
			close(job.procfd);
		return err;
	}
	if (job.procfd >= 0)
		close(job.procfd);
	if (strcmp(file, "-") == 0) {
		err = write_all(STDOUT_FILENO, gz, len);
	} else {
		fd = open_output(file);
		if (fd < 0) {
			err = fd;
		} else {
			err = write_all(fd, gz, len);
			if (close(fd) != 0 && err == 0)
				err = -errno;
		}
	}
	free(gz);
	if (err)
		fprintf(stderr, "jmctl: cannot write %s: %s\n", strcmp(file, "-") ? file : "the profile",
		        strerror(-err));
	return err;
}
