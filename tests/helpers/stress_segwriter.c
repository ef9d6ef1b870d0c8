/*
 * stress_segwriter: writes hostile stats segments for the daemon's stress
 * tests (tests/stress/hostile.test.sh), built on the synthetic segments of
 * tests/fuzz/segsynth.h, without the allocator.
 *
 *   stress_segwriter write PATH PID UID [NAME=VALUE ...] [nbins=N narenas=N ...]
 *       a valid LIVE segment for the live process PID (its start time read
 *       from /proc), with UID in the header, written to PATH (through a
 *       temporary name and a rename). Its shape: bins=N arenas=N threads=N
 *       sites=N modules=N (default 41, the allocator's, 2, 4, 0, 0; sites=N
 *       fills N site rows of a table of that many); exe=NAME: its name
 *       (default synth); salt=S: every site's frames moved into the program
 *       module, apart from any other salt's (stacks no other process has);
 *       modpath=BYTES: every module's path (any bytes but NUL); owner=UID:GID: the file's owner (set before
 *       the file takes its name); odd: every arena and bin row's seq odd;
 *       frag: a heap of 1 MiB active and nothing allocated (a
 *       fragmentation rule fires). Header fields overridden after it is built
 *       (counts and offsets pointing outside the file):
 *       total_size= class_off= arena_off= bin_off= thread_off= nthreads_max=
 *       nthreads_hw= thread_stride= header_size= state= site_off= nsites_max=
 *       nsites_hw= nbins= narenas= version= gen= (decimal, or 0x hex; bins=35
 *       version=2 is a segment of layout 2, bins=40 version=4 one of layout
 *       4, an older libjmalloc's, with its class table). Prints
 *       the file's size.
 *   stress_segwriter forge DIR COUNT [NAME=VALUE ...]
 *       COUNT processes (children that pause, 600 s at most, their
 *       output closed), each given a segment in DIR as `write` writes it,
 *       the caller's (its uid in the header: run as nobody, nobody's
 *       processes and segments), of their own name (the host's pid namespace's, or with its
 *       pidns and start time), with IDX in the fields standing for the
 *       process's number (1..COUNT). Prints their pids, one a line. One
 *       program for them all: tests/lib.sh forge_procs (a sleep, a name
 *       and a write of 0.1 s each, 30 s for 300 processes, at load 7).
 *   stress_segwriter churn PATH PID UID SECONDS
 *       for SECONDS, with no pause at all, changes the segment at PATH under
 *       any reader, a microsecond or two per change: mostly one byte
 *       anywhere, or a row's seq made odd (one pwrite each); now and then
 *       it rewrites it whole in place, truncates it to a random length and
 *       grows it back, grows it past its size, puts a new file in its place
 *       by rename, or deletes it and writes it again. Prints the number of
 *       changes.
 *   stress_segwriter seq PATH
 *       moves the seq of the segment's first arena row on by one, in place:
 *       an even (stable) row becomes odd (mid-update) and back, as a writer
 *       preempted inside an update leaves it. Prints the new seq.
 *   stress_segwriter bump PATH SECONDS
 *       for SECONDS, with no pause, moves every arena and bin row's seq on
 *       by two, in place through a shared mapping, row after row, and the
 *       header's generation after each (as the allocator does): each row
 *       stays consistent (never odd) but changes under any reader all the
 *       time, as no real writer's every row does. Prints the sweeps made.
 */
#include "../fuzz/segsynth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_all(int fd, const unsigned char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n <= 0)
			die("pwrite");
		buf += n;
		len -= (size_t)n;
		off += n;
	}
}

static int owner_uid = -1, owner_gid = -1;   /* write owner=UID:GID */
static int forging;                          /* forge: write prints no size */

static void put_file(const char *path, const unsigned char *buf, size_t len)
{
	char tmp[4096];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(tmp);
	write_all(fd, buf, len, 0);
	if (owner_uid >= 0 && fchown(fd, (uid_t)owner_uid, (gid_t)owner_gid) != 0)
		die("fchown");
	if (close(fd) != 0 || rename(tmp, path) != 0)
		die(path);
}

static struct synth params(int argc, char **argv, int first)
{
	struct synth p = { .nbins = JMSTAT_NBINS, .narenas = 2, .nthreads_max = 4 };

