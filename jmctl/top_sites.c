/*
 * top_sites.c: the sites panel of `jmctl top`'s bins view.
 *
 * Enter on a bin asks jmstatd for the stats of the processes wasting the
 * most in that size class and for their sampled sites (symbolized as the
 * calling user), and ranks the sites by the share of their process's
 * waste in the class that their live bytes there hold (jm_top_load_sites); the
 * frame then shows them below the table (jm_top_add_sites).
 */
#include "top.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sites panel below the bins: each site with the bytes it keeps
 * wasted in the bin, its live bytes there, its process, and its frames,
 * as many as it takes to tell it from the other sites shown (at least
 * SITES_MIN_FRAMES). */
#define SITES_MIN_FRAMES 4
#define SITES_MAX_FRAMES 16

void jm_top_add_sites(struct top *t, struct frame *f)
{
	char a[24], b[24], c[24], text[LINE_MAX_BYTES - 16], other[LINE_MAX_BYTES - 16];
	json_t *e, *e2;
	size_t i, i2;

	jm_top_frame_add(f, LINE_PLAIN, "%s", "");
	jm_top_frame_add(f, LINE_BOLD, "Sites behind the %lld-byte bin, by the bytes they keep wasted in it "
	          "(estimated; Enter closes)", t->sites_size);
	if (t->sites_note[0])
		jm_top_frame_add(f, LINE_PLAIN, "  %s", t->sites_note);
	json_array_foreach(t->sites, i, e) {
		json_t *frames = json_object_get(json_object_get(e, "site"), "frames"), *fr;
		size_t j, nframes = json_array_size(frames), need = SITES_MIN_FRAMES;

		/* The first frame where it differs from each other site, plus one. */
		json_array_foreach(t->sites, i2, e2) {
			json_t *of = json_object_get(json_object_get(e2, "site"), "frames");
			size_t k = 0;

			if (i2 == i)
				continue;
			for (; k < nframes && k < json_array_size(of); k++) {
				jm_frame_text(text, sizeof text, json_array_get(frames, k));
				jm_frame_text(other, sizeof other, json_array_get(of, k));
				if (strcmp(text, other) != 0)
					break;
			}
			if (k + 1 > need)
				need = k + 1;
		}
		if (need > SITES_MAX_FRAMES)
			need = SITES_MAX_FRAMES;
		jm_top_frame_add(f, LINE_PLAIN, "  %s wasted, %s live in this bin (%s in all)  pid %lld (%.32s)",
		          jm_fmt_bytes(a, sizeof a, jm_num(e, "wasted")),
		          jm_fmt_bytes(b, sizeof b, jm_num(e, "bytes")),
		          jm_fmt_bytes(c, sizeof c, jm_num(json_object_get(e, "site"), "live_bytes")),
		          jm_int(e, "pid"), jm_str(e, "exe"));
		json_array_foreach(frames, j, fr) {
			if (j == need) {
				jm_top_frame_add(f, LINE_PLAIN, "      ... %zu more", nframes - j);
				break;
			}
			jm_frame_text(text, sizeof text, fr);
			jm_top_frame_add(f, LINE_PLAIN, "      %s", text);
		}
	}
}

static int by_entry_wasted(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	double x = jm_num(a, "wasted"), y = jm_num(b, "wasted");

	if (x == y) {
		x = jm_num(a, "bytes");
		y = jm_num(b, "bytes");
	}
	return (x < y) - (x > y);
}

/* One process's part in the selected bin: its wasted and live bytes there. */
struct bin_share {
	long pid;
	double wasted, live;
};

static int by_share_wasted(const void *pa, const void *pb)
{
	double x = ((const struct bin_share *)pa)->wasted, y = ((const struct bin_share *)pb)->wasted;

	return (x < y) - (x > y);
}

/* Fetches the sites behind the selected bin: the -p (or opened) process,
 * or, of every process, the SITES_PROCS wasting the most in that bin
 * (their stats, among the SITES_CANDIDATES wasting the most in small
 * runs). A site's wasted bytes: its process's waste in the bin times the
 * share of the bin's live bytes that the site holds. */
