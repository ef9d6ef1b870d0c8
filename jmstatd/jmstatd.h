/* Over 600 lines: the daemon's one map, its types and each module's prototypes by file. */
/*
 * jmstatd.h: the daemon's internal types and the prototypes of its modules.
 *
 * How the parts nest. One `struct jmd` holds the whole daemon: its options,
 * the libuv handles, the table of segment files it knows and the processes
 * it samples. Each segment file in the stats directory named
 * jmalloc.<pid>.stats has one `struct jmd_entry` (discover.c), keyed by the
 * pid in its name; an entry whose file reads well and whose writer is alive
 * points to one live `struct jmd_proc` (figures.c). When the writer dies, or
 * its file goes, the proc leaves the live list for the dead list, where only
 * its history ring is kept for a while (JMD_DEAD_KEEP_MS), and the entry is
 * dropped. Every interval the tick (sample.c) reads each entry's file
 * once, checks its writer alive (liveness.c), turns the raw counters into
 * per-bin and per-process figures and rates (figures.c), appends one
 * history sample per process and per uid (history.c; sample.h is what
 * these four share), and then the server (server.c) pushes an update to
 * each subscribed client. A bin's figures (struct jmd_bin) and a
 * process's totals (struct jmd_totals) are declared once, in the X-lists
 * of fields.h, from which their members, their sums, their JSON and their
 * Prometheus series are generated: a new figure is one line there.
 * commands.c turns requests into JSON replies (commands.h: ps as text
 * and its cache in ps.c, written by emit.c's jansson-identical emitter;
 * `sites` in sites_cmd.c). alerts.c is the alert engine (alerts.h: rules
 * from config.c checked in alerts_rules.c, commands in alerts_notify.c,
 * sites and views in alerts_view.c). metrics.c renders the Prometheus
 * page (metrics.h: the per-exe carry in metrics_exes.c, the site families
 * in metrics_sites.c) that http.c serves (a request head checked in
 * http_head.c); http.c calls metrics.c, never the other way, both writing
 * into text.c's buffer. server.c parses each request line once and
 * answers it through commands.c or ps.c, all of them building on reply.c
 * (the error reply, the room a reply may take); sockpath.c readies the
 * socket file server.c binds. systemd.c speaks sd_notify and socket activation.
 *
 * What keeps it cheap with thousands of processes: the tick samples in
 * slices (JMD_SLICE_MS), the loop serving clients between them; a segment
 * whose rows have not moved since its last read is not read again past
 * its first page and thread rows (jmd_proc.rows_gen: the header's
 * generation, trusted JMD_GEN_TRUST reads at most, then checked against
 * the rows' seqs, jmd_proc.rows_seqs), nor opened again by name while its
 * directory's watch says nothing of it (jmd_proc.segfd); a writer is checked
 * through a pidfd, not /proc, once known (jmd_proc.pidfd); and ps, the biggest reply, is
 * written as text once per view and viewer (jmd.view_gen, jmd.ps_cache).
 *
 * Everything runs on the one libuv loop thread: no locks.
 */
#ifndef JMSTATD_H
#define JMSTATD_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "watch.h"

#include "format.h"
#include "jmalloc.h"
#include "jmstat.h"
#include "segread.h"
#include "version.h"

#define JMD_MAX_REQUEST    65536u          /* bytes in one request line, newline excluded */
#define JMD_MAX_CLIENTS    256u            /* connected clients served at once */
#define JMD_ROOT_CLIENTS   16u             /* of those, kept for root: other uids share the rest */
#define JMD_UID_CLIENTS    32u             /* clients of one non-root uid at once */
#define JMD_IDLE_MS        10000u          /* a client with no request in progress, or whose
                                              replies do not move, is closed after this long
                                              (--client-idle); a subscriber that reads is not */
#define JMD_MAX_OUTPUT     (4u << 20)      /* bytes of unread replies before a client is dropped */
#define JMD_UID_OUTPUT     (16u << 20)     /* ... of all the clients of one uid (not root): a
                                              reply that would pass either is cut first */
#define JMD_SITES_SHARE    20u             /* a uid other than root may have sites replies
                                              built for 1/this of the interval's CPU a tick;
                                              past it, its clients wait for the next tick
                                              (sites_cmd.c) */
#define JMD_HISTORY_MS     600000u         /* default history per process and per uid: 10 minutes */
#define JMD_HISTORY_MIN    1000u           /* --history bounds, ms */
#define JMD_HISTORY_MAX    86400000u
#define JMD_DEAD_KEEP_MS   600000u         /* a dead process's history is kept this long */
#define JMD_DEAD_MAX       1024u           /* and at most this many dead processes, */
#define JMD_DEAD_UID       128u            /* ... this many of one user's (sample.c) */
#define JMD_RESCAN_TICKS   10u             /* full directory rescan every this many ticks */
#define JMD_RECHECK_MS     60000u          /* a writer with a pidfd: its /proc (uid) read again this often */
#define JMD_CRED_MS        1000u           /* and the owner of its /proc/PID (euid, egid) looked at this often */
#define JMD_CENSUS_GAP_MS  250u           /* walks of /proc for writers in other pid namespaces at least this far apart */
#define JMD_GEN_TRUST      8u              /* reads of a still process that skip its rows on
                                              the word of its header's generation (layout 4),
                                              then one reads them and checks their seqs: a
                                              generation that lies delays the writer's own
                                              figures this many ticks at most */
#define JMD_ROWS_COPY      64u             /* reads that copy no row (unchanged by generation
                                              or seqs), then one copies them all: seqs that
                                              lie too delay them this many ticks at most */
#define JMD_BUSY_GRACE_MS  10000u          /* a known writer whose rows stay mid-update keeps its last sample this long */
#define JMD_UID_FILES_TICK 2048u         /* segment files of one uid (not root) read a tick */
#define JMD_UID_BYTES_TICK (64u << 20)     /* bytes of them read a tick; past either, the
                                              rest wait for the next tick (sample.c) */
#define JMD_SLICE_MS       4u              /* the tick samples this long at most, then lets the loop serve clients */
#define JMD_SLICE_WRITING_US 500u          /* ... this long while a reply is being written (main.c) */
#define JMD_INTERVAL_MIN   50u             /* ms */
#define JMD_INTERVAL_MAX   3600000u        /* ms */
#define JMD_NBUCKETS       1024u           /* hash buckets (chained): live processes; entries
                                              at first (discover.c grows theirs) */
#define JMD_MAX_EXTRA_DIRS 16u             /* --stats-dir given again (17 in all) */
#define JMD_UID_PROCS      1024u           /* live processes tracked for one user other
                                              than root (--user-processes): its next
                                              ones are not (sample.c) */
#define JMD_UID_PROCS_MAX  1000000u
#define JMD_UID_FILES_EXTRA 1024u          /* files under segment names tracked for one
                                              user other than root: --user-processes and
                                              this many more; the next are not looked at
                                              (discover.c) */
#define JMD_UID_RINGS      64u             /* uids of one user other than root (its
                                              subordinate ones) with a history ring of
                                              their own (history.c) */
#define JMD_UID_DIRS       64u             /* containers' stats directories read for one
                                              non-root uid that owns their namespaces */
#define JMD_PPROF_PROCS    256u            /* processes merged into one /exe/NAME profile, */
#define JMD_PPROF_STACKS   65536u          /* ... until it holds this many distinct stacks
                                              (the oldest processes first: pprof.c) */
#define JMD_JSON_FLAGS     (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ------------------------------------------------------------ options */

struct jmd_options {
	char *socket_path;       /* where to listen (unused under socket activation) */
	char *stats_dir;         /* the directory the segments live in (the first
	                            --stats-dir): here and in every mount namespace */
	char *extra_dirs[JMD_MAX_EXTRA_DIRS]; /* the other --stats-dir: read too */
	unsigned nextra_dirs;
	bool no_containers;      /* --no-containers: no other mount namespace's */
	char *config_path;       /* NULL: no config file */
	char *metrics_addr;      /* HOST:PORT for Prometheus, NULL: off */
	char *metrics_token_file; /* the bearer token /metrics wants, NULL: none */
	char *subuid_file;       /* --subuid-file, NULL: JMD_SUBUID_FILE */
	bool pprof;              /* --pprof: heap profiles on the metrics listener */
	unsigned interval_ms;    /* sampling interval */
	unsigned history_ms;     /* history kept per process and per uid (--history) */
	unsigned idle_ms;        /* JMD_IDLE_MS unless --client-idle */
	unsigned uid_procs;      /* JMD_UID_PROCS unless --user-processes */
	bool verbose;
	char *check_config;      /* --check-config FILE: check it and exit */
};