	p.pid = (uint32_t)strtoul(argv[2], NULL, 10);
	p.uid = (uint32_t)strtoul(argv[3], NULL, 10);
	p.start_time = synth_start_time((int)p.pid);
	p.pidns = synth_ns("pid");     /* ours, as the name the caller gives says */
	if (p.start_time == 0) {
		fprintf(stderr, "no process %u\n", p.pid);
		exit(1);
	}
	for (int i = first; i < argc; i++) {
		unsigned long v = strtoul(strchr(argv[i], '=') ? strchr(argv[i], '=') + 1 : "", NULL, 0);
		if (strncmp(argv[i], "bins=", 5) == 0)
			p.nbins = (uint32_t)v;
		else if (strncmp(argv[i], "arenas=", 7) == 0)
			p.narenas = (uint32_t)v;
		else if (strncmp(argv[i], "threads=", 8) == 0)
			p.nthreads_max = (uint32_t)v;
		else if (strncmp(argv[i], "sites=", 6) == 0)
			p.nsites_max = p.nsites_hw = (uint32_t)v;
		else if (strncmp(argv[i], "modules=", 8) == 0)
			p.nmodules_max = p.nmodules = (uint32_t)v;
		else if (strncmp(argv[i], "version=", 8) == 0)
			p.version = (uint32_t)v;   /* its class table too */
	}
	return p;
}

static int set_field(struct jmstat_header *h, const char *arg)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (eq == NULL)
		return -1;
	v = strtoull(eq + 1, NULL, 0);
#define F(name) \
	if ((size_t)(eq - arg) == strlen(#name) && strncmp(arg, #name, strlen(#name)) == 0) { \
		h->name = (__typeof__(h->name))v; \
		return 0; \
	}
	F(total_size) F(class_off) F(arena_off) F(bin_off) F(thread_off) F(nthreads_max)
	F(nthreads_hw) F(thread_stride) F(header_size) F(state) F(site_off) F(nsites_max)
	F(nsites_hw) F(nbins) F(narenas) F(version) F(gen)
#undef F
	return -1;
}

static int cmd_write(int argc, char **argv)
{
	struct synth p = params(argc, argv, 4);
	size_t len;
	unsigned char *buf = synth_build(&p, &len);

	for (int i = 4; i < argc; i++) {
		if (strncmp(argv[i], "bins=", 5) == 0 || strncmp(argv[i], "arenas=", 7) == 0 ||
		    strncmp(argv[i], "threads=", 8) == 0 || strncmp(argv[i], "sites=", 6) == 0 ||
		    strncmp(argv[i], "modules=", 8) == 0)
			continue;
		if (strncmp(argv[i], "exe=", 4) == 0) {
			snprintf(synth_hdr(buf)->exe, sizeof synth_hdr(buf)->exe, "%s", argv[i] + 4);
			continue;
		}
		if (strncmp(argv[i], "salt=", 5) == 0) {
			/* Every frame of every site moved into module 0 (the
			 * program's 512 KiB) and apart from those of any other
			 * salt: stacks that no other process shares, as a
			 * hostile user's forged segments can make them. */
			uint64_t salt = strtoull(argv[i] + 5, NULL, 0);
			for (uint32_t s = 0; s < p.nsites_hw; s++)
				for (uint32_t f = 0; f < synth_site(buf, s)->nframes; f++)
					synth_site(buf, s)->frames[f] =
						0x400000u + ((salt * 1048573u + s * 97u + f) * 16u + 5u) % 0x80000u;
			continue;
		}
		if (strncmp(argv[i], "modpath=", 8) == 0) {
			/* Every module's path: the writer's bytes, any of them. */
			for (uint32_t m = 0; m < p.nmodules; m++)
				snprintf(synth_module(buf, m)->path, sizeof synth_module(buf, m)->path, "%s",
				         argv[i] + 8);
			continue;
		}
		if (sscanf(argv[i], "owner=%d:%d", &owner_uid, &owner_gid) == 2)
			continue;
		if (strcmp(argv[i], "frag") == 0) {
			/* A process whose heap is all waste: 1 MiB of runs in
			 * use in arena 0 (mapped, active), nothing allocated,
			 * nothing cached; a fragmentation rule fires on it. */
			for (uint32_t a = 0; a < p.narenas; a++) {
				struct jmstat_arena *r = synth_arena(buf, a);
#define ZERO_(name, type, unit, help) r->name = 0;
				JMSTAT_ARENA_COUNTERS(ZERO_)
#undef ZERO_
				for (uint32_t b = 0; b < p.nbins; b++) {
					struct jmstat_bin *bn = synth_bin(buf, a, b);
#define ZERO_(name, type, unit, help) bn->name = 0;
					JMSTAT_BIN_COUNTERS(ZERO_)
#undef ZERO_
				}
			}
			synth_arena(buf, 0)->mapped = synth_arena(buf, 0)->active = 1u << 20;
			for (uint32_t t = 0; t < p.nthreads_max; t++) {
				synth_thread(buf, t)->large_cached = 0;
				for (uint32_t b = 0; b < p.nbins; b++)
					synth_tcache(buf, t, b)->ncached_less_max =
						0u - synth_tcache(buf, t, b)->ncached_max;
			}
			continue;
		}
		if (strcmp(argv[i], "odd") == 0) {
			/* Every row caught mid-update, as a writer killed while it
			 * wrote them, or one that wants the reader to spin. */
			for (uint32_t a = 0; a < p.narenas; a++) {
				synth_arena(buf, a)->seq |= 1;
				for (uint32_t b = 0; b < p.nbins; b++)
					synth_bin(buf, a, b)->seq |= 1;
			}
			continue;
		}
		if (set_field(synth_hdr(buf), argv[i]) != 0) {
			fprintf(stderr, "unknown field: %s\n", argv[i]);
			return 2;
		}
	}
	put_file(argv[1], buf, len);
	if (!forging)
		printf("%zu\n", len);
	free(buf);
	return 0;
}

