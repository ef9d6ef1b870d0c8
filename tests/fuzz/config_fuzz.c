/*
 * config_fuzz.c: the libFuzzer target of jmstatd's config parser. Each
 * input is a config file (docs/config.md), handed to
 * jmd_config_load_text() (config.c), which splits it into sections and
 * settings and hands them to the alert engine (alerts.c) to check and
 * commit, as a SIGHUP reload does. When it is accepted, the rules are
 * evaluated against the live processes of a real daemon (fuzzdaemon.h) for
 * a few ticks and the alerts listed, as root and as another uid. Before
 * each input the daemon goes back to a fixed config (an empty one), so that
 * an input's result does not depend on the ones before it.
 *
 * What must hold: the load returns 0 or a negative errno; a refused file
 * leaves the rules in force (the alert list is the same JSON before and
 * after); an accepted one gives an alert list that is a JSON array of
 * objects with the documented fields.
 *
 * Alert commands are never run: this file defines uv_spawn, which the
 * daemon's code links to instead of libuv's, and refuses every spawn (a
 * fuzzer that writes "command = ..." must not run what it wrote).
 */
#include "fuzzdaemon.h"

#include <errno.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jmd *daemon_state;
static unsigned long spawns_refused;

int uv_spawn(uv_loop_t *loop, uv_process_t *handle, const uv_process_options_t *options)
{
	spawns_refused++;
	return UV_EPERM;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned nlive;

	daemon_state = fuzz_daemon_start(&nlive);
	return 0;
}

static char *alerts_text(uid_t viewer)
{
	json_t *list = jmd_alerts_list(daemon_state, viewer);
	char *s;

	fuzz_require(json_is_array(list));
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *a = json_array_get(list, i);
		static const char *const keys[] = { "id", "rule", "state", "pid", "exe", "since",
		                                    "value", "threshold", "message" };

		fuzz_require(json_is_object(a));
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			fuzz_require(json_object_get(a, keys[k]) != NULL);
	}
	s = json_dumps(list, JMD_JSON_FLAGS | JSON_ENCODE_ANY);
	fuzz_require(s != NULL && strchr(s, '\n') == NULL);
	json_decref(list);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jmd *d = daemon_state;
	char *text, *before, *after;
	int rc;

	if (size > 64 * 1024)
		return 0;
	fuzz_require(jmd_config_load_text(d, "base", "") == 0);
	text = malloc(size + 1);
	fuzz_require(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	before = alerts_text(0);
	rc = jmd_config_load_text(d, "fuzz", text);
	fuzz_require(rc == 0 || (rc < 0 && rc > -4096));
	after = alerts_text(0);
	if (rc != 0) {
		/* Refused whole: what was in force stays. */
		fuzz_require(strcmp(before, after) == 0);
	} else {
		for (int t = 0; t < 3; t++) {
			jmd_tick(d);
			free(after);
			after = alerts_text(0);
			free(alerts_text(4242));
		}
	}
	free(before);
	free(after);
	free(text);
	return 0;
}
