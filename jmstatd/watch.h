/*
 * watch.h: the directories' inotify watches, read by the daemon's loop
 * from one inotify instance.
 */
#ifndef JMSTATD_WATCH_H
#define JMSTATD_WATCH_H

#include <stdbool.h>
#include <uv.h>

struct jmd_watch;
/* A name in the directory changed (events: UV_RENAME, UV_CHANGE as
 * uv_fs_event gives them; "" for the directory itself); NULL: the kernel's
 * queue overflowed and names were lost, of any watched directory (told
 * to one watch only; a rescan finds them); status < 0: reading the
 * watches failed, and no more events come. */
typedef void (*jmd_watch_cb)(struct jmd_watch *w, const char *name, int events, int status);

struct jmd_watch {
	void *data;              /* the caller's */
	jmd_watch_cb cb;
	int wd;                  /* the instance's watch of the directory */
	bool active;             /* on the list: events are reported */
	unsigned seen;           /* dispatch's pass that told it last */
	struct jmd_watch *next;  /* the list of active watches */
};

/* 0, or a negative errno (the watch is not active). */
int jmd_watch_start(uv_loop_t *loop, struct jmd_watch *w, const char *path, jmd_watch_cb cb,
                    void *data);
/* Watches path instead (the directory was replaced); 0 or a negative errno
 * (the watch is then stopped). */
int jmd_watch_retarget(struct jmd_watch *w, const char *path);
/* No more events (at once: the memory may go after). */
void jmd_watch_stop(struct jmd_watch *w);
bool jmd_watch_active(const struct jmd_watch *w);
/* Closes the instance, every watch stopped (at the daemon's end). */
void jmd_watch_shutdown(void);

#endif