/* ------------------------------------------------------------ figures */

/* A bin's figures (struct jmd_bin) and a process's totals (struct
 * jmd_totals): generated from the X-lists of fields.h. */
#include "fields.h"

/* One arena of a process: the raw row and what is derived from its bins. */
struct jmd_arena {
	struct jmstat_arena raw;     /* as read, but allocated_large less the
	                                large regions its threads cache */
	uint64_t large_handed_out;   /* allocated_large as read (cached included) */
	uint64_t small_handed_out;   /* sum curregs * size (cached included) */
	uint64_t allocated;          /* small and large less what its threads
	                                cache, plus huge */
	uint64_t small_wasted;       /* sum (capacity - curregs) * size */
	uint64_t tc_small;           /* the read's tcache_arena_small[a], */
	uint64_t tc_large;           /* ... and tcache_arena_large[a] */
};

/* ------------------------------------------------------------ history */

/* One history sample. The time is not stored: tick numbers index the
 * daemon's ring of tick times (jmd.tick_time). */
struct jmd_hist {
#define JMD_HIST_MEMBER_(name, type) JMD_CTYPE_##type name;
	JMD_HIST_FIELDS(JMD_HIST_MEMBER_)     /* fields.h */
#undef JMD_HIST_MEMBER_
	uint32_t tick;
};

/* A ring that grows (doubling) up to max entries, then wraps. */
struct jmd_ring {
	struct jmd_hist *e;
	uint32_t alloc;          /* entries allocated */
	uint32_t max;            /* entries at most */
	uint32_t head;           /* next slot written */
	uint32_t count;          /* valid entries */
};

/* ------------------------------------------------------------ processes */

/* Where a process runs, from its cgroup (labels.c); empty: not known. */
struct jmd_labels {
	char cgroup[256];        /* its cgroup path (v2, else the first v1) */
	char container[65];      /* container id: 64 hex digits */
	char pod[37];            /* Kubernetes pod uid */
};

/* What a client may see (jmd_visible): its uid in the low 32 bits, and
 * for a client in a pid namespace below ours that namespace's inode in
 * the high 32 (nsfs inodes fit in 32 bits); 0 is the host's root. For a
 * client of our pid namespace scoped to the container its cgroup names
 * (a --pid=host container's: jmd_peer_container), the high 32 bits are
 * jmd_container_scope of its id, below JMD_SCOPE_NS_MIN (jmd_visible
 * compares the whole id it stands for): the kernel
 * numbers nsfs inodes from 0xF0000000 up (PROC_DYNAMIC_FIRST), the
 * initial namespaces' just below (0xEFFFFFFA-0xEFFFFFFF). */
typedef uint64_t jmd_viewer;
#define JMD_VIEWER(uid, ns) (((uint64_t)(uint32_t)(ns) << 32) | (uint32_t)(uid))
#define JMD_SCOPE_NS_MIN 0xE0000000u
/* The scope of container id (64 hex digits; 0 for none, or out of
 * memory): in [1, JMD_SCOPE_NS_MIN), held until jmd_container_scope_put;
 * while held, the same for the same id and another for every other id
 * (a number, not a hash: figures.c). */
uint32_t jmd_container_scope(const char *id);
void jmd_container_scope_put(uint32_t scope);
/* A 32-bit hash of container id (0 for none), in [1, JMD_SCOPE_NS_MIN):
 * the key of its root's clients' bounds (server.c), the same across their
 * connections. Two ids of one hash share bounds only, not a view. */
uint32_t jmd_container_key(const char *id);

struct jmd_proc {
	pid_t pid;               /* the host's pid: in the daemon's pid namespace */
	pid_t ns_pid;            /* the pid in its own namespace (= pid in ours) */
	uint64_t pidns;          /* the inode of its pid namespace (0: unknown) */
	uint64_t created_ns;     /* header.update_ns: when its file was made */
	struct jmd_labels labels; /* read when it became live */
	bool where_unread;       /* its cgroup or pid namespace not read for want
	                            of a descriptor: read at its next read */
	uint32_t uid;            /* its real uid, as the host sees it */
	uint32_t ns_own;         /* the pid namespace it runs in, as the kernel
	                            told when it was tracked (jmd_pidns_of), and */
	uint32_t ns_top;         /* ... the one just below ours above it: 0 for
	                            ours or unknown (what a client in a pid
	                            namespace below ours sees: jmd_visible) */
	uint64_t charged;        /* whose live slot it takes (jmd_file_charge of
	                            its file); JMD_CHARGE_NONE: none (root) */
	uint64_t scope;          /* jmd_proc_scope when it was tracked (0: none) */
	uint64_t who;            /* jmd_proc_charge when it was tracked: whose
	                            places it takes once dead (sample.c) */
	uint32_t ns_uid;         /* the header's: in a user namespace (a rootless
	                            container), as the writer sees it there */
	uint32_t cred_gid;       /* the group of /proc/PID (its egid) when its
	                            writer was last checked in full (liveness.c) */
	uint64_t start_ticks;    /* clock ticks since boot, as in the header */
	double start_time;       /* the same, as unix seconds */
	char exe[JMSTAT_EXE_LEN];    /* the name it was started as (printable ASCII) */
	char path[JMSTAT_PATH_LEN]; /* its executable file, resolved (printable ASCII) */
	uint32_t nthreads;       /* live thread-cache rows */
	uint32_t narenas;
	uint32_t nbins;
	struct jmd_bin *bins;    /* [nbins], the latest sample */
	struct jmd_bin *bins_prev; /* [nbins], scratch: the sample before */
	struct jmd_arena *arenas;  /* [narenas], the latest sample */
	struct jmd_totals tot;   /* the latest sample's totals */
	uint64_t alloc_total;    /* allocation events since start */
	uint64_t free_total;     /* allocation events less objects live now */
	uint64_t bg_wakes;       /* the header's: background purger wakes */
	uint32_t bg_running;     /* the header's: 1 while it has a purger */
	uint64_t read_ns;        /* CLOCK_MONOTONIC of the latest read */
	uint64_t rows_gen;       /* jm_seg.rows_gen of the latest read: its rows
	                            are not read again while it holds */
	bool still;              /* the latest sample's rates are all 0: a read
	                            with the same rows and caches changes no
	                            figure (jmd_proc_update) */
	uint64_t rows_seqs;      /* jm_seg.rows_seqs of the latest read that read
	                            the rows: the next that checks them passes it */
	uint32_t gen_skips;      /* reads in a row that skipped the rows on the
	                            word of the header's generation (layout 4):
	                            at JMD_GEN_TRUST the next checks their seqs */
	uint32_t copy_skips;     /* reads in a row that did not copy the rows
	                            (unchanged by generation or seqs): at
	                            JMD_ROWS_COPY the next copies them */
	dev_t dev;               /* the file the samples come from */
	ino_t ino;
	uint32_t sampled_tick;   /* the tick that read it last; 0: none yet */
	int pidfd;               /* pidfd of the writer, open once it was checked
	                            through /proc: readable once it exits; -1:
	                            none (checked through /proc every tick) */
	bool pidfd_watched;      /* its pidfd is in jmd.pidfd_ep: exited says */
	bool exited;             /* ... that the pidfd was readable: the writer exited */
	int segfd;               /* its segment file, kept open O_RDONLY between
	                            ticks while its writer has a pidfd and its
	                            directory is watched: read again without
	                            opening its name (sample.c); -1: none */
	struct stat seg_st;      /* its fstat when it was opened: what it is while
	                            the watch says nothing of its name */
	double dead_since;       /* unix s; 0 while alive */
	double dead_mono;        /* jmd.mono then: kept JMD_DEAD_KEEP_MS from it */
	struct jmd_ring hist;
	struct jmd_sites_reply *sites_reply; /* its sites reply as text, kept for the
	                            sample it shows (sites_cmd.c); NULL: none */
	struct jmd_entry *entry; /* its file, while live (NULL once retired) */
	struct jmd_proc *hnext;  /* jmd.proc_buckets chain, while live */
	struct jmd_proc *next, *prev; /* in jmd.live or jmd.dead */
};

