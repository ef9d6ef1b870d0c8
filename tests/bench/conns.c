/*
 * conns: an event-loop server's heap, without the sockets: many client
 * connections, each holding buffers of its own for as long as it lives,
 * as memcached, redis and nginx do. Each thread is one event loop with
 * 1024 / THREADS connections (a struct of 256 bytes and its name each)
 * and, per connection,
 * a read buffer of 2 KiB grown by realloc to hold the request (doubling,
 * as redis's query buffer and memcached's rbuf grow) and shrunk back to
 * 2 KiB once it has been idle for a while (redis's clientsCron), and a
 * reply built as a list of 16 KiB blocks (redis's reply list, nginx's
 * chain of buffers) freed once sent. A request is 100 B to 64 KiB (most
 * under 1 KiB); serving it allocates a request pool (a dozen small objects
 * of 16..320 bytes: the parsed header lines, keys, a hash entry), all freed
 * at its end. One request in 64 closes its connection, which frees all
 * it holds, and a new one takes its place. So the live heap is mostly
 * idle connections' mid-sized buffers (4..64 KiB), pinned among the
 * requests' short-lived small objects: what a server's peak and resting
 * RSS are made of. Found by tests/bench/servers.py (memcached, redis,
 * nginx, node under every allocator). Each thread serves
 * 1500000 x SCALE / THREADS requests.
 */
#include "bench_main.h"

#define CONNS 1024
#define RBUF_MIN 2048
#define BLOCK (16 * 1024)

struct conn {
	char *name;          /* "client:PORT" */
	char *rbuf;          /* the read buffer */
	size_t rcap;         /* its size */
	unsigned idle;       /* visits of the cron since its last request */
	uint64_t id;
	char state[200];
};

struct loop {
	int nconns;
	long requests;
	uint64_t rng;
	uint64_t served;     /* bytes of replies, for the result line */
};

static void conn_open(struct conn *c, uint64_t id)
{
	c->id = id;
	c->name = xmalloc(24);
	snprintf(c->name, 24, "client:%llu", (unsigned long long)(id % 65536));
	c->rcap = RBUF_MIN;
	c->rbuf = xmalloc(c->rcap);
	c->idle = 0;
	memset(c->state, (int)(id & 0x7f), sizeof c->state);
}

static void conn_close(struct conn *c)
{
	if (c->state[0] != (char)(c->id & 0x7f))
		bench_fail("connection %llu: state overwritten", (unsigned long long)c->id);
	free(c->name);
	free(c->rbuf);
}

/* Most requests are small, a few are values of tens of KiB. */
static size_t request_size(uint64_t *rng)
{
	unsigned r = (unsigned)(rng_next(rng) % 100);
	if (r < 70)
		return rng_range(rng, 100, 1024);
	if (r < 95)
		return rng_range(rng, 1024, 8192);
	return rng_range(rng, 8192, 65536);
}

static void *serve(void *arg)
{
	struct loop *l = arg;
	struct conn *conns = xmalloc((size_t)l->nconns * sizeof *conns);
	uint64_t next_id = l->rng % 1000;
	for (int i = 0; i < l->nconns; i++)
		conn_open(&conns[i], next_id++);
	void *pool[16];
	size_t pool_size[16];
	char **blocks = xmalloc(8 * sizeof *blocks);
	for (long r = 0; r < l->requests; r++) {
		struct conn *c = &conns[rng_next(&l->rng) % (unsigned)l->nconns];
		/* Read: grow the buffer until the request fits. */
		size_t len = request_size(&l->rng);
		while (c->rcap < len) {
			c->rcap *= 2;
			char *nb = realloc(c->rbuf, c->rcap);
			if (nb == NULL)
				bench_fail("realloc(%zu) returned NULL", c->rcap);
			c->rbuf = nb;
		}
		memset(c->rbuf, (int)(r & 0xff), len);
		/* Parse: the request's pool of small objects. */
		int npool = (int)rng_range(&l->rng, 6, 16);
		for (int k = 0; k < npool; k++) {
			pool_size[k] = rng_range(&l->rng, 16, 320);
			pool[k] = xmalloc(pool_size[k]);
			tag_fill(pool[k], pool_size[k], (uint64_t)r * 16 + (uint64_t)k);
		}
		/* Reply: 16 KiB blocks, as many as the reply needs. */
		size_t reply = len / 2 + rng_range(&l->rng, 64, 4096);
		int nblocks = (int)((reply + BLOCK - 1) / BLOCK);
		for (int k = 0; k < nblocks && k < 8; k++) {
			size_t n = k == nblocks - 1 ? reply - (size_t)k * BLOCK : BLOCK;
			blocks[k] = xmalloc(BLOCK);
			memcpy(blocks[k], c->rbuf, n < len ? n : len);
		}
		for (int k = 0; k < nblocks && k < 8; k++)
			free(blocks[k]);
		l->served += reply;
		for (int k = 0; k < npool; k++) {
			tag_check(pool[k], pool_size[k], (uint64_t)r * 16 + (uint64_t)k);
			free(pool[k]);
		}
		c->idle = 0;
		/* The cron: one connection looked at per request; one not
		 * used since it was looked at twice gives its grown buffer back
		 * (a grown buffer's connection is reused within 2 rounds of the
		 * cron 87% of the time). */
		struct conn *o = &conns[r % l->nconns];
		if (++o->idle > 2 && o->rcap > RBUF_MIN) {
			free(o->rbuf);
			o->rcap = RBUF_MIN;
			o->rbuf = xmalloc(o->rcap);
		}
		if (rng_next(&l->rng) % 64 == 0) {
			conn_close(c);
			conn_open(c, next_id++);
		}
	}
	for (int i = 0; i < l->nconns; i++)
		conn_close(&conns[i]);
	free(blocks);
	free(conns);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	long total = scaled(1500000, scale, 2000);
	struct loop *loops = xmalloc((size_t)threads * sizeof *loops);
	for (int t = 0; t < threads; t++) {
		loops[t].nconns = CONNS / threads > 0 ? CONNS / threads : 1;
		loops[t].requests = total / threads;
		loops[t].rng = rng_seed((uint64_t)t + 77);
		loops[t].served = 0;
	}
	run_threads(threads, serve, loops, sizeof *loops);
	long served = 0;
	for (int t = 0; t < threads; t++)
		served += loops[t].requests;
	printf("conns: %ld requests served\n", served);
	free(loops);
	return 0;
}