#define SITES_CANDIDATES 16
#define SITES_PROCS 8
#define SITES_SHOWN 5
void jm_top_load_sites(struct top *t)
{
	json_t *procs = json_object_get(t->last, "processes");
	json_t **v, *all = json_array();
	struct bin_share share[SITES_CANDIDATES];
	size_t n, np = 0, i;
	char warn[256];
	struct jm_client c;

	json_decref(t->sites);
	t->sites = NULL;
	t->sites_note[0] = '\0';
	t->sites_size = t->selected_size;
	/* Other users' processes are symbolized in children (sites.c): 10 s
	 * for this panel in all, a uid once too slow not tried again. */
	jm_run_as_budget(JM_RUN_AS_MS);
	/* Errors are told in the panel: the client's messages to stderr
	 * would land on the curses screen. */
	int saved = dup(STDERR_FILENO), nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved >= 0 && nul >= 0)
		dup2(nul, STDERR_FILENO);
	if (nul >= 0)
		close(nul);
	int err = jm_client_open(&c, t->o->socket);

	if (err) {
		snprintf(t->sites_note, sizeof t->sites_note, "cannot reach jmstatd: %s", strerror(-err));
		goto restore;
	}
	if (t->pid) {
		share[np++] = (struct bin_share){ t->pid, 0, 0 };
	} else {
		v = jm_array_items(procs, &n);
		jm_sort_json(v, n, jm_sort_find(jm_proc_sort_keys, "wasted"), "pid", false);
		for (i = 0; i < n && np < SITES_CANDIDATES; i++)
			if (jm_num(v[i], "small_wasted") > 0)
				share[np++] = (struct bin_share){ (long)jm_int(v[i], "pid"), 0, 0 };
		free(v);
	}
	/* Each candidate's waste in the bin, from its stats. */
	for (i = 0; i < np; i++) {
		json_t *req = json_pack("{s:s,s:I}", "cmd", "stats", "pid", (json_int_t)share[i].pid);
		json_t *r = NULL, *b;
		size_t k;

		if (jm_client_call(&c, req, &r, false) == 0) {
			json_array_foreach(json_object_get(r, "bins"), k, b)
				if (jm_int(b, "size") == t->sites_size) {
					share[i].wasted = jm_num(b, "wasted_bytes");
					share[i].live = jm_num(b, "inuse") * (double)t->sites_size;
				}
		}
		json_decref(req);
		json_decref(r);
	}
	qsort(share, np, sizeof(share[0]), by_share_wasted);
	if (!t->pid) {
		size_t keep = 0;

		while (keep < np && keep < SITES_PROCS && share[keep].wasted > 0)
			keep++;
		np = keep;
	}
	for (i = 0; i < np; i++) {
		json_t *raw, *sym, *site;
		size_t j;

		err = jm_sites_fetch(&c, share[i].pid, &raw);
		if (err) {
			snprintf(t->sites_note, sizeof t->sites_note,
			         "cannot read the sites of pid %ld: %s", share[i].pid, strerror(-err));
			continue;
		}
		sym = jm_sites_symbolize(raw, share[i].pid, t->sites_size, SITES_SHOWN, warn, sizeof warn);
		json_decref(raw);
		if (!sym)
			continue;
		if (warn[0])
			snprintf(t->sites_note, sizeof t->sites_note, "%s", warn);
		json_array_foreach(json_object_get(sym, "sites"), j, site) {
			json_t *bins = json_object_get(site, "bins"), *bin;
			size_t k;
			double bytes = 0, wasted;

			json_array_foreach(bins, k, bin)
				if (jm_int(bin, "size") == t->sites_size)
					bytes = jm_num(bin, "live_bytes");
			wasted = share[i].live > 0 ? share[i].wasted * bytes / share[i].live : 0;
			if (wasted > share[i].wasted)
				wasted = share[i].wasted;
			json_array_append_new(all, json_pack("{s:I,s:s,s:f,s:f,s:O}", "pid",
			                                     (json_int_t)share[i].pid, "exe", jm_str(sym, "exe"),
			                                     "bytes", bytes, "wasted", wasted, "site", site));
		}
		json_decref(sym);
	}
	jm_client_close(&c);
	v = jm_array_items(all, &n);
	if (n > 1)
		qsort(v, n, sizeof *v, by_entry_wasted);
	t->sites = json_array();
	for (i = 0; i < n && i < SITES_SHOWN; i++)
		json_array_append(t->sites, v[i]);
	free(v);
	if (n == 0 && !t->sites_note[0])
		snprintf(t->sites_note, sizeof t->sites_note, np == 0 && !t->pid ?
		         "no process wastes bytes in this bin" :
		         "no sampled site holds this bin (sampling off, or nothing sampled yet)");
restore:
	json_decref(all);
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
}