/* A stats directory besides the first (d->dirfd, discover.c): another
 * --stats-dir, or the stats directory as another mount namespace (a
 * container) sees it, reached through /proc/PID/root (dirs.c). Each
 * directory is read once however many namespaces reach it (same device
 * and inode). */
struct jmd_dir {
	struct jmd_watch watch;  /* first: the watch's callback finds its directory */
	int fd;                  /* O_RDONLY|O_DIRECTORY */
	char *path;              /* as shown in logs: DIR, or DIR in mnt:[INODE] */
	dev_t dev;               /* its identity */
	ino_t ino;
	uint64_t mntns;          /* the mount namespace that reached it; 0: ours */
	uint32_t owner;          /* ... and the uid that owns that namespace (dirs.c) */
	uint64_t container;      /* root's: the pid namespace just below ours that
	                            the process it was reached through runs in
	                            (dirs.c: the key of its bounds); where that
	                            is ours, JMD_CHARGE_CGROUP and the hash of
	                            the container its cgroup names (cgroup_key) */
	uint64_t user;           /* one of the host's private namespaces reached
	                            through a user's process: that user's
	                            principal, whose bound of directories it
	                            counts against (dirs.c); else 0 */
	bool watching;           /* the inotify watch is on */
	bool keep_files;         /* no file is removed or renamed here: a user's
	                            namespace reached it, and it is not the
	                            user's (dir_add) */
	bool keep_logged;        /* ... said once */
	bool leftovers_done;     /* its aside names of other daemons looked at: at
	                            its first scan only (discover.c) */
	uint32_t seen_walk;      /* the latest walk of namespaces that reached it */
	struct jmd_dir *next;
};

/* A segment file known in a stats directory. */
struct jmd_entry {
	struct jmd_dir *dir;     /* where it is; NULL: the first stats directory */
	struct jmstat_name id;   /* what its name says (jmstat_name_parse) */
	char name[JMSTAT_NAME_MAX]; /* jmalloc.<pid>[.<pidns>.<start>[.<tag>]].stats */
	bool logged;             /* a read error was logged for this file */
	dev_t logged_dev;        /* ... for this incarnation of it */
	ino_t logged_ino;
	bool ignored;            /* another user's file, which we cannot read */
	bool deferred;           /* not read this tick: its owner's budget was spent */
	bool untracked;          /* a live writer's segment, not tracked: its user
	                            had --user-processes live processes already */
	bool owner_known;        /* owner holds the file's owner at its last open */
	uint32_t owner;          /* ... whose budget is checked before it is opened */
	uint64_t busy_since_ns;  /* CLOCK_MONOTONIC of the first of the reads in a row
	                            that found its rows mid-update; 0: last read good */
	uint64_t found_ns;       /* CLOCK_MONOTONIC when first seen */
	uint32_t seen_scan;      /* last rescan that found the file */
	uint64_t charged;        /* whose bound of files it counts against
	                            (jmd_file_charge); JMD_CHARGE_NONE: none */
	struct jmd_proc *proc;   /* the live process, or NULL */
	struct jmd_entry *hnext; /* hash chain */
	struct jmd_entry *next, *prev; /* jmd.entries */
};

/* History of the processes of one uid, summed per tick (and uid
 * JMD_UID_ALL for the whole host). */
#define JMD_UID_ALL UINT32_MAX
struct jmd_uidhist {
	uint32_t uid;
	uint64_t user;           /* jmd_proc_charge of the process that made it
	                            (history.c's bound) */
	uint32_t last_tick;      /* last tick with a live process of this uid */
	struct jmd_totals acc;   /* that tick's totals */
	struct jmd_ring ring;
	struct jmd_uidhist *next;
	struct jmd_uidhist *hnext; /* jmd.uid_buckets chain */
};

/* ------------------------------------------------------------ clients */

struct jmd_client {
	uv_pipe_t pipe;          /* first: handle.data points back here */
	struct jmd *d;
	unsigned id;             /* for log lines */
	uid_t uid;               /* SO_PEERCRED */
	jmd_viewer viewer;       /* what it may see (jmd_visible): its uid, and
	                            its pid namespace if below ours */
	uint32_t scope;          /* the container scope it holds (jmd_container_scope),
	                            0: none */
	uint64_t who;            /* its user for the bounds: jmd_principal at
	                            connection, or its container's key
	                            (jmd_client_scope); 0 for the host's root */
	uint64_t who2;           /* a second key it counts against for its
	                            connections, 0: none (a root-owned pid
	                            namespace's client in a container's cgroup:
	                            who is the container, who2 the namespace) */
	pid_t peer_pid;
	char *in;                /* the request line being received */
	size_t in_len;
	size_t in_cap;           /* grows up to JMD_MAX_REQUEST + 1 */
	unsigned nwrites;        /* uv_write requests not yet completed */
	bool closing;            /* told why, closes once its output is flushed */
	bool closed;             /* uv_close called */
	uint32_t closing_tick;   /* the tick it started closing at */
	bool paused;             /* not read until its queued replies drain (server.c) */
	bool deferred;           /* ... or until the next tick: its request waits for
	                            its user's budget of sites replies (sites_cmd.c) */
	bool eof;                /* it shut its side: no more requests, replies still owed */
	bool subscribed;
	pid_t sub_pid;           /* 0: the whole (visible) host */
	uint64_t active_ms;      /* uv_now() when it connected, completed a request or
	                            took some of its replies: idle since then */
	size_t idle_queued;      /* its bytes of replies unread at the last idle check */
	struct jmd_client *next, *prev;
};

/* A reply kept as text while what it shows is unchanged (commands.c). */
#define JMD_REPLY_CACHE 4u               /* viewers whose ps reply is kept */
#define JMD_REPLY_CACHE_UID 2u           /* ... of those, the most one uid takes */
struct jmd_reply_cache {
	uint64_t gen;                    /* jmd.view_gen + 1 when it was built; 0: empty */
	jmd_viewer uid;                  /* the viewer it was built for */
	unsigned fields;                 /* the process fields it shows (a mask) */
	char *text;                      /* the reply, no newline */
	size_t len;
};

/* ------------------------------------------------------------ daemon */

struct jmd {
	uv_loop_t *loop;
	struct jmd_options opt;
	unsigned config_errors;          /* errors of the latest config file read (config.c) */
	double started;                  /* unix s jmstatd started (main.c) */

	int dirfd;                       /* the stats directory, O_PATH|O_DIRECTORY */
	uv_timer_t tick_timer;
	uv_idle_t tick_idle;             /* runs the tick's slices (main.c) */
	struct jmd_watch dir_watch;
	bool watching;
	uv_signal_t sig_term, sig_int, sig_hup;

	/* discover.c */
	struct jmd_entry **buckets;      /* [nbuckets]: entries by directory and name */
	size_t nbuckets;                 /* JMD_NBUCKETS, doubled as entries pass it */
	struct jmd_entry *entries;
	size_t nentries;
	uint32_t scan_gen;
	DIR *scan_dir;                   /* the rescan in progress over the first
	                                    directory, or NULL */
	struct jmd_file_count *file_counts[JMD_NBUCKETS]; /* files per user (discover.c) */
	bool scan_failed_logged;
	bool leftovers_done;             /* the first directory's aside names of other
	                                    daemons were looked at (discover.c) */
	struct jmd_aside *asides;        /* files this daemon left aside (discover.c) */
	bool rescan_pending;             /* the watch lost events: rescan at the next tick */
	uint64_t watch_overflows;        /* inotify queues that overflowed (watch.c) */
	bool dir_gone;                   /* the stats directory was removed: look for it */
	bool rescan_tick;                /* this tick rescans, and reads every file (sample.c) */
	struct jmd_dir *dirs;            /* the other directories (dirs.c) */
	size_t ndirs;
	uint32_t ns_walk;                /* walks of the mount namespaces done */
	uint64_t mntns_self;             /* the inode of our own mount namespace */
	struct jmd_mntns *mntns;         /* [nmntns] the namespaces seen at the latest */
	size_t nmntns;
	uv_timer_t retry_timer;          /* re-reads new files still being built */
	bool retry_open;