/* arg with each IDX in it replaced by idx, in out. */
static void subst_idx(char *out, size_t len, const char *arg, int idx)
{
	size_t o = 0;

	while (*arg && o + 1 < len) {
		if (strncmp(arg, "IDX", 3) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%d", idx);
			if (o >= len)
				o = len - 1;
			arg += 3;
		} else {
			out[o++] = *arg++;
		}
	}
	out[o] = '\0';
}

static int cmd_forge(int argc, char **argv)
{
	const char *dir = argv[1];
	int count = atoi(argv[2]);
	char (*args)[512] = calloc((size_t)argc, sizeof *args);
	char **wargv = calloc((size_t)argc + 2, sizeof *wargv);

	if (args == NULL || wargv == NULL)
		die("calloc");
	forging = 1;
	for (int i = 1; i <= count; i++) {
		char path[4096], pidbuf[32], uidbuf[32];
		pid_t c;

		fflush(stdout);
		c = fork();
		if (c < 0)
			die("fork");
		if (c == 0) {
			int null = open("/dev/null", O_RDWR);
			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
			alarm(600);
			for (;;)
				pause();
		}
		struct synth p = { .pid = (uint32_t)c, .pidns = synth_ns("pid"),
		                   .start_time = synth_start_time((int)c) };
		synth_name(path, sizeof path, dir, &p);
		/* write's arguments: write PATH PID UID FIELDS... */
		snprintf(pidbuf, sizeof pidbuf, "%d", (int)c);
		wargv[0] = "write";
		wargv[1] = path;
		wargv[2] = pidbuf;
		snprintf(uidbuf, sizeof uidbuf, "%u", (unsigned)getuid());
		wargv[3] = uidbuf;
		for (int a = 3; a < argc; a++) {
			subst_idx(args[a], sizeof args[a], argv[a], i);
			wargv[a + 1] = args[a];
		}
		if (cmd_write(argc + 1, wargv) != 0)
			return 2;
		printf("%d\n", (int)c);
	}
	free(wargv);
	free(args);
	return 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Puts a whole new file at path and opens it. The daemon may remove it
 * between the two (a byte flipped in its start time makes it the segment
 * of a reused pid, which jmstatd removes): then again. */
static int fresh_file(const char *path, const unsigned char *buf, size_t len)
{
	for (int i = 0; i < 1000; i++) {
		int fd;
		put_file(path, buf, len);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT)
			break;
	}
	die(path);
	return -1;
}

