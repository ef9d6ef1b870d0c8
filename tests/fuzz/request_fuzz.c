/*
 * request_fuzz.c: the libFuzzer target of jmstatd's request parser. Each
 * input is one request line as a client sends it (the newline taken off by
 * server.c's framing), handed to jmd_request() (commands.c), which parses
 * the JSON and runs the command, twice: as root and as an unprivileged
 * uid. The daemon behind it is real (fuzzdaemon.h): it samples valid
 * synthetic segments of live processes, so that ps, stats, bins, history,
 * sites and subscribe walk real data. Built and run by
 * tests/fuzz/request.test.sh.
 *
 * What must hold for every input (the protocol, docs/protocol.md):
 * - a blank line has no reply; anything else has exactly one;
 * - a reply is a JSON object with "ok" a boolean and "time" a number; when
 *   ok is false, "error" is a non-empty string;
 * - it serialises to one line (no newline inside), and parses back.
 * REQUEST_FUZZ_PRINT=1 prints the replies (to see what a seed reaches).
 */
#include "fuzzdaemon.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jmd *daemon_state;
static struct jmd_client client;
static bool print_replies;   /* REQUEST_FUZZ_PRINT=1: to see what the inputs reach */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned nlive;

	daemon_state = fuzz_daemon_start(&nlive);
	client.d = daemon_state;
	print_replies = getenv("REQUEST_FUZZ_PRINT") != NULL;
	return 0;
}

static void check_reply(json_t *reply)
{
	json_t *ok, *error, *again;
	char *s;

	fuzz_require(reply != NULL && json_is_object(reply));
	ok = json_object_get(reply, "ok");
	fuzz_require(json_is_boolean(ok));
	fuzz_require(json_is_number(json_object_get(reply, "time")));
	if (json_is_false(ok)) {
		error = json_object_get(reply, "error");
		fuzz_require(json_is_string(error) && json_string_length(error) > 0);
	}
	s = json_dumps(reply, JMD_JSON_FLAGS);
	fuzz_require(s != NULL && strchr(s, '\n') == NULL);
	again = json_loads(s, 0, NULL);
	fuzz_require(again != NULL);
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
	client.viewer = uid;
	client.who = uid;
	client.subscribed = false;
	reply = jmd_request(daemon_state, uid, &client, line, len);
	if (blank) {
		fuzz_require(reply == NULL);
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
		reply = jmd_update(daemon_state, uid, client.sub_pid);
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
