/*
 * sample.h: what the parts of the sampling share, and nothing else
 * includes: sample.c (the tick, the reading of an entry), figures.c (the
 * processes and their figures), history.c (the rings) and liveness.c
 * (whether a writer is alive). What the rest of the daemon calls is in
 * jmstatd.h.
 */
#ifndef JMSTATD_SAMPLE_H
#define JMSTATD_SAMPLE_H

#include <sys/stat.h>

#include "jmstatd.h"

/* figures.c */
void jmd_proc_free(struct jmd_proc *p);
void jmd_list_unlink(struct jmd_proc **head, struct jmd_proc *p);
struct jmd_proc *jmd_proc_new(struct jmd *d, const struct jm_seg *s, const struct stat *st,
                              pid_t host);
/* Its cgroup and pid namespace again, where jmd_proc_new could not read
 * them for want of a descriptor (jmd_proc.where_unread). */
void jmd_proc_where_again(struct jmd *d, struct jmd_proc *p, const struct jm_seg *s, pid_t host);
void jmd_user_counts_free(struct jmd *d);
void jmd_proc_update(struct jmd *d, struct jmd_proc *p, const struct jm_seg *s, uint64_t now);

/* history.c */
void jmd_ring_compact(struct jmd_ring *r);
void jmd_history_push(struct jmd *d);

/* liveness.c */
void jmd_pidfd_put(struct jmd *d, int fd);
bool jmd_same_writer(const struct jmd_proc *p, const struct jm_seg *seg, const struct stat *st);
int jmd_check_writer(struct jmd *d, const struct jmd_proc *p, const struct jm_seg *seg,
                     const struct stat *st, pid_t *host, int *pidfd_out, uint32_t *cred_gid);
/* Still the writer after /proc/HOST was read by pid (pidfd: -1 if none). */
bool jmd_writer_still(const struct jm_seg *seg, pid_t host, int pidfd);
void jmd_pidfd_budget(struct jmd *d);
/* The pidfd of a process just given one: watched in jmd.pidfd_ep, which
 * sample.c asks once a slice. */
void jmd_pidfd_watch(struct jmd *d, struct jmd_proc *p);
/* Closes p's pidfd, if any. */
void jmd_proc_pidfd_put(struct jmd *d, struct jmd_proc *p);
/* Keeps fd, p's segment file whose fstat is st, open in p (jmd_proc.segfd)
 * if the fd budget allows: true, else false and the caller closes it. */
bool jmd_segfd_keep(struct jmd *d, struct jmd_proc *p, int fd, const struct stat *st);
/* Makes seg's uid (as its writer sees it) the uid that owns its file st:
 * for a writer in a user namespace, through its uid_map; sets *ns_uid to
 * the header's. 0, or JM_SEG_EOWNER when it is not that uid's. known: the
 * live process of the same file, or NULL. */
int jmd_writer_uid(struct jmd *d, const struct jmd_proc *known, struct jm_seg *seg,
                   const struct stat *st, uint32_t *ns_uid);

#endif