static int cmd_churn(int argc, char **argv)
{
	struct synth p = params(argc, argv, 5);
	size_t len;
	unsigned char *good = synth_build(&p, &len);
	double end = now() + strtod(argv[4], NULL);
	unsigned long changes = 0;
	int fd;

	fd = fresh_file(argv[1], good, len);
	while (now() < end) {
		unsigned op = (unsigned)(next() % 256);
		size_t off = (size_t)(next() % len);
		unsigned char byte = (unsigned char)next();

		switch (op) {
		case 0:    /* whole again */
			write_all(fd, good, len, 0);
			break;
		default:   /* one byte anywhere, header included */
			write_all(fd, &byte, 1, (off_t)off);
			break;
		case 1:
		case 2:
		case 3: {  /* a row caught mid-update: odd seq */
			uint32_t seq = (uint32_t)next() | 1;
			uint64_t row = synth_bin_off(&p) + (next() % ((uint64_t)p.narenas * p.nbins)) *
			               sizeof(struct jmstat_bin);
			write_all(fd, (unsigned char *)&seq, sizeof seq, (off_t)row);
			break;
		}
		case 4:    /* shrunk, then grown back (zeros) and rewritten */
			if (ftruncate(fd, (off_t)(next() % len)) != 0)
				die("ftruncate");
			if (next() % 2) {
				if (ftruncate(fd, (off_t)len) != 0)
					die("ftruncate");
				write_all(fd, good, len, 0);
			}
			break;
		case 5:    /* grown past its size */
			if (ftruncate(fd, (off_t)(len + (next() % 65536))) != 0)
				die("ftruncate");
			break;
		case 6:    /* a new file in its place */
			close(fd);
			fd = fresh_file(argv[1], good, len);
			break;
		case 7:    /* gone, then back */
			close(fd);
			unlink(argv[1]);
			fd = fresh_file(argv[1], good, len);
			break;
		}
		changes++;
	}
	close(fd);
	printf("%lu\n", changes);
	free(good);
	return 0;
}

static int cmd_seq(const char *path)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW);
	if (fd < 0)
		die(path);
	struct jmstat_header h;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		die("pread header");
	uint32_t seq;
	if (pread(fd, &seq, sizeof(seq), (off_t)h.arena_off) != (ssize_t)sizeof(seq))
		die("pread seq");
	seq++;
	write_all(fd, (const unsigned char *)&seq, sizeof(seq), (off_t)h.arena_off);
	close(fd);
	printf("%u\n", seq);
	return 0;
}

static int cmd_bump(const char *path, double seconds)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		die(path);
	unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	close(fd);
	struct jmstat_header *h = (struct jmstat_header *)m;
	uint64_t nbins = (uint64_t)h->narenas * h->nbins, sweeps = 0;
	if (h->arena_off + (uint64_t)h->narenas * h->arena_size > (uint64_t)st.st_size ||
	    h->bin_off + nbins * h->bin_size > (uint64_t)st.st_size) {
		fprintf(stderr, "%s: rows outside the file\n", path);
		return 1;
	}
	double end = now() + seconds;
	do {
		for (uint32_t a = 0; a < h->narenas; a++) {
			__atomic_fetch_add((uint32_t *)(m + h->arena_off + (uint64_t)a * h->arena_size), 2,
			                   __ATOMIC_RELAXED);
			jmstat_gen_bump(h);
		}
		for (uint64_t b = 0; b < nbins; b++) {
			__atomic_fetch_add((uint32_t *)(m + h->bin_off + b * h->bin_size), 2, __ATOMIC_RELAXED);
			jmstat_gen_bump(h);
		}
		sweeps++;
	} while (now() < end);
	printf("%llu\n", (unsigned long long)sweeps);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "bump") == 0)
		return cmd_bump(argv[2], strtod(argv[3], NULL));
	if (argc == 3 && strcmp(argv[1], "seq") == 0)
		return cmd_seq(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "write") == 0)
		return cmd_write(argc - 1, argv + 1);
	if (argc >= 6 && strcmp(argv[1], "churn") == 0)
		return cmd_churn(argc - 1, argv + 1);
	if (argc >= 4 && strcmp(argv[1], "forge") == 0)
		return cmd_forge(argc - 1, argv + 1);
	fprintf(stderr, "usage: %s write PATH PID UID [bins=N arenas=N threads=N] [FIELD=VALUE ...]\n"
	                "       %s forge DIR COUNT [FIELD=VALUE ...]\n"
	                "       %s churn PATH PID UID SECONDS\n"
	                "       %s seq PATH\n"
	                "       %s bump PATH SECONDS\n", argv[0], argv[0], argv[0], argv[0], argv[0]);
	return 2;
}
