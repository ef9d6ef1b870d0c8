/*
 * watch.c: the directories' inotify watches, on one inotify instance the
 * loop polls, as libuv's uv_fs_event keeps one a loop (an instance is a
 * file descriptor, and a user has 128 of them by default: one a
 * directory would take 64 for one user's containers). libuv drops the
 * kernel's notice that the instance's queue overflowed (IN_Q_OVERFLOW
 * comes with watch descriptor -1, which it takes for a stale watch): a
 * user who floods the stats directory with names (12,000 creations and
 * removals a second) overflowed the 16,384 queued events while a tick
 * sampled, and the names lost, among them other users' new segments,
 * waited for the periodic rescan (every 10 ticks: a root segment listed
 * after 4.8 s instead of 0.02 s). Here the overflow is reported, and the
 * caller rescans at the next tick.
 */
#include "watch.h"

#include <errno.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <unistd.h>

/* What uv_fs_event watches on Linux. */
#define WATCH_MASK (IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | \
                    IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO)
/* Reads a readable callback makes at most before it lets the loop serve
 * others (a flood keeps the instance readable). */
#define WATCH_READS 16

static int ifd = -1;
static uv_poll_t ipoll;
static struct jmd_watch *watches;   /* the active ones */

static void list_remove(struct jmd_watch *w)
{
	for (struct jmd_watch **pp = &watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->next = NULL;
	w->active = false;
}

/* Another active watch of the same directory (the kernel gives the
 * instance one descriptor a directory). */
static bool wd_shared(const struct jmd_watch *w)
{
	for (const struct jmd_watch *o = watches; o; o = o->next)
		if (o != w && o->wd == w->wd)
			return true;
	return false;
}

static void dispatch(const struct inotify_event *e)
{
	if (e->mask & IN_Q_OVERFLOW) {
		if (watches)
			watches->cb(watches, NULL, 0, 0);
		return;
	}
	int ev = 0;
	if (e->mask & (IN_ATTRIB | IN_MODIFY))
		ev |= UV_CHANGE;
	if (e->mask & ~(uint32_t)(IN_ATTRIB | IN_MODIFY))
		ev |= UV_RENAME;
	const char *name = e->len ? e->name : "";
	/* A callback may stop watches (its own or others'): start again from
	 * the head after each, past those told already (marked by a pass
	 * number). */
	static unsigned pass;
	pass++;
	for (bool again = true; again;) {
		again = false;
		for (struct jmd_watch *w = watches; w; w = w->next) {
			if (w->wd != e->wd || w->seen == pass)
				continue;
			w->seen = pass;
			w->cb(w, name, ev, 0);
			again = true;
			break;
		}
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	(void)p;
	(void)events;
	if (status < 0) {
		uv_poll_stop(&ipoll);
		while (watches) {
			struct jmd_watch *w = watches;
			list_remove(w);
			w->cb(w, "", 0, status);
		}
		return;
	}
	_Alignas(struct inotify_event) char buf[16384];
	for (int r = 0; r < WATCH_READS; r++) {
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n <= 0)
			return;   /* EAGAIN: all read */
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)q;
			q += sizeof(*e) + e->len;
			dispatch(e);
		}
	}
}

/* Watches path on the instance, w at the head of the active ones. */
static int add(struct jmd_watch *w, const char *path)
{
	if (ifd < 0)
		return -EBADF;
	w->wd = inotify_add_watch(ifd, path, WATCH_MASK);
	if (w->wd < 0)
		return -errno;
	w->active = true;
	w->next = watches;
	watches = w;
	return 0;
}

int jmd_watch_start(uv_loop_t *loop, struct jmd_watch *w, const char *path, jmd_watch_cb cb,
                    void *data)
{
	w->active = false;
	w->next = NULL;
	w->seen = 0;
	w->cb = cb;
	w->data = data;
	if (ifd < 0) {
		ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ifd < 0)
			return -errno;
		int rc = uv_poll_init(loop, &ipoll, ifd);
		if (rc == 0)
			rc = uv_poll_start(&ipoll, UV_READABLE, on_readable);
		if (rc != 0) {
			/* Not initialised, or closed at once: never used again. */
			close(ifd);
			ifd = -2;
			return rc;
		}
	}
	return add(w, path);
}

int jmd_watch_retarget(struct jmd_watch *w, const char *path)
{
	if (ifd < 0)
		return -EBADF;
	if (w->active) {
		list_remove(w);
		if (!wd_shared(w))
			(void)inotify_rm_watch(ifd, w->wd);
	}
	return add(w, path);
}

void jmd_watch_stop(struct jmd_watch *w)
{
	if (!w->active)
		return;
	list_remove(w);
	if (ifd >= 0 && !wd_shared(w))
		(void)inotify_rm_watch(ifd, w->wd);
}

bool jmd_watch_active(const struct jmd_watch *w)
{
	return w->active;
}

void jmd_watch_shutdown(void)
{
	while (watches)
		jmd_watch_stop(watches);
	if (ifd >= 0) {
		uv_close((uv_handle_t *)&ipoll, NULL);
		close(ifd);
	}
	ifd = -1;
}