	/* census.c: the host's processes by pid namespace */
	uint64_t pidns_self;             /* the inode of our own pid namespace */
	struct jmd_census *census;       /* the latest walk of /proc, or NULL */
	uint64_t census_walk_ns;         /* uv_hrtime() when it began */

	/* sample.c, figures.c, history.c */
	struct jmd_proc *proc_buckets[JMD_NBUCKETS]; /* live processes by host pid */
	struct jmd_proc *live;
	size_t nlive;
	struct jmd_uid_count *uid_live[JMD_NBUCKETS]; /* live processes per user (not root) */
	uint64_t procs_untracked;        /* segments of live writers left untracked for
	                                    --user-processes (once per file) */
	struct jmd_proc *dead;
	size_t ndead;
	struct jmd_uidhist *uids;        /* includes JMD_UID_ALL */
	struct jmd_uidhist *uid_buckets[JMD_NBUCKETS]; /* the same by uid */
	uint32_t tick;                   /* ticks done; the latest is tick */
	uint32_t hist_max;               /* entries of a full ring */
	double *tick_time;               /* [hist_max]: unix s of tick t at t % hist_max */
	double *tick_mono;               /* [hist_max]: jmd.mono of tick t, likewise */
	double now;                      /* unix s of the latest tick done, ms precision:
	                                    its tick_stamp, set at its end (sample.c) */
	double mono;                     /* s since boot (CLOCK_BOOTTIME) of that tick:
	                                    durations are measured on it, not on jmd.now,
	                                    which a step of the wall clock moves */
	double tick_stamp;               /* unix s when this tick's sampling began (its
	                                    rescan done): every figure it reads is read
	                                    after it */
	double tick_mono_stamp;          /* jmd.mono then */
	uint64_t tick_stamp_ns;          /* uv_hrtime() then: the next tick begins an
	                                    interval after it at the earliest (main.c) */
	bool tick_stamped;               /* tick_stamp is this tick's */
	uint32_t tick_done;              /* the latest tick done (jmd.now's): pages kept
	                                    for a tick are kept by it, not by jmd.tick,
	                                    which moves when a tick begins */
	double boot_time;                /* unix s of boot */
	long clk_tck;
	double tick_ms;                  /* how long the latest tick took */
	bool late;                       /* ticks take longer than the interval */
	uint32_t ticks_within;           /* ... and these last ones did not (sample.c) */
	bool in_tick;                    /* the tick's sampling loop is running
	                                    (in slices: clients are served between) */
	struct jmd_entry *tick_next;     /* the next entry it samples */
	uint64_t tick_t0;                /* uv_hrtime() when it began */
	struct jmd_totals host;          /* the latest tick's totals, all processes */
	uint64_t view_gen;               /* bumped whenever what ps shows may change: a
	                                    tick began, a process was sampled, or left
	                                    the live view. Replies kept as text
	                                    (jmd.ps_cache) are good while it stays */
	uint64_t seg_read_errors;        /* reads of a segment that gave no sample */
	uint64_t seg_deferred;           /* reads put off to the next tick (a uid's budget) */
	struct jmd_uid_budget *budgets;  /* [JMD_BUDGET_SLOTS]: per uid, this tick (sample.c) */
	uint64_t seg_rejected;           /* segment files skipped as bad (one per file) */
	size_t npidfds;                  /* pidfds open (jmd_proc.pidfd) */
	size_t max_pidfds;               /* at most: the fd limit less room for the rest */
	int pidfd_ep;                    /* epoll of the pidfds (liveness.c): the writers
	                                    that exited, found with one epoll_wait a
	                                    slice, not a poll a process; -1: none */
	uint32_t scanned_tick;           /* the tick of the latest rescan of the first
	                                    directory that read it (discover.c) */
	size_t nsegfds;                  /* segment files kept open (jmd_proc.segfd): they
	                                    share max_pidfds, half of it at most */
	uint64_t seg_opens;              /* segment files opened by name (sample.c) */

	/* server.c */
	uv_pipe_t server;
	bool server_open;
	uv_poll_t accept_poll;           /* the listening socket's (server.c accepts) */
	bool accept_poll_open;
	uv_poll_cb accept_cb;
	uv_timer_t accept_timer;         /* listening again after a pause */
	bool accept_timer_open;
	int accept_spare;                /* a descriptor kept to refuse a client with */
	bool activated;                  /* the socket came from systemd */
	bool socket_bound;               /* we created the socket file: unlink it at exit */
	struct jmd_client *clients;
	size_t nclients;
	size_t writes;                   /* replies queued and not yet written, of every client */
	uv_timer_t idle_timer;           /* closes idle clients (server.c) */
	bool idle_timer_open;
	uint64_t idle_checked_ms;        /* uv_now() at its latest run */
	uint64_t idle_logged_ms;         /* uv_now() at its latest line; 0: none */
	unsigned long idle_unlogged;     /* clients closed as idle since that line */
	unsigned next_client_id;

	/* commands.c */
	struct jmd_reply_cache ps_cache[JMD_REPLY_CACHE];
	uint64_t ps_built;               /* ps replies built as text (ps.c) */
	uint64_t ps_deferred;            /* ps requests put off to the next tick (budget) */
	uint64_t updates_built;          /* subscribers' updates built (one per tick, viewer
	                                    and pid, shared by its subscribers: server.c) */
	uint64_t sites_built;            /* sites replies built (read and encoded) */
	uint64_t sites_kept;             /* ... and sent again as kept (sites_cmd.c) */
	uint64_t sites_deferred;         /* sites requests put off to the next tick */
	uint64_t pprof_built;            /* --pprof: profiles built (pprof.c), */
	uint64_t pprof_kept;             /* ... served again as kept, */
	uint64_t pprof_deferred;         /* ... requests put off to the next tick (budget) */

	struct jmd_alerts *alerts;       /* alerts.c */
	struct jmd_metrics *metrics;     /* metrics.c and http.c; NULL without --metrics */

	bool stopping;
};

/* ------------------------------------------------------------ log.c */
void jmd_log_init(void);           /* timestamps unless under journald */
void jmd_log_set_plain(void);      /* no timestamps: a report (--check-config) */
void jmd_log_set_verbose(bool verbose);
bool jmd_log_verbose(void);
void jmd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void jmd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line a user can make the daemon write again and again, within a
 * budget of its kind: a burst of JMD_LOG_BURST, then one every
 * JMD_LOG_EVERY_MS; the rest to the verbose log, their count said in the
 * next line logged ("... lines about ABOUT left out ..."). A budget is
 * { .about = "..." }, zero otherwise. */
