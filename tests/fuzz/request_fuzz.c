/*
 * request_fuzz.c: the libFuzzer target of jmstatd's request parser. Each
 * input is one request line as a client sends it (the newline taken off by
 * server.c's framing), handed to jmd_request() (commands.c), which parses
 * the JSON and runs the command, twice: as root and as an unprivileged
 * uid. The daemon behind it is real (every jmstatd source but main.c): at
 * start it samples a stats directory holding valid synthetic segments of
 * live processes (pid 1 and this process, when it runs as root; itself
 * alone otherwise), so that ps, stats, bins, history and subscribe walk
 * real data (sites included). Built and run by tests/fuzz/request.test.sh.
 *
 * What must hold for every input (the protocol, README "Protocol"):
 * - a blank line has no reply; anything else has exactly one;
 * - a reply is a JSON object with "ok" a boolean and "time" a number; when
 *   ok is false, "error" is a non-empty string;
 * - it serialises to one line (no newline inside), and parses back.
 * REQUEST_FUZZ_PRINT=1 prints the replies (to see what a seed reaches).
 */
#include "jmstatd.h"
#include "segsynth.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jmd daemon_state;
static struct jmd_client client;
static char stats_dir[] = "/tmp/jm-request-fuzz.XXXXXX";
static bool print_replies;   /* REQUEST_FUZZ_PRINT=1: to see what the inputs reach */

static void require(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void write_segment(const struct synth *p)
{
	char path[256];
	size_t len;
	unsigned char *buf = synth_build(p, &len);
	int fd;

	snprintf(path, sizeof path, "%s/jmalloc.%u.stats", stats_dir, p->pid);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	require(fd >= 0 && write(fd, buf, len) == (ssize_t)len && close(fd) == 0);
	free(buf);
}

static void remove_dir(void)
{
	char path[256];

	snprintf(path, sizeof path, "%s/jmalloc.1.stats", stats_dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/jmalloc.%d.stats", stats_dir, (int)getpid());
	unlink(path);
	rmdir(stats_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct jmd *d = &daemon_state;
	struct synth self = synth_self(8, 2, 4);

	self.nsites_max = 8;      /* a site table, for the sites command */
	self.nsites_hw = 5;

	require(mkdtemp(stats_dir) != NULL);
	atexit(remove_dir);
	write_segment(&self);
	if (getuid() == 0) {
		struct synth init = synth_self(36, 4, 2);

		init.pid = 1;
		init.nsites_max = 30;
		init.nsites_hw = 30;
		init.uid = 0;
		init.start_time = synth_start_time(1);
		write_segment(&init);
	}

	d->loop = uv_default_loop();
	d->opt.stats_dir = stats_dir;
	d->opt.interval_ms = 1000;
	d->dirfd = open(stats_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	require(d->dirfd >= 0);
	require(jmd_sample_init(d) == 0);
	require(jmd_alerts_init(d) == 0);
	/* Two ticks: every process has a sample before, so rates exist. */
	jmd_tick(d);
	jmd_tick(d);
	require(d->nlive == (getuid() == 0 ? 2u : 1u));
	client.d = d;
	print_replies = getenv("REQUEST_FUZZ_PRINT") != NULL;
	return 0;
}

static void check_reply(json_t *reply)
{
	json_t *ok, *error, *again;
	char *s;

	require(reply != NULL && json_is_object(reply));
	ok = json_object_get(reply, "ok");
	require(json_is_boolean(ok));
	require(json_is_number(json_object_get(reply, "time")));
	if (json_is_false(ok)) {
		error = json_object_get(reply, "error");
		require(json_is_string(error) && json_string_length(error) > 0);
	}
	s = json_dumps(reply, JMD_JSON_FLAGS);
	require(s != NULL && strchr(s, '\n') == NULL);
	again = json_loads(s, 0, NULL);
	require(again != NULL);
	json_decref(again);
	free(s);
}

static void one(const char *line, size_t len, uid_t uid)
{
	bool blank = true;
	size_t n = len;
	json_t *reply;

	if (n && line[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++)
		if (line[i] != ' ' && line[i] != '\t')
			blank = false;
	client.uid = uid;
	client.subscribed = false;
	reply = jmd_request(&daemon_state, uid, &client, line, len);
	if (blank) {
		require(reply == NULL);
		return;
	}
	check_reply(reply);
	if (print_replies) {
		char *text = json_dumps(reply, JMD_JSON_FLAGS);
		fprintf(stderr, "uid %u: %.300s\n", (unsigned)uid, text);
		free(text);
	}
	json_decref(reply);
	/* What a subscriber gets every tick. */
	if (client.subscribed) {
		reply = jmd_update(&daemon_state, uid, client.sub_pid);
		if (reply != NULL) {
			check_reply(reply);
			json_decref(reply);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* server.c hands over a line without its newline, and never one
	 * longer than JMD_MAX_REQUEST. */
	if (size > JMD_MAX_REQUEST || memchr(data, '\n', size) != NULL)
		return 0;
	one((const char *)data, size, 0);
	one((const char *)data, size, 4242);
	return 0;
}