#define JMD_LOG_BURST    50
#define JMD_LOG_EVERY_MS 10000
struct jmd_log_budget {
	const char *about;       /* what its lines are about, for the count */
	double tokens;           /* lines that may be logged now */
	uint64_t last_ns;        /* CLOCK_MONOTONIC of the last line; 0: none yet */
	unsigned long left_out;  /* lines left out since the last logged */
};
void jmd_log_within(struct jmd_log_budget *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Whether err_no (EMFILE, ENFILE) says no file descriptor was left. What
 * failed for want of one is logged by jmd_log_no_fds: one line every
 * JMD_LOG_EVERY_MS whatever failed, naming the limit and what to do (a
 * client connecting in a loop, or every segment of a tick, made a line
 * each, which blamed the client or the file). jmd_no_fds_reply is the
 * message a client refused for it is sent. */
static inline bool jmd_no_fds(int err_no)
{
	return err_no == EMFILE || err_no == ENFILE;
}
void jmd_log_no_fds(int err_no, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *jmd_no_fds_reply(int err_no);

/* ------------------------------------------------------------ discover.c */
int jmd_discover_start(struct jmd *d);        /* open dir, watch, first scan */
void jmd_discover_stop(struct jmd *d);
void jmd_discover_rescan(struct jmd *d);      /* all at once */
/* The same in slices: begin (false: nothing to scan), steps until one
 * returns false (each about budget_ns), end (removes the entries whose
 * files it did not find). */
bool jmd_discover_rescan_begin(struct jmd *d);
bool jmd_discover_rescan_step(struct jmd *d, uint64_t budget_ns);
void jmd_discover_rescan_end(struct jmd *d);
struct jmd_entry *jmd_entry_find(struct jmd *d, const struct jmd_dir *dir, const char *name);
void jmd_discover_found(struct jmd *d, struct jmd_dir *dir, const char *name, bool read_now);
void jmd_discover_event(struct jmd *d, struct jmd_dir *dir, const char *filename, int events);
const char *jmd_entry_dir(const struct jmd *d, const struct jmd_entry *e); /* for logs */
/* The entry's directory fd, and its file opened O_RDONLY (or -1): inline,
 * so that sites.c, which reads a segment's sites, needs nothing of
 * discover.c (no call cycle through the tick). Only a regular file is
 * opened: a container with CAP_MKNOD (Docker's default set) can put a
 * device node under a segment's name, and a driver's open has effects
 * (a watchdog armed, a tape rewound, a tty taken as the daemon's
 * controlling terminal) that the host's cgroup does not forbid the
 * daemon. So the name is opened O_PATH (no driver's open), checked, and
 * the very inode opened again through /proc/self/fd; anything but a
 * regular file gives ELOOP, as O_NOFOLLOW does for a symlink. */
static inline int jmd_entry_dirfd(const struct jmd *d, const struct jmd_entry *e)
{
	return e->dir ? e->dir->fd : d->dirfd;
}

/* A name of a stats directory opened O_PATH, neither following a symlink
 * nor crossing into a file system mounted on it (RESOLVE_NO_XDEV: EXDEV).
 * A user can mount a FUSE file system on a file of theirs in the sticky
 * /dev/shm (fusermount), named as a segment; where /etc/fuse.conf has
 * user_allow_other, root may look into it, and a stat of the name (an
 * fstatat, which crosses the mount) asked the user's FUSE server, which
 * need never answer: the daemon hung in D state for as long, deaf to
 * every client and to SIGTERM. Without openat2 (before Linux 5.6), a plain
 * openat. */
static inline int jmd_name_open_path(int dirfd, const char *name)
{
#ifdef SYS_openat2
	struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
	                        .resolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return fd;
#endif
	return openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

/* fstatat(AT_SYMLINK_NOFOLLOW) of a name, for the same reason without
 * asking a file system mounted on it: statx with AT_STATX_DONT_SYNC (the
 * attributes the kernel holds, no FUSE request), and a mount's root is
 * EXDEV. One system call, as the fstatat was: a rescan stats each name
 * past its user's bound (100,000 junk files), where an openat2, fstat
 * and close cost 2.2 times as much. Fills the type and mode, owner, size,
 * device and inode. */
static inline int jmd_name_stat(int dirfd, const char *name, struct stat *st)
{
	struct statx sx;
	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx) != 0)
		return -1;
	if (sx.stx_attributes_mask & sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) {
		errno = EXDEV;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	st->st_mode = sx.stx_mode;
	st->st_uid = sx.stx_uid;
	st->st_gid = sx.stx_gid;
	st->st_size = (off_t)sx.stx_size;
	st->st_ino = (ino_t)sx.stx_ino;
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	return 0;
}

static inline int jmd_entry_open(struct jmd *d, const struct jmd_entry *e)
{
	struct stat st;
	char self[40];
	int path_fd = jmd_name_open_path(jmd_entry_dirfd(d, e), e->name);
	if (path_fd < 0) {
		if (errno == EXDEV)
			errno = ELOOP;      /* a mount point: not a regular file of the directory */
		return -1;
	}
	if (fstat(path_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(path_fd);
		errno = ELOOP;
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", path_fd);
	int fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int saved = errno;
	close(path_fd);
	errno = saved;
	return fd;
}
void jmd_discover_retry_soon(struct jmd *d);
/* Whose bounds a file of uid in dir counts against (the files tracked,
 * discover.c; the reads a tick and the live processes, sample.c): its
 * uid's user (jmd_principal), none for root's, except in a container's
 * directory, where root's files are a container's (which could make
 * millions at no cost): one key per directory. And so are every uid's
 * files there when root owns the container's namespaces (no user
 * namespace): its root runs processes as any host uid, and charged to
 * that uid's user they spent the bounds of a user who had nothing to do
 * with the container (eleventh pass, tests/containers/uid_charge.test.sh).
 * A root-owned container's key is the pid namespace it runs in (the one
 * just below ours, JMD_CHARGE_PIDNS set too) where there is one: all the
 * mount namespaces, and so the directories, its root may make count as
 * one (fourteenth pass, tests/containers/ns_multiply.test.sh); else its
 * mount namespace. */
#define JMD_CHARGE_NONE      UINT64_MAX
#define JMD_CHARGE_CONTAINER (1ull << 32)
#define JMD_CHARGE_PIDNS     (1ull << 33)
#define JMD_CHARGE_CGROUP    (1ull << 34)
/* A key as log lines and replies name it: "uid N", or the container's
 * "pid:[N]", "cgroup:[N]" or "mnt:[N]". */
const char *jmd_key_text(char *buf, size_t len, uint64_t key);
uint64_t jmd_file_charge(const struct jmd *d, const struct jmd_dir *dir, uint32_t uid);
/* Whose bounds the alert commands of live process p count against (and
 * whose log budget their lines spend): its uid's user (jmd_principal:
 * root's 0, which has slots kept and no bound), except root's processes
 * in a container's directory, one key per directory as for its files:
 * root in a container without a user namespace is uid 0 on the host; and
 * every uid's there where root owns the container's namespaces
 * (jmd_file_charge). */
uint64_t jmd_proc_charge(const struct jmd *d, const struct jmd_proc *p);
/* The mount namespace of the container's directory p was read from when
 * p counts as that container's (jmd_proc_charge), else 0: what keeps such
 * a process's per-exe series on /metrics (and /uid/UID/exe/) apart from
 * the host's processes of its uid. */
uint64_t jmd_proc_scope(const struct jmd_proc *p);
/* Files under segment names not tracked, for their user's bound, at the
 * latest rescan: of one user (a principal), or of all (JMD_UID_ALL). */
uint64_t jmd_files_untracked(const struct jmd *d, uint32_t user);
void jmd_file_counts_free(struct jmd *d);
bool jmd_entry_new(const struct jmd *d, const struct jmd_entry *e);
/* Is the directory of e watched (inotify): a change to its file is seen? */
bool jmd_entry_watched(const struct jmd *d, const struct jmd_entry *e);
void jmd_entry_remove(struct jmd *d, struct jmd_entry *e);
void jmd_entry_to_front(struct jmd *d, struct jmd_entry *e); /* read first at the next tick */
void jmd_entry_unlink_stale(struct jmd *d, struct jmd_entry *e, dev_t dev, ino_t ino,
                            const char *why);
int jmd_entry_unlink(struct jmd *d, struct jmd_entry *e, dev_t dev, ino_t ino); /* quietly */
/* The name a file is moved to for its removal (discover.c). */
#define JMD_ASIDE_PREFIX ".jmstatd-removing."
/* Tries to put back a file moved aside whose name comes and goes
 * (jmd_entry_unlink). */
#define JMD_PUTBACK_TRIES 32
void jmd_discover_leftover(struct jmd *d, struct jmd_dir *dir, const char *name);
void jmd_leftovers_begin(const struct jmd_dir *dir);   /* a first scan of dir begins */
/* The files this daemon left aside (jmd_entry_unlink could not put them
 * back), each tried again at every rescan; at most JMD_ASIDE_KEPT of one
 * owner's (jmd_file_charge), JMD_ASIDE_KEPT_ALL in all. */
#define JMD_ASIDE_KEPT 16
#define JMD_ASIDE_KEPT_ALL 256
void jmd_asides_retry(struct jmd *d);
void jmd_asides_forget(struct jmd *d, const struct jmd_dir *dir);
/* A line about a bad or stale segment, within their shared budget
 * (sample.c: a burst, then one every 10 s, the count left out said). */
void jmd_log_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dirs.c: whether the writer host may have written a segment in dir: 1
 * yes (always for the first directory and the other --stats-dir), 0 no (a
 * container's directory its mount namespace does not reach), -1 cannot
 * tell yet (its namespace not walked). It reads /proc/PID/ns/mnt by pid:
 * the caller believes it only if the writer still runs after (sample.c). */
int jmd_dir_may_hold(struct jmd *d, const struct jmd_dir *dir, pid_t host);

/* pidns.c: up from the pid namespace of fd (closed) to ours: 1 with
 * *own (its inode), *top (the one just below ours) and, if asked,
 * *top_owner (the uid that made the user namespace owning *top: 0 for
 * root's) for one below ours; 0 for ours; -1 where there is no way up to
 * ours (NS_GET_PARENT keeps to the caller's tree) or the kernel cannot
 * tell. */
int jmd_pidns_walk(int fd, uint32_t *own, uint32_t *top, uint32_t *top_owner);
/* pidns.c: the pid namespace of process host (by /proc, *own) and the one
 * just below ours it runs in or under (*top); both 0 for ours or where the
 * kernel cannot tell. jmd_pidns_walk's return: -1 with errno (EMFILE,
 * ENFILE: it may tell later). */
int jmd_pidns_of(pid_t host, uint32_t *own, uint32_t *top);
/* A socket client's pid namespace, from its pidfd (SO_PEERPIDFD, else
 * its SO_PEERCRED pid through /proc): 0 with *own 0 for ours (or one we
 * cannot see up to: a peer outside our tree, as the host's is to a daemon
 * in a pid namespace of its own), 0 with *own and *top set for one below
 * ours and *owner the uid that owns *top (the maker of its user
 * namespace; 0 for root's, a runtime's), -1 when it cannot tell (the peer
 * gone). */
int jmd_peer_pidns(int sock, pid_t pid, uint32_t *own, uint32_t *top, uint32_t *owner);
/* A socket client's container, for one of our pid namespace: the id its
 * cgroup names (jmd_labels_read: only a root-made cgroup directory's;
 * "" for none, or the daemon's own container, whose clients are the
 * host's) and whether it may read any process's memory anyway (an
 * effective CAP_SYS_PTRACE in our user namespace: a privileged
 * container's), both read by pid and believed only if its pidfd still
 * runs after; -1 when the peer is gone. */
int jmd_peer_container(int sock, pid_t pid, char container[65], bool *ptracer);

/* ------------------------------------------------------------ principal.c */
#define JMD_SUBUID_FILE "/etc/subuid"
/* The user uid's bounds are charged to: the owner of the subordinate uid
 * range (--subuid-file) that holds it, else uid itself. */
uint32_t jmd_principal(const struct jmd *d, uint32_t uid);
void jmd_principal_free(void);
/* Counts per user in one pass over a list: zero it, then jmd_tally()
 * gives the count of user (a principal), to be moved on; NULL once
 * JMD_TALLY_SLOTS other users fill it (count the item as over its bound). */
#define JMD_TALLY_SLOTS 4096u
struct jmd_tally {
	struct jmd_tally_slot {
		uint64_t user;       /* a principal, or jmd_proc_charge's key */
		uint32_t n;          /* 0: an empty slot */
	} slot[JMD_TALLY_SLOTS];
};
uint32_t *jmd_tally(struct jmd_tally *t, uint64_t user);
/* The most items each user of a full tally may keep, at most per_user,
 * so that all of them together keep at most total, the same level for
 * every user (those with fewer keep all of theirs): at least 1. */
uint32_t jmd_tally_level(const struct jmd_tally *t, uint32_t per_user, uint32_t total);
void jmd_entries_free(struct jmd *d);

/* ------------------------------------------------------------ dirs.c */
void jmd_dirs_start(struct jmd *d);           /* the other --stats-dir */
void jmd_dirs_scan(struct jmd *d);            /* rescan them; walk the mount namespaces */
void jmd_dirs_stop(struct jmd *d);

/* ------------------------------------------------------------ labels.c */
/* 0, or a negative errno (errno set to it too) when /proc/PID/cgroup
 * could not be read (l then names nothing): -ENODATA for an empty file,
 * -EMFILE or -ENFILE for want of a descriptor. Callers test the value
 * returned, not errno. */
int jmd_labels_read(pid_t host, struct jmd_labels *l);
/* Whether the cgroup directory that holds path[at] (a cgroup's path as
 * /proc/PID/cgroup gives it, len bytes; controllers: its v1 hierarchy's,
 * NULL for cgroup2) may name a container: root made it, or it cannot be
 * looked at from here (labels.c). */
bool jmd_cgroup_root_made(const char *controllers, const char *path, size_t len, size_t at);

/* ------------------------------------------------------------ census.c */
int jmd_census_init(struct jmd *d);
void jmd_census_fini(struct jmd *d);
/* The host pid (in our pid namespace) of the writer that is nspid in the
 * pid namespace pidns and started at start (clock ticks since boot): 0
 * and *host set; JM_SEG_EDEAD if no such process runs; JM_SEG_EIO if we
 * cannot tell (its namespace is not one we can see). */
int jmd_census_host_pid(struct jmd *d, uint64_t pidns, pid_t nspid, uint64_t start,
                        pid_t *host);
/* Reads /proc/PID/NAME (one read, at most size - 1 bytes) into buf,
 * NUL-terminated: its length, or -1 (unreadable or empty). */
ssize_t jmd_proc_file(pid_t pid, const char *name, char *buf, size_t size);

/* ------------------------------------------- sample.c, figures.c, history.c */
int jmd_sample_init(struct jmd *d);
void jmd_sample_fini(struct jmd *d);
void jmd_tick(struct jmd *d);                 /* one interval's work, at once */
/* The same in three parts, so that the loop serves clients between the
 * slices of a long sampling pass: slice() samples entries for about
 * budget_ns and says whether some are left. */
void jmd_tick_begin(struct jmd *d);
bool jmd_tick_slice(struct jmd *d, uint64_t budget_ns);
void jmd_tick_end(struct jmd *d);
void jmd_sample_entry(struct jmd *d, struct jmd_entry *e); /* read one file now */
void jmd_proc_retire(struct jmd *d, struct jmd_proc *p, const char *why);
/* liveness.c: closes p's segment file kept open (jmd_proc.segfd), if any:
 * its next read opens the name again. */
void jmd_segfd_put(struct jmd *d, struct jmd_proc *p);
struct jmd_proc *jmd_proc_find(struct jmd *d, pid_t pid, jmd_viewer viewer);
/* Whether viewer may see a process of owner that runs in pid namespace
 * ns_own, ns_top below ours (jmd_proc): the host's root sees every one, a
 * host user their own; a client in a pid namespace below ours only those
 * of its namespace (its own, or the one below ours it is the top of),
 * all of them as its root, else its uid's (fifteenth pass); a client
 * scoped to a container (a --pid=host one's) only the processes its
 * cgroup names, container (sixteenth pass). */
bool jmd_visible(uint32_t owner, uint32_t ns_own, uint32_t ns_top, const char *container,
                 jmd_viewer viewer);
bool jmd_proc_visible(const struct jmd_proc *p, jmd_viewer viewer);
/* Live processes tracked for user (a principal: jmd_principal), and
 * whether a new one of uid would pass --user-processes (root's: never). */
/* Live processes tracked of a key of jmd_file_charge's; whether a file
 * of uid in dir (NULL: the first stats directory) would pass the bound. */
uint32_t jmd_user_live(const struct jmd *d, uint64_t key);
bool jmd_user_full(const struct jmd *d, const struct jmd_dir *dir, uint32_t uid);
/* Charges live process p (its entry set) to its key's live processes. */
void jmd_proc_charge_live(struct jmd *d, struct jmd_proc *p);
/* Segment files of live writers not tracked for --user-processes: of
 * user (a principal), or of all with JMD_UID_ALL. */
uint64_t jmd_untracked(const struct jmd *d, uint32_t user);
const struct jmd_ring *jmd_uid_ring(struct jmd *d, jmd_viewer viewer);
double jmd_tick_time(const struct jmd *d, uint32_t tick, bool *valid);
double jmd_tick_mono(const struct jmd *d, uint32_t tick, bool *valid);

/* Seconds from p's start to the latest tick, on jmd.mono: p->start_time
 * less the boot time is its start in seconds since boot. */
static inline double jmd_proc_age_s(const struct jmd *d, const struct jmd_proc *p)
{
	return d->mono - (p->start_time - d->boot_time);
}

/* ------------------------------------------------------------ commands.c */
json_t *jmd_command(struct jmd *d, jmd_viewer uid, struct jmd_client *c, json_t *req);
/* One request line (its newline taken off) parsed, once: the request, or
 * NULL with *reply its error reply (NULL for a blank line, which asks
 * nothing). */
json_t *jmd_request_parse(struct jmd *d, const char *line, size_t len, json_t **reply);
/* One request line to its reply (jmd_request_parse, then jmd_command), NULL
 * for a blank line; c may be NULL (then subscribe subscribes nothing). The
 * fuzz target tests/fuzz/request_fuzz.c drives it. */
json_t *jmd_request(struct jmd *d, jmd_viewer uid, struct jmd_client *c, const char *line, size_t len);
json_t *jmd_update(struct jmd *d, jmd_viewer uid, pid_t pid);
/* The same as text (no newline), malloc'd: 0, -ESRCH (pid not visible) or
 * -ENOMEM. */
int jmd_update_text(struct jmd *d, jmd_viewer uid, pid_t pid, char **text, size_t *len);
/* Its tail alone, after the ps reply (jmd_ps_cached(JMD_PS_ALL)) less its
 * closing brace: the same returns. */
int jmd_update_tail(struct jmd *d, jmd_viewer uid, pid_t pid, char **text, size_t *len);
/* Is req a ps request with good fields (their mask in *mask)? Its reply,
 * as text (no newline) owned by the daemon and good until the next
 * request: jmd_ps_kept() if kept for this view, else jmd_ps_cached()
 * builds it (commands.h; ps.c). */
bool jmd_ps_request(json_t *req, unsigned *mask);
const struct jmd_reply_cache *jmd_ps_kept(struct jmd *d, jmd_viewer uid, unsigned mask);
const struct jmd_reply_cache *jmd_ps_cached(struct jmd *d, jmd_viewer uid, unsigned mask);
void jmd_commands_fini(struct jmd *d);       /* frees the replies kept */

/* ------------------------------------------------------------ server.c */
int jmd_server_start(struct jmd *d);
void jmd_server_stop(struct jmd *d);
void jmd_server_tick(struct jmd *d);          /* push updates, reap stuck clients */
void jmd_client_send(struct jmd_client *c, json_t *reply); /* steals reply */
void jmd_client_send_text(struct jmd_client *c, const char *text, size_t len); /* copies it */
/* A reply text shared by the clients it is sent to (a kept sites reply):
 * freed when the last of its holders puts it. */
struct jmd_blob {
	unsigned refs;
	size_t len;
	char data[];
};
struct jmd_blob *jmd_blob_new(size_t len);   /* one reference, the caller's */
void jmd_blob_put(struct jmd_blob *b);
/* Writes the bufs (in b, their newline included) to c, which holds a
 * reference to b until they are written. */
void jmd_client_send_blob(struct jmd_client *c, struct jmd_blob *b, const uv_buf_t *bufs,
                          unsigned nbufs);

/* ------------------------------------------------------------ sites_cmd.c */
/* A process's sites reply with every site, as text, kept for the sample it
 * shows: the site table changes in the daemon's view only at a tick (its
 * estimates are bounded by the tick's per-class figures), so every request
 * of the same tick is sent these bytes, cut to what its client may take,
 * without reading the segment or encoding again. Shared by the clients it
 * is being written to (jmd_blob): a flood of requests costs one build per
 * process and tick, and its unread replies one copy. */
struct jmd_sites_reply {
	uint64_t read_ns;        /* jmd_proc.read_ns of the sample it goes with */
	double now;              /* jmd.now when built: its "time" */
	struct jmd_blob *blob;   /* {"ok":true,...,"sites":[S0,S1,...],"modules":[...]}\n */
	size_t head_len;         /* the bytes before S0 */
	size_t tail_off;         /* where ],"modules":... begins */
	size_t nsites;
	size_t site_end[];       /* [nsites]: where site i's text ends */
};
/* A sites request of client c, answered here rather than by jmd_command:
 * 0 deferred (c's user has spent this tick's budget of sites replies
 * built: ask again at the next tick); 1 with *reply an error reply to
 * send; 2 with bufs[0..*nbufs), in *blob, to send (jmd_client_send_blob). */
int jmd_sites_serve(struct jmd_client *c, json_t *req, json_t **reply, struct jmd_blob **blob,
                    uv_buf_t *bufs, unsigned *nbufs);
bool jmd_is_sites_request(json_t *req);
void jmd_sites_tick(struct jmd *d);            /* a tick ended: the budgets anew */
/* The same budget for every other reply built for a request (server.c):
 * whether uid's user (always for root) may have one built this tick, and
 * what one cost (ns of this thread's CPU, jmd_thread_cpu_ns()). */
bool jmd_build_budget_left(struct jmd *d, uint64_t who);
void jmd_build_budget_charge(struct jmd *d, uint64_t who, uint64_t ns);
uint64_t jmd_thread_cpu_ns(void);
void jmd_sites_reply_free(struct jmd_proc *p); /* drops p's kept reply (reply.c) */

/* ------------------------------------------------------------ reply.c */
/* {"ok": false, "error": MSG, "time": T}, MSG made valid UTF-8. */
json_t *jmd_error(struct jmd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t jmd_client_queued(struct jmd_client *c); /* bytes of replies c has not read */
/* Bytes of replies c may still have unread: JMD_MAX_OUTPUT less its own,
 * and for a uid other than root JMD_UID_OUTPUT less all of its user's
 * (its subordinate uids count as it: jmd_principal); JMD_MAX_OUTPUT for c
 * NULL. A big reply is cut to fit before it is built. */
size_t jmd_client_room(struct jmd_client *c);

/* ------------------------------------------------------------ sockpath.c */
int jmd_default_socket_path(char **out);      /* malloc'd: 0 or a negative errno */
/* Makes path ready to bind: not too long, its default directory there, a
 * stale socket removed. 0, or a negative errno after a log line. */
int jmd_socket_prepare(const char *path);

/* ------------------------------------------------------------ text.c */
/* A growing text buffer; after a failed allocation it stays failed. */
struct jmd_text {
	char *s;
	size_t len, cap;
	bool failed;
};
bool jmd_text_reserve(struct jmd_text *t, size_t more); /* room for more bytes, or false */
void jmd_text_puts(struct jmd_text *t, const char *s);
void jmd_text_printf(struct jmd_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jmd_text_label(struct jmd_text *t, const char *value); /* "value", escaped */

/* ------------------------------------------------------------ metrics.c */
int jmd_metrics_init(struct jmd *d);
void jmd_metrics_tick(struct jmd *d);         /* after each tick: per-exe counters */
/* The /metrics page: its health series in t, the rest kept for the tick in
 * *body (a reference the caller puts; NULL and all in t without the table). */
int jmd_metrics_render(struct jmd *d, struct jmd_text *t, struct jmd_blob **body);
void jmd_metrics_fini(struct jmd *d);

/* ------------------------------------------------------------ http.c */
int jmd_http_start(struct jmd *d);            /* --metrics HOST:PORT */
void jmd_http_stop(struct jmd *d);
void jmd_http_tick(struct jmd *d);            /* a tick ended: the requests that waited for it */

/* ------------------------------------------------------------ http_head.c */
/* A request head of the endpoint, checked (pointers into its buffer). */
struct jmd_http_head {
	const char *method, *target;
	const char *auth;            /* the Authorization header's value; NULL if none */
};
/* Checks head[0..len) in place (len + 1 bytes): NULL and *req, or why it
 * is a bad request (one line). */
const char *jmd_http_parse(char *head, size_t len, struct jmd_http_head *req);
/* Is auth (a header value, NULL if none) "Bearer TOKEN" with want's token? */
bool jmd_http_token_ok(const char *want, const char *auth);
/* The end of the head in s[0..len): after "\n\r\n" or "\n\n"; 0 if not there yet. */
size_t jmd_http_head_end(const char *s, size_t len);

/* ------------------------------------------------------------ alerts.c */
/* The alert engine. Config: between begin and commit, config.c hands it the
 * sections and settings of a config file; commit(false) drops them and the
 * rules in force stay. Each tick: evaluate() for every live process, then
 * tick_done() once. */
int jmd_alerts_init(struct jmd *d);           /* the engine, no rule yet (config.c loads them) */
extern const char jmd_alerts_builtin_rules[]; /* the rules without --config, as a config text */
void jmd_alerts_stop(struct jmd *d);          /* at shutdown: lets go of running commands */
void jmd_alerts_fini(struct jmd *d);
void jmd_alerts_config_begin(struct jmd *d);
int jmd_alerts_config_section(struct jmd *d, const char *type, const char *name,
                              char *err, size_t errlen);
int jmd_alerts_config_set(struct jmd *d, const char *key, const char *value,
                          char *err, size_t errlen);
int jmd_alerts_config_section_end(struct jmd *d, char *err, size_t errlen);
void jmd_alerts_config_commit(struct jmd *d, bool apply);
void jmd_alerts_evaluate(struct jmd *d, const struct jmd_proc *p);
void jmd_alerts_tick_done(struct jmd *d);
json_t *jmd_alerts_list(struct jmd *d, jmd_viewer viewer);
void jmd_alerts_metrics(struct jmd *d, struct jmd_text *t);

/* ------------------------------------------------------------ sites.c */
/* One allocation site of a process, ranked for a view: raw frames (the
 * daemon never symbolizes) and estimated live bytes. */
#define JMD_SITE_BINS 4          /* size classes a ranking may weigh */
struct jmd_site {
	uint64_t id;             /* jmd_site_id() of the frames */
	uint32_t nframes;
	uint32_t nbins;          /* entries of bins[] used */
	uint64_t frames[JMSTAT_SITE_FRAMES]; /* return addresses, innermost first */
	uint64_t live_bytes;     /* in the classes the ranking weighed (all: the whole site) */
	uint64_t site_live_bytes; /* the whole site's */
	uint64_t live_objects;   /* the whole site's, bounded as its bytes (jmd_site_bounded) */
	uint64_t samples;        /* sampled objects live */
	uint64_t error_bytes;    /* one standard error of live_bytes (jmd_site_error) */
	bool bounded;            /* live_bytes brought down to what the process holds */
	struct {
		uint32_t size;   /* region size of a weighed class */
		uint64_t live_bytes;
	} bins[JMD_SITE_BINS];   /* the weighed classes where it holds some */
};
/* Keyed (SipHash-2-4, a key drawn at start) by the process's uid, the
 * stats directory its segment is read from, and the frames. */
uint64_t jmd_site_id(const struct jmd_proc *p, const uint64_t *frames, uint32_t nframes);
/* Per size class of seg (nbins + 1 entries, the last for large and huge),
 * the factor (at most 1) that brings the sum of the sites' estimates in
 * that class down to the bytes process p holds in it; 1 where they fit. */
void jmd_sites_bound(const struct jmd_proc *p, const struct jm_seg *seg, double *factor);
/* A site's live bytes so bounded (row and its bins[nbins + 1] from seg),
 * and its live objects brought down class by class as its bytes were;
 * *bounded (may be NULL) whether a class of it was brought down. What the
 * sites command, the pprof profiles, /metrics and alerts all give. */
void jmd_site_bounded(const struct jm_seg *seg, const struct jmstat_site *row, const uint64_t *bins,
                      const double *factor, uint64_t *live_bytes, uint64_t *live_objects,
                      bool *bounded);
/* One standard error of a site's estimate of live_bytes from `samples`
 * sampled objects, one sample every sample_bytes on average. */
double jmd_site_error(double live_bytes, uint64_t samples, uint64_t sample_bytes);
/* bytes x factor, and its sum with acc, as an integer: at most UINT64_MAX,
 * 0 for NaN. A site's counters are what its process wrote: a forged one of
 * 2^64 - 1 bytes made (uint64_t)(double) overflow, undefined (x86-64
 * gives 0: the largest site shown as holding nothing). */
uint64_t jmd_scaled(uint64_t bytes, double factor);
uint64_t jmd_add_sat(uint64_t acc, uint64_t v);
/* The short name of a site id shown to users: its top 48 bits as 12 hex
 * digits (the `site` label of /metrics, the `id` of an alert's sites). */
const char *jmd_site_name(uint64_t id, char *buf, size_t len);
/* The top `max` sites of live process p by live bytes in the size classes
 * classes[0..nclasses) (indexes of p->bins, at most JMD_SITE_BINS), or by
 * their whole live bytes when nclasses is 0; sites holding nothing there
 * are left out. Reads p's segment now. Returns how many were put in out
 * (sorted, biggest first) and sets *sample_bytes (if not NULL); or a
 * negative errno (-ESRCH: the segment is no longer p's). */
int jmd_sites_top(struct jmd *d, const struct jmd_proc *p, const uint32_t *classes,
                  uint32_t nclasses, struct jmd_site *out, size_t max, uint64_t *sample_bytes);
/* The same, and when where is not NULL and a site is found, the top one's
 * innermost where_frames frames named by their modules into where (of
 * where_len bytes): jmd_site_where(). */
int jmd_sites_top_where(struct jmd *d, const struct jmd_proc *p, const uint32_t *classes,
                        uint32_t nclasses, struct jmd_site *out, size_t max,
                        uint64_t *sample_bytes, char *where, size_t where_len,
                        unsigned where_frames);
/* The innermost max_frames frames of s as "module+0xOFFSET<...", "<..."
 * when it has more: each frame by the module of seg's module table (sorted
 * by jm_pprof_sort_modules) that holds its call, as jmctl names a frame
 * it has no symbol for (the basename of the file, the return address's
 * offset in it; printable ASCII kept); a frame outside every module as
 * its address. Nothing is opened. Returns buf. */
const char *jmd_site_where(const struct jm_seg *seg, const struct jmd_site *s, char *buf,
                           size_t len, unsigned max_frames);
/* Reads live process p's segment now, sites and modules included, into
 * *seg; 0, or a negative errno with *seg zeroed (-ESRCH: the file is no
 * longer p's, its pid, start time, uid or size classes differ). When the
 * reader refused the file, *seg_err (if not NULL) is its JM_SEG_* code,
 * else 0. */
int jmd_site_segment(struct jmd *d, const struct jmd_proc *p, struct jm_seg *seg, int *seg_err);

/* ------------------------------------------------------------ pprof.c */
/* A heap profile in pprof's format for http.c (--pprof). */
struct jmd_pprof_reply {
	unsigned status;         /* 200, or the HTTP status of the error */
	char reason[200];        /* the error's one line (status not 200) */
	unsigned char *body;     /* 200: the gzip'ed profile, malloc'ed */
	size_t len;
	bool text;               /* body is text (the symbol answer) */
	char header[96];         /* extra response header lines ("Name: value\r\n"), or "" */
	bool deferred;           /* not built: the tick's budget of builds is spent (status
	                            0); ask again after the next tick (jmd_pprof_tick) */
};
void jmd_pprof_fini(void);   /* frees the profiles kept (pprof.c) */
void jmd_pprof_tick(struct jmd *d); /* a tick ended: the profiles built in it go, the budget anew */
/* Is path[0..len) a .../debug/pprof/symbol path, which pprof POSTs to? */
bool jmd_pprof_symbol_path(const char *path, size_t len);
/* Serves path[0..len) (no query) if it is one of the profile paths,
 * /pid/PID/debug/pprof/{heap,allocs} or /exe/NAME/debug/pprof/{heap,allocs}
 * (or .../symbol: no symbols), or under /pid/ or /exe/ at all: fills *r
 * and returns true; false for any other path. */
bool jmd_pprof_serve(struct jmd *d, const char *path, size_t len, struct jmd_pprof_reply *r);

/* ------------------------------------------------------------ config.c */
int jmd_config_load(struct jmd *d, const char *path);
/* The same on SIGHUP: out of descriptors (-EMFILE, -ENFILE), the caller says so. */
int jmd_config_reload(struct jmd *d, const char *path);
int jmd_config_load_text(struct jmd *d, const char *name, const char *text);
int jmd_config_builtin(struct jmd *d);   /* the rules in force without --config */
int jmd_config_start(struct jmd *d);     /* --config FILE, else the built-in rules */

/* ------------------------------------------------------------ values.c */
int jmd_parse_bytes(const char *s, double *out);     /* 64MiB, 1GB, 4096 */
int jmd_parse_duration(const char *s, double *out);  /* 500ms, 30s, 10m, 1h; seconds */
int jmd_parse_ratio(const char *s, double *out);     /* 0.5, 50% */

/* ------------------------------------------------------------ systemd.c */
void jmd_sd_notify(const char *state);
int jmd_listen_fds(void);                     /* fd 3 if passed to us, -1 if not, <-1 error */
int jmd_listen_metrics_fd(void);              /* the TCP socket systemd passed, or -1 */

#endif
