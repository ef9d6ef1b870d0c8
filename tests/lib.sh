# tests/lib.sh: the one harness every shell test sources
# (`. "$(dirname "$0")/../lib.sh"`) to start the real jmstatd and real
# programs under the allocator, wait for what it needs and report. One
# name per thing; everything a test starts here is stopped when it exits.
#
# Reporting
#   ok MSG                 prints "ok - MSG"
#   fail MSG               prints "FAIL: MSG" (and the end of jmstatd's log,
#                          if one was written), exits 1
#   skip WHY               prints WHY as the last line, exits 77 (skipped)
#   at_exit CMD            runs CMD (eval) when the test exits, before the
#                          processes started here are stopped
# What a test needs (each skips, saying why, when it is missing)
#   need_cmd CMD...        every CMD is installed
#   need_lib               liballoc/libjmalloc.so is built (with jm_malloc)
#   need_jmctl             jmctl/jmctl is built
#   need_segments          jmstatd, the allocator and the helpers are built
#                          and a preloaded process writes its stats segment
#   need_users WHY         root, and setpriv to run processes as other
#                          users (WHY: "run processes as nobody", ...)
#   need_unshare           root, and unshare can make the containers of
#                          tests/containers (jmd.py's can_unshare: a pid,
#                          mount and ipc namespace, /proc mounted anew)
#   need_cgroup_base       a cgroup of the test's own, $base (under the
#                          cgroup2 mount $cg2), its processes killed and
#                          its cgroups removed at exit
#   need_ns_last_pid       the next pid can be chosen (jmd.py's start_at)
#   need_scope             need_unshare, need_users, need_segments, nsenter;
#                          daemon_holder and tests/containers/scope_client.py
#                          (as inner.py) in $JM_TMP/pub, for jmd.py's
#                          ScopeClients (the socket-scope tests)
#   need_sites             need_segments, need_jmctl, cc, and the allocator
#                          publishes sampled sites
#   need_promtool          Prometheus's promtool
#   need_faketime          libfaketime; JMSTATD becomes jmstatd under it,
#                          its wall clock only, offset by the line of
#                          $JM_TMP/faketime (+0 first; "+2h", "-2h" step it)
#   need_pprof             go tool pprof (offline, its caches under $JM_TMP)
#                          and curl; tests/pprof (profile.py) on python's path
#   need_upstream_pprof    need_pprof, and google/pprof built from Debian's
#                          source as $PPROF
#   plain_only WHY         skips under a sanitizer (JM_SANITIZED) a test
#                          that runs neither jmstatd nor jmctl, the
#                          programs SANITIZE builds: the plain run ran the
#                          same binaries (WHY: what it runs instead)
# The daemon: $JMSTATD on $JMD_SOCK ($JM_TMP/run/jmstatd.sock), stats dir
# $JMD_STATS ($JM_TMP/shm, mode 1777), interval $JMD_INTERVAL ms (200), its
# output in $JMD_LOG (as under journald: no timestamps); all exported.
#   jmd_start [ARGS...]    starts it (ARGS added to those), waits for its
#                          socket; sets JMD_PID, and with --metrics also
#                          JMD_URL (http://HOST:PORT, from its log line)
#   jmd_wait_socket        waits until $JMD_SOCK accepts a connection ($JM_WAIT s, 20 at least)
#   wait_socket PATH [PID] the same for another daemon's socket PATH, while PID lives
#   jmd_stop               SIGTERM; fails unless it exits 0 and removes its
#                          socket
#   jmd_py ARGS...         python3 with tests/daemon (jmd.py) and
#                          tests/alerts (alib.py) on its path
#   pub_py ARGS...         jmd_py with JMALLOC_LIB and JM_HELPERS those
#                          jm_public put in $JM_TMP/pub
# Processes
#   pid_ahead              a free pid some 400 ahead of the last given out,
#                          for jmd.py's start_at (a pid's reuse staged)
#   cgroup_delegate UID DIR...  cgroups handed to UID as systemd delegates
#   container_id           a random container id (64 hex digits)
#   jmd_gdb_stage BREAK BEFORE AFTER  jmstatd stopped by gdb at BREAK
#                          (after the shell command BEFORE), AFTER run
#                          meanwhile, then let go; jmd_gdb_stopped FN
#                          fails unless it stopped in FN
#   gdb_watched ARGS...    gdb -batch -nx ARGS (output in $JM_TMP/gdb.out),
#                          given up after $JM_GDB_WAIT s (60): jmd_gdb_stage's
#                          watchdog, for a staging of more steps
#   start_preloaded PROG [ARGS...]   runs PROG under the allocator,
#                          publishing into $JMD_STATS, stdin from $STDIN
#                          (default /dev/null), output in $LAST_OUT; waits
#                          for its segment; sets LAST_PID. PROG itself must
#                          be $1 (no `env` or `sh -c` in front: a preloaded
#                          wrapper would own the pid's segment).
#   start_ready PROG [ARGS...]       start_preloaded, then waits for the
#                          program's line "ready" and wait_sampled
#   jm_segment DIR PID     prints the path of PID's segment in DIR (either
#                          form of its name); fails, printing nothing,
#                          without one. $JM_SEG_RE matches either form.
#   jm_segment_name PID    the name the allocator gives PID's segment
#   claim_uid              sets CLAIMED_UID to a uid (no passwd entry needed)
#                          that no other test running now uses, so that its
#                          fixed paths (/tmp/jmstatd-UID, the private
#                          socket of a user's jmstatd) are this test's alone;
#                          released, and /tmp/jmstatd-UID removed, on exit
#   jm_public FILE...      copies the allocator and each FILE into
#                          $JM_TMP/pub, where another user can run them
#                          ($JM_TMP and pub 755)
#   nobody_pub FILE...     jm_public, pub ($P) writable by all (1777), and
#                          NOBODY=(setpriv ... as nobody)
#   build_c OUT SRC [CFLAGS...]      cc -O2 -g (no frame pointers forced)
#   build_holders OUT      tests/sites/holders.c, -O2, no frame pointers
#   named_sites_c FILE OUTER INNER [fragment]
#                          a C program whose one site has the frames INNER
#                          and OUTER (names to show: wide, long, escaped)
# Waiting (each for $JM_WAIT s at most, 60, then fails saying what it saw)
#   wait_seen PID [COND]   jmstatd lists PID (and the python expression COND
#                          over the process p holds, e.g. "p['allocated'] > 0")
#   wait_sampled PID       wait_seen, then a sample of PID taken after the
#                          call (all the program did before it, seen)
#   wait_line FILE RE      a line of FILE matches RE (grep)
# Clients
#   sites_json PID         jmctl --json sites PID -n 1000
#   http_get PATH [OUT]    GET $JMD_URL$PATH into OUT; prints the status
#   pprof_top SRC [OPT...] `pprof -top -unit=B` of a file or URL as JSON
#                          {function: [flat, cum]}
#   tmux_start NAME W H CMD   CMD in a W x H terminal (tmux session "top" of
#                          server NAME; "${T[@]}" is the tmux command);
#                          wait_pane RE [TRIES] waits until it shows RE
#                          (the screen in pane.txt); at exit, tmux_stop
#                          ends the panes' programs (SIGTERM), then the
#                          server
#   blocking_command [KEY [FREE]]  writes $JM_TMP/cmd.sh, an alert command
#                          that logs "start UID ID" and "end UID ID" in
#                          $CMDLOG on firing and, for a process not root's,
#                          waits for the file $RELEASE in between (2 min at
#                          most); KEY another JMALLOC_ALERT_ variable than
#                          UID, FREE its value that does not wait (0)
#   frag_rule_start [SET...] jmstatd with one fragmentation rule (frag:
#                          over 50% and 1 MiB, for 200 ms, the SETtings)
#                          whose command is blocking_command's
#   nobody_frags N         N of nobody's jm_public demo_fragment
#                          processes, published; pids in nobody_pids
#   alert_recorder DIR     writes $JM_TMP/notify.sh, an alert command that
#                          records each notification's JMALLOC_ALERT_*
#                          variables in DIR/RULE.ID.STATE (whole, renamed
#                          into place)
#   rule NAME KIND [SETTING...]   prints a config's [rule NAME] section:
#                          kind = KIND, then each SETTING ("key = value")
#   run_stress CONF PROG [ARGS...]   the helper PROG under the allocator
#                          with JMALLOC_CONF=CONF; fails unless it exits 0
#                          having printed "PROG: allocator jmalloc" and
#                          "PROG: OK" (tests/helpers/stress_*.c)
#   jm_compare NAME CMD... CMD without the allocator, then with it, each in
#                          its own empty directory ($JM_TMP/NAME.plain,
#                          $JM_TMP/NAME.jm); fails unless both exit 0 with
#                          the same stdout (its directory replaced by DIR)
#   jm_proof NAME PROG...  fails unless, in jm_compare's preloaded run of
#                          NAME, the dynamic linker bound malloc & co of
#                          every PROG to libjmalloc.so and nowhere else
#                          (from LD_DEBUG=bindings)
#   $PYFMT                 jmctl's human units in python (format.c), for
#                          checking what it prints

set -u
: "${JM_TMP:?run me through make check (tests/runner.sh)}" "${JM_ROOT:?}"

JMD_SOCK=$JM_TMP/run/jmstatd.sock
JMD_STATS=$JM_TMP/shm
JMD_INTERVAL=200
JMD_LOG=$JM_TMP/jmstatd.log
JMD_PID=
JMD_URL=
LAST_PID=
LAST_OUT=
PIDS=()
JM_AT_EXIT=()
# How long lib.sh's waits poll for their condition before they fail (or
# skip): a bound on a hang, which a test that passes never meets, long
# enough for a sanitized daemon's or a process's start on a loaded
# machine. They were 100 polls of 0.1 s or less: 5-10 s at rest.
JM_WAIT=${JM_WAIT:-60}
export JMD_SOCK JMD_STATS JMD_INTERVAL
mkdir -p "$JMD_STATS" "$JM_TMP/run"
chmod 1777 "$JMD_STATS"
chmod 0755 "$JM_TMP/run"

# ---------------------------------------------------------------- reporting
ok()   { echo "ok - $*"; }
skip() { echo "$*"; exit 77; }
fail() {
	echo "FAIL: $*" >&2
	if [ -s "$JMD_LOG" ]; then
		echo "--- jmstatd log:" >&2
		tail -n 50 "$JMD_LOG" >&2
	fi
	exit 1
}
at_exit() { JM_AT_EXIT+=("$1"); }

# On exit: the test's own clean-up, then the daemon (killed: jmd_stop is
# where a test checks its clean exit), then every process started here
# (SIGTERM, and SIGKILL for those still there 2 s later).
jm_cleanup() {
	local c p
	for c in "${JM_AT_EXIT[@]}"; do eval "$c"; done
	# Reaped at once, so that bash's "Killed" line for it is not the last
	# of the output (the runner shows a skipped test's last line as why).
	[ -n "$JMD_PID" ] && { kill -KILL "$JMD_PID" 2>/dev/null; wait "$JMD_PID" 2>/dev/null; }
	local all=("${PIDS[@]}" $(jobs -p))
	for p in "${all[@]}"; do kill -TERM "$p" 2>/dev/null; done
	local alive=1
	for _ in $(seq 20); do
		alive=0
		for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && { alive=1; break; }; done
		[ $alive = 1 ] || break
		sleep 0.1
	done
	for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	return 0
}
trap jm_cleanup EXIT

# ------------------------------------------------------------------- needs
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

need_lib() {
	[ -f "${JMALLOC_LIB:-}" ] || skip "liballoc/libjmalloc.so is not built"
	nm -D --defined-only "$JMALLOC_LIB" 2>/dev/null | grep -q ' jm_malloc$' ||
		skip "$JMALLOC_LIB does not define jm_malloc"
}

# need_static_lib: a static program can be linked with the allocator
# (libjmalloc.a built, a libc.a); sets lib to the archive.
need_static_lib() {
	need_cmd cc
	lib=$JM_ROOT/liballoc/libjmalloc.a
	[ -f "$lib" ] || skip "liballoc/libjmalloc.a is not built"
	printf 'int main(void) { return 0; }\n' >"$JM_TMP/t.c"
	cc -static -o "$JM_TMP/t" "$JM_TMP/t.c" 2>/dev/null || skip "cc -static does not link here (no libc.a)"
}

plain_only() {
	[ -z "${JM_SANITIZED:-}" ] || skip "nothing sanitized to run ($*): the plain make check ran it"
}

need_jmctl() {
	[ -x "${JMCTL:-}" ] || skip "jmctl/jmctl is not built"
}

need_segments() {
	[ -x "${JMSTATD:-}" ] || skip "jmstatd/jmstatd is not built"
	need_lib
	local h
	for h in daemon_holder demo_fragment; do
		[ -x "${JM_HELPERS:-}/$h" ] || skip "the helper $h is not built (make tests)"
	done
	local probe=$JM_TMP/probe
	mkdir -p "$probe"
	# A probe that lives until it is seen (or $JM_WAIT s): one that exited
	# after 1 s could be gone before a loaded machine had it write its
	# file, and every test calling this was skipped.
	JMALLOC_STATS_DIR=$probe LD_PRELOAD=$JMALLOC_LIB sleep $((JM_WAIT + 5)) &
	local pid=$! end=$((SECONDS + JM_WAIT))
	while [ $SECONDS -lt $end ]; do
		jm_segment "$probe" "$pid" >/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.025
	done
	local found=no
	jm_segment "$probe" "$pid" >/dev/null && found=yes
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	rm -rf "$probe"
	[ $found = yes ] ||
		skip "the allocator does not write stats segments (none from a preloaded sleep)"
}

need_users() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to $1"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
}

# need_cgroup_base: sets cg2 (the cgroup2 hierarchy's mount) and base, a
# cgroup of the test's own under it in which containers' cgroups are made,
# removed with everything under it at exit; skips where none can be made.
# The processes in it are the test's: killed first at exit (at_exit runs
# before the harness stops them, and a cgroup with a process cannot be
# removed), again until none is left.
need_cgroup_base() {
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[ -n "$cg2" ] || skip "no cgroup2 hierarchy mounted: cannot make a container's cgroup"
	base=$cg2/jmtest-$$.slice
	mkdir "$base" 2>/dev/null || skip "cannot make a cgroup under $cg2"
	at_exit cleanup_cgroup_base
}
cleanup_cgroup_base() {
	local _ pids
	for _ in $(seq 50); do
		pids=$(find "$base" -name cgroup.procs -exec cat {} + 2>/dev/null)
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
		find "$base" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$base" ] || return 0
		sleep 0.1
	done
}

# cgroup_delegate UID DIR...: each cgroup DIR handed to UID as systemd
# delegates user@UID.service (and a unit's subtree with Delegate=): the
# directory and its files for moving processes and enabling controllers.
cgroup_delegate() {
	local uid=$1 d
	shift
	for d in "$@"; do
		chown "$uid:$uid" "$d" "$d/cgroup.procs" "$d/cgroup.threads" "$d/cgroup.subtree_control" ||
			fail "cannot delegate $d to $uid"
	done
}

# container_id: prints a random container id (64 hex digits, as runtimes
# name their cgroups: docker-ID.scope, cri-containerd-ID.scope).
container_id() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }

# jmd_gdb_stage BREAK BEFORE AFTER: a race staged without timing. gdb,
# attached to jmstatd, sets the breakpoint BREAK (break's arguments: FN
# [if COND]), runs the shell command BEFORE (what brings the daemon
# there), waits for the stop, runs AFTER (the other side of the race,
# while the daemon stands still), then lets it go (detach). Its output in
# $JM_TMP/gdb.out, for jmd_gdb_stopped; the caller judges first whether
# its own side was staged (a skip when pids were taken meanwhile).
# A staging of more steps (two breakpoints, a program run under gdb)
# calls gdb_watched with its own commands.
jmd_gdb_stage() {
	gdb_watched -p "$JMD_PID" -ex "break $1" -ex "shell $2" -ex continue -ex "shell $3" -ex detach
}

# gdb_watched ARGS...: gdb -batch -nx ARGS, its output in $JM_TMP/gdb.out,
# under a watchdog. A staging that gives up (its pid taken meanwhile by
# other work, a breakpoint never reached) never brings the program to
# its breakpoint, and gdb's continue, or a shell command waiting for its
# other side, would wait until the test's timeout: after JM_GDB_WAIT
# seconds (60) the watchdog ends what gdb runs (its shell commands; a
# program run under gdb too) and interrupts gdb (SIGINT: an attached
# program stopped, the signal not passed on), every 5 s until gdb is
# done (a line each in $JM_TMP/gdb.watchdog); the caller then skips or
# fails on what gdb.out shows.
gdb_watched() {
	gdb -batch -nx "$@" >"$JM_TMP/gdb.out" 2>&1 &
	local g=$! w
	(
		for _ in $(seq "${JM_GDB_WAIT:-60}"); do sleep 1; done
		while kill -0 "$g" 2>/dev/null; do
			echo "gdb still staging after ${JM_GDB_WAIT:-60} s: interrupted" >>"$JM_TMP/gdb.watchdog"
			pkill -KILL -P "$g" 2>/dev/null
			kill -INT "$g" 2>/dev/null
			sleep 5
		done
	) &
	w=$!
	wait "$g" || true
	kill "$w" 2>/dev/null
	wait "$w" 2>/dev/null || true
}

# jmd_gdb_stopped FN: fails unless jmd_gdb_stage stopped the daemon in FN.
jmd_gdb_stopped() {
	grep -q "Breakpoint 1, $1 " "$JM_TMP/gdb.out" ||
		fail "gdb did not stop the daemon at $1: $(tail -5 "$JM_TMP/gdb.out")"
}

# need_ns_last_pid: the pid the next process gets can be chosen (root
# writes /proc/sys/kernel/ns_last_pid): for jmd.py's start_at.
need_ns_last_pid() {
	[ -w /proc/sys/kernel/ns_last_pid ] || skip "cannot write /proc/sys/kernel/ns_last_pid"
}

# pid_ahead: prints a pid that no process or thread has now, some 400
# ahead of the last given out (ns_last_pid): far enough that the pids
# other work on the machine takes meanwhile rarely reach it before
# jmd.py's start_at takes it.
pid_ahead() {
	local max n i
	max=$(cat /proc/sys/kernel/pid_max)
	n=$(( $(cat /proc/sys/kernel/ns_last_pid) + 400 ))
	for i in $(seq 1000); do
		[ "$n" -lt "$max" ] || n=300
		[ -e "/proc/$n" ] || { echo "$n"; return 0; }
		n=$((n + 1))
	done
	fail "no pid free ahead of $(cat /proc/sys/kernel/ns_last_pid)"
}

need_unshare() {
	local why
	why=$(jmd_py -c 'from jmd import *; print(can_unshare() or "")')
	[ -z "$why" ] || skip "$why"
}

need_sites() {
	need_segments
	need_jmctl
	command -v cc >/dev/null || skip "no C compiler (cc) to build the test program"
	grep -q sample_bytes "$JM_ROOT/liballoc/include/jmstat.h" ||
		skip "the allocator publishes no site table (jmstat.h has no sample_bytes)"
}

need_faketime() {
	local ftlib
	ftlib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
	if [ -z "$ftlib" ]; then
		[ "${CI:-}" = true ] && fail "libfaketime is not installed (Debian package faketime, packages/test.list)"
		skip "libfaketime is not installed (Debian package faketime): cannot step jmstatd's clock"
	fi
	echo "+0" >"$JM_TMP/faketime"
	# The monotonic and boot clocks stay real (FAKETIME_DONT_FAKE_MONOTONIC);
	# the offset file is read at every call. ASan, in a sanitized build,
	# wants its runtime first of the libraries loaded: libfaketime before
	# it is harmless here.
	cat >"$JM_TMP/jmstatd-faketime" <<EOF
#!/bin/sh
LD_PRELOAD=$ftlib FAKETIME_TIMESTAMP_FILE=$JM_TMP/faketime FAKETIME_NO_CACHE=1 \\
FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0 \\
exec "$JMSTATD" "\$@"
EOF
	chmod +x "$JM_TMP/jmstatd-faketime"
	JMSTATD=$JM_TMP/jmstatd-faketime
}

need_promtool() {
	command -v promtool >/dev/null ||
		skip "promtool not installed (Debian package prometheus): ${1:-cannot check}"
}

need_pprof() {
	need_cmd curl
	export PYTHONPATH=$JM_ROOT/tests/pprof
	command -v go >/dev/null || skip "go is not installed (Debian: golang-go) for go tool pprof"
	export HOME=$JM_TMP/home GOCACHE=$JM_TMP/gocache GOPATH=$JM_TMP/gopath GOFLAGS= \
		GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
	mkdir -p "$HOME"
	go tool pprof -h >/dev/null 2>&1 || skip "go tool pprof does not run here"
}

# Builds google/pprof's own pprof (Debian: golang-github-google-pprof-dev,
# offline, GOPATH mode) as $PPROF. Go's bundled `go tool pprof` does not
# read build-ids from local files (its object reader reports none), so it
# never takes a binary found by build-id under PPROF_BINARY_PATH: upstream
# pprof does.
need_upstream_pprof() {
	need_pprof
	local src=/usr/share/gocode/src/github.com/google/pprof
	[ -f "$src/pprof.go" ] || skip "google/pprof's source is not installed (Debian: golang-github-google-pprof-dev)"
	PPROF=$JM_TMP/pprof
	GOPATH=/usr/share/gocode GO111MODULE=off go build -o "$PPROF" github.com/google/pprof ||
		fail "cannot build google/pprof from $src"
}

# -------------------------------------------------------------- the daemon
jmd_wait_socket() {
	wait_socket "$JMD_SOCK" "${JMD_PID:-0}"
}

# wait_socket PATH [PID]: waits until a connection to the socket PATH is
# accepted (its file is there from bind(), before listen(): a client
# then is refused), while PID, if given, lives; fails after $JM_WAIT s.
wait_socket() {
	python3 - "$1" "${2:-0}" "$JM_WAIT" <<'EOF' || fail "jmstatd did not come up on $1"
import os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + max(20, int(sys.argv[3]))
while time.monotonic() < deadline:
    if pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit("jmstatd exited at start")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)     # a stale socket file does not count
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
    finally:
        s.close()
sys.exit("timed out")
EOF
}

# The log is written as the journal would take it (JOURNAL_STREAM names
# it): without timestamps, so that tests match lines from "jmstatd: ".
# tests/daemon/cmdline.test.sh checks the stamped lines of a daemon run by
# hand.
jmd_start() {
	: >>"$JMD_LOG"
	local from a metrics=no
	from=$(wc -l <"$JMD_LOG")
	for a in "$@"; do [ "$a" = --metrics ] && metrics=yes; done
	JOURNAL_STREAM=$(stat -c '%d:%i' "$JMD_LOG") \
	"$JMSTATD" --socket "$JMD_SOCK" --stats-dir "$JMD_STATS" --interval "$JMD_INTERVAL" "$@" \
		>>"$JMD_LOG" 2>&1 &
	JMD_PID=$!
	jmd_wait_socket
	JMD_URL=
	[ $metrics = yes ] || return 0
	local end=$((SECONDS + JM_WAIT))
	while [ $SECONDS -lt $end ]; do
		JMD_URL=$(tail -n +"$((from + 1))" "$JMD_LOG" |
			sed -n 's|.*serving \(http://[^/ ]*\)/metrics.*|\1|p' | head -n 1)
		[ -n "$JMD_URL" ] && return 0
		sleep 0.1
	done
	fail "jmstatd did not say where it serves --metrics within $JM_WAIT s"
}

jmd_stop() {
	[ -n "$JMD_PID" ] || return 0
	kill -TERM "$JMD_PID"
	local rc=0
	wait "$JMD_PID" || rc=$?
	JMD_PID=
	[ "$rc" -eq 0 ] || fail "jmstatd exited with status $rc after SIGTERM"
	[ ! -e "$JMD_SOCK" ] || fail "jmstatd left its socket $JMD_SOCK behind"
}

jmd_py() {
	PYTHONPATH=$JM_ROOT/tests/daemon:$JM_ROOT/tests/alerts python3 "$@"
}

# pub_py ARGS: jmd_py with the library and helpers that jm_public put in
# $JM_TMP/pub (where other users, and containers' roots, may run them).
pub_py() {
	JMALLOC_LIB=$JM_TMP/pub/libjmalloc.so JM_HELPERS=$JM_TMP/pub jmd_py "$@"
}

# need_scope: what the socket-scope tests (tests/containers/socket_scope,
# hostpid_socket: jmd.py's ScopeClients) need: containers, nobody,
# segments and nsenter (else a skip); daemon_holder published, and the
# socket client (tests/containers/scope_client.py) beside it as inner.py.
need_scope() {
	need_unshare
	need_users "run processes as nobody"
	need_segments
	command -v nsenter >/dev/null || skip "no nsenter"
	jm_public "$JM_HELPERS/daemon_holder"
	cp "$JM_ROOT/tests/containers/scope_client.py" "$JM_TMP/pub/inner.py"
}

# --------------------------------------------------------------- processes
# jm_segment DIR PID: jmalloc.PID.stats (a process of the host's pid
# namespace) or jmalloc.PID.<pidns>.<start>[.<tag>].stats (any other, as
# when the tests run in a container).
jm_segment() {
	local f
	for f in "$1/jmalloc.$2.stats" "$1/jmalloc.$2".*.stats; do
		[ -e "$f" ] && { printf '%s\n' "$f"; return 0; }
	done
	return 1
}
JM_SEG_RE='jmalloc\.[0-9]+(\.[0-9]+\.[0-9]+(\.[0-9a-f]+)?)?\.stats'

jm_segment_name() {
	local ns start
	ns=$(stat -L -c %i /proc/self/ns/pid) || return 1
	if [ "$ns" = 4026531836 ]; then
		printf 'jmalloc.%s.stats\n' "$1"
		return 0
	fi
	start=$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20) || return 1
	printf 'jmalloc.%s.%s.%s.stats\n' "$1" "$ns" "$start"
}

# forge_procs COUNT ARGS...: COUNT sleeping processes (in PIDS), each
# given a segment forged by stress_segwriter as root's with ARGS, in which
# IDX stands for the process's number (1..COUNT): exe=svcIDX, salt=IDX.
# One stress_segwriter makes them all (stress_segwriter forge): a sleep, a
# name and a write each took 0.1 s, 30 s for 300 at load 7.
forge_procs() {
	local pids
	pids=$("$JM_HELPERS/stress_segwriter" forge "$JMD_STATS" "$@") || fail "stress_segwriter forge $*"
	# shellcheck disable=SC2206 # one pid a line
	PIDS+=($pids)
}

start_preloaded() {
	LAST_OUT=$JM_TMP/prog.$RANDOM.out
	JMALLOC_STATS_DIR=$JMD_STATS LD_PRELOAD=$JMALLOC_LIB "$@" <"${STDIN:-/dev/null}" >"$LAST_OUT" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	local end=$((SECONDS + $JM_WAIT))
	while [ $SECONDS -lt $end ]; do
		jm_segment "$JMD_STATS" "$LAST_PID" >/dev/null && return 0
		kill -0 "$LAST_PID" 2>/dev/null || { cat "$LAST_OUT"; fail "$1 exited early"; }
		sleep 0.1
	done
	fail "the allocator published no stats segment for $1 in $JM_WAIT s"
}

claim_uid() {
	local u=$((3000000 + $$ % 1000000))
	until mkdir "/tmp/jmtest-uid-$u" 2>/dev/null; do u=$((u + 1)); done
	CLAIMED_UID=$u
	rm -rf "/tmp/jmstatd-$u"
	at_exit "rm -rf /tmp/jmstatd-$u /tmp/jmtest-uid-$u"
}

jm_public() {
	chmod 755 "$JM_TMP"
	mkdir -p "$JM_TMP/pub"
	cp "$JMALLOC_LIB" "$@" "$JM_TMP/pub/"
	chmod 755 "$JM_TMP/pub" "$JM_TMP/pub/"*
}

nobody_pub() {
	NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	jm_public "$@"
	P=$JM_TMP/pub
	chmod 1777 "$P"
}

# nobody_deleted_fifo: nobody's `sleep 600` run from "$P/prog", preloaded
# and sampled, seen by the daemon (jmd_start before); then its file is
# deleted and a FIFO made at "PATH (deleted)", the name /proc/PID/maps
# shows, so that whoever opens the mapping by that name waits for a
# writer. Sets PID; skips where the kernel names a deleted mapping
# otherwise.
nobody_deleted_fifo() {
	cp "$(command -v sleep)" "$P/prog"
	chown 65534 "$P/prog"
	"${NOBODY[@]}" env JMALLOC_CONF=prof_sample:1 JMALLOC_STATS_DIR="$JMD_STATS" \
		LD_PRELOAD="$P/libjmalloc.so" "$P/prog" 600 &
	PID=$!
	wait_seen "$PID"
	"${NOBODY[@]}" sh -c 'rm "$1" && mkfifo "$1 (deleted)"' sh "$P/prog"
	grep -q "prog (deleted)" "/proc/$PID/maps" ||
		skip "the kernel does not show a deleted mapping as PATH (deleted)"
}

start_ready() {
	start_preloaded "$@"
	wait_line "$LAST_OUT" '^ready$'
	wait_sampled "$LAST_PID"
}

build_c() {
	local out=$1 src=$2
	shift 2
	cc -O2 -g "$@" -o "$out" "$src" || fail "cannot build $src"
}

# named_sites_c FILE OUTER INNER [fragment]: writes to FILE a C program
# whose function INNER takes 32,768 regions of 1 KiB (and with "fragment"
# frees three in four, for a fragmented bin), called from OUTER, called
# from main, which then prints "ready" and sleeps: a site whose two frames
# carry the names given (wide characters, combining marks, very long
# names). Build it with -fno-optimize-sibling-calls -Wno-normalized.
named_sites_c() {
	local file=$1 outer=$2 inner=$3 frees=
	[ "${4:-}" = fragment ] && frees='
	for (size_t i = 0; i < 32768; i++)
		if (i % 4)
			free(objs[i]);'
	cat >"$file" <<EOF
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *objs[32768];

__attribute__((noinline)) void $inner(void)
{
	for (size_t i = 0; i < 32768; i++) {
		objs[i] = malloc(1024);
		if (!objs[i])
			abort();
		memset(objs[i], 1, 16);
	}$frees
}

__attribute__((noinline)) void $outer(void)
{
	$inner();
	__asm__ volatile("" ::: "memory");
}

int main(void)
{
	$outer();
	printf("ready\\n");
	fflush(stdout);
	for (;;)
		pause();
}
EOF
}

build_holders() {
	build_c "$1" "$JM_ROOT/tests/sites/holders.c" -fomit-frame-pointer
}

# fuse_hold TARGET ROOTMODE HOW...: a FUSE file system whose server never
# answers (not even its INIT), its root of mode ROOTMODE (40000 a
# directory, 100000 a file), mounted as root on TARGET by
# tests/daemon/hangfuse.py run under HOW (the mount namespace it mounts in:
# unshare --mount --propagation private, nsenter --mount=...);
# FUSE_HOLDER is its server's pid (and its namespace's: nsenter -t). Skips
# the test where no FUSE can be mounted.
fuse_hold() {
	local target=$1 mode=$2 _
	shift 2
	"$@" python3 "$JM_ROOT/tests/daemon/hangfuse.py" "$target" "$mode" >"$JM_TMP/fuse.out" 2>&1 &
	FUSE_HOLDER=$!
	PIDS+=("$FUSE_HOLDER")
	fuse_wait "cannot mount FUSE here"
}

# fuse_wait WHY: waits until the FUSE server started as $FUSE_HOLDER (its
# output in $JM_TMP/fuse.out) says "mounted" or why not, or dies: 60 s
# for a python's start on a loaded machine (in 5 s it was a skip, the
# test's checks not run); skips with WHY and its output unless mounted.
fuse_wait() {
	local _
	for _ in $(seq 600); do
		grep -q . "$JM_TMP/fuse.out" && break
		kill -0 "$FUSE_HOLDER" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^mounted' "$JM_TMP/fuse.out" || skip "$1: $(cat "$JM_TMP/fuse.out")"
}

# fuse_stop_daemon: stops the daemon (jmd_stop: its clean exit checked)
# while the FUSE server of fuse_hold still holds its mount, then the
# server. But under a sanitizer: LeakSanitizer's check at exit stops every
# thread first, and waits for ever on one in the FUSE server's wait, so
# the server goes first (the thread's fstatfs then fails, and it ends).
fuse_stop_daemon() {
	if [ -n "${JM_SANITIZED:-}" ]; then
		kill "$FUSE_HOLDER" 2>/dev/null
		wait "$FUSE_HOLDER" 2>/dev/null
	fi
	jmd_stop
	kill "$FUSE_HOLDER" 2>/dev/null
	wait "$FUSE_HOLDER" 2>/dev/null
	return 0
}

# ----------------------------------------------------------------- waiting
wait_seen() {
	local pid=$1 cond=${2:-True} end=$((SECONDS + JM_WAIT))
	while [ $SECONDS -lt $end ]; do
		if "$JMCTL" --socket "$JMD_SOCK" --json ps 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if any(p['pid'] == $pid and ($cond) for p in r['processes']) else 1)"; then
			return 0
		fi
		sleep 0.1
	done
	"$JMCTL" --socket "$JMD_SOCK" ps
	fail "jmstatd does not list pid $pid${2:+ with $cond} after $JM_WAIT s"
}

wait_sampled() {
	local t end
	t=$(date +%s.%N)
	wait_seen "$1"
	end=$((SECONDS + JM_WAIT))
	while [ $SECONDS -lt $end ]; do
		"$JMCTL" --socket "$JMD_SOCK" --json stats "$1" 2>/dev/null | python3 -c "
import json, sys
sys.exit(0 if json.load(sys.stdin)['time'] > $t + 0.002 else 1)" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no sample of pid $1 after $t within $JM_WAIT s"
}

wait_line() {
	local end=$((SECONDS + JM_WAIT))
	while [ $SECONDS -lt $end ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1"
	fail "no line matching '$2' in $1"
}

# Lines of the daemon's log about a container's stats directory: "read"
# counts its reads ("reading DIR in mnt:[N] too...", dirs.c's dir_add),
# "drop" its drops ("no longer reading DIR in mnt:[N]...: its container is
# gone", 8e1b03d). Each is matched from the line's "jmstatd: ", so that a
# drop is never counted as a read.
dir_lines() {
	local what="jmstatd: reading $JMD_STATS in mnt:["
	[ "$1" = drop ] && what="jmstatd: no longer reading $JMD_STATS in mnt:["
	grep -cF "$what" "$JMD_LOG" || true
}

# ----------------------------------------------------------------- clients
sites_json() {
	"$JMCTL" --socket "$JMD_SOCK" --json sites "$1" -n 1000
}

http_get() {
	curl -s -o "${2:-/dev/null}" -w '%{http_code}' "$JMD_URL$1"
}

pprof_top() {
	local src=$1
	shift
	${PPROF:-go tool pprof} -top -unit=B "$@" "$src" >"$JM_TMP/top.txt" 2>"$JM_TMP/top.err" || {
		cat "$JM_TMP/top.err" >&2
		fail "pprof -top $* $src failed"
	}
	python3 - "$JM_TMP/top.txt" <<'PY'
import json, re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+)B?\s+\S+%\s+\S+%\s+(\d+)B?\s+\S+%\s+(.+?)\s*$", line)
    if m:
        rows[m.group(3)] = [int(m.group(1)), int(m.group(2))]
print(json.dumps(rows))
PY
}

# tmux_start NAME W H CMD: CMD in a new session "top" of a private tmux
# server NAME (its socket under $JM_TMP, killed on exit); a session started
# before is renamed away (killing the last session would race the server's
# exit with the next start).
TMUX_RUNS=0
tmux_start() {
	if [ $TMUX_RUNS = 0 ]; then
		command -v tmux >/dev/null || skip "tmux is not installed: cannot drive the live view"
		export TMUX_TMPDIR=$JM_TMP
		T=(tmux -L "$1")
		at_exit tmux_stop
	else
		"${T[@]}" rename-session -t top "old$TMUX_RUNS"
	fi
	TMUX_RUNS=$((TMUX_RUNS + 1))
	"${T[@]}" -f /dev/null new-session -d -s top -x "$2" -y "$3" "$4"
}

# tmux_stop: the programs the panes run are ended first, while the server
# still holds their terminal: SIGTERM to what each pane's shell runs (to
# the pane's own process where it runs nothing else), and a wait until
# they are gone (3 s at most, then SIGKILL); then the server is killed,
# and what its panes still ran (the shells, a `sleep 600` after jmctl:
# they get SIGHUP) is killed if still there 3 s later. The server killed
# first sent every pane's programs SIGHUP and SIGCONT: a jmctl top built
# with ASan exited on the SIGHUP, and a SIGCONT that came during
# LeakSanitizer's check at its exit discarded the SIGSTOP of its tracer's
# PTRACE_ATTACH, so that the tracer waited in wait4 for ever and the
# program spun in sched_yield (11 minutes at 97% of a CPU, seen in the
# sanitized half of .ci/run; tests/cli/tmux_stop.test.sh).
tmux_stop() {
	local p kids panes=() progs=() rest=() more
	panes=($("${T[@]}" list-panes -a -F '#{pane_pid}' 2>/dev/null))
	for p in "${panes[@]}"; do
		kids=$(ps -o pid= --ppid "$p" 2>/dev/null)
		if [ -n "$kids" ]; then progs+=($kids); rest+=("$p"); else progs+=("$p"); fi
	done
	more="${progs[*]}"
	while [ -n "$more" ]; do
		more=$(for p in $more; do ps -o pid= --ppid "$p" 2>/dev/null; done)
		rest+=($more)
	done
	if [ ${#progs[@]} -gt 0 ]; then
		kill -TERM "${progs[@]}" 2>/dev/null
		tmux_gone "${progs[@]}"
	fi
	"${T[@]}" kill-server 2>/dev/null
	[ ${#rest[@]} -eq 0 ] || tmux_gone "${rest[@]}" $(for p in "${rest[@]}"; do ps -o pid= --ppid "$p" 2>/dev/null; done)
	return 0
}

# tmux_gone PID...: waits until every PID has exited (3 s), then SIGKILL.
tmux_gone() {
	for _ in $(seq 30); do
		kill -0 "$@" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null
	return 0
}

wait_pane() {
	for _ in $(seq "${2:-100}"); do
		"${T[@]}" capture-pane -p -t top >pane.txt 2>/dev/null
		grep -q -- "$1" pane.txt && return 0
		sleep 0.1
	done
	cat pane.txt
	[ -s top.err ] && cat top.err
	fail "the pane never showed '$1'"
}

rule() {
	printf '\n[rule %s]\nkind = %s\n' "$1" "$2"
	shift 2
	[ $# -eq 0 ] || printf '%s\n' "$@"
}

blocking_command() {
	local key=${1:-UID} free=${2:-0}
	CMDLOG=$JM_TMP/commands.log
	RELEASE=$JM_TMP/release
	cat >"$JM_TMP/cmd.sh" <<EOF
#!/bin/sh
[ "\$JMALLOC_ALERT_STATE" = firing ] || exit 0
echo "start \$JMALLOC_ALERT_$key \$JMALLOC_ALERT_ID" >>"$CMDLOG"
if [ "\$JMALLOC_ALERT_$key" != $free ]; then
	i=0
	while [ ! -e "$RELEASE" ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done
fi
echo "end \$JMALLOC_ALERT_$key \$JMALLOC_ALERT_ID" >>"$CMDLOG"
EOF
	chmod 755 "$JM_TMP/cmd.sh"
	: >"$CMDLOG"
	export CMDLOG RELEASE
}

# frag_rule_start [SETTING...]: jmstatd with one fragmentation rule, frag
# (over 50% and 1 MiB, for 200 ms, and the SETTINGs), whose command is
# blocking_command's (set up here).
frag_rule_start() {
	blocking_command
	{
		printf 'command = %s\ncommand_timeout = 150s\n' "$JM_TMP/cmd.sh"
		rule frag fragmentation "ratio = 0.5" "min_wasted = 1MiB" "for = 200ms" "$@"
	} >"$JM_TMP/rules.conf"
	jmd_start --config "$JM_TMP/rules.conf"
}

# nobody_frags N: N processes of nobody's, jm_public's demo_fragment
# fragmenting its 64-byte runs, publishing to the daemon of the test; their
# pids in nobody_pids.
nobody_frags() {
	local i
	nobody_pids=()
	for i in $(seq "$1"); do
		setpriv --reuid=65534 --regid=65534 --clear-groups env JMALLOC_STATS_DIR="$JMD_STATS" \
			LD_PRELOAD="$JM_TMP/pub/libjmalloc.so" JMALLOC_CONF=prof_sample:0 \
			"$JM_TMP/pub/demo_fragment" -s 64 -c 40000 -r 10 >/dev/null 2>&1 &
		nobody_pids+=($!)
	done
}

alert_recorder() {
	mkdir -p "$1"
	cat >"$JM_TMP/notify.sh" <<EOF
#!/bin/sh
env | grep '^JMALLOC_ALERT_' | sort >"$1/\$JMALLOC_ALERT_RULE.\$JMALLOC_ALERT_ID.\$JMALLOC_ALERT_STATE.tmp"
mv "$1/\$JMALLOC_ALERT_RULE.\$JMALLOC_ALERT_ID.\$JMALLOC_ALERT_STATE.tmp" "$1/\$JMALLOC_ALERT_RULE.\$JMALLOC_ALERT_ID.\$JMALLOC_ALERT_STATE"
EOF
	chmod +x "$JM_TMP/notify.sh"
}

run_stress() {
	local conf=$1 prog=$2 rc=0
	shift 2
	[ -x "$JM_HELPERS/$prog" ] || fail "$JM_HELPERS/$prog is not built"
	echo "== JMALLOC_CONF='$conf' $prog $*"
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$JM_HELPERS/$prog" "$@" >"$JM_TMP/out" 2>&1 || rc=$?
	cat "$JM_TMP/out"
	[ $rc -eq 0 ] || fail "$prog $* exited $rc"
	grep -q "^$prog: allocator jmalloc\$" "$JM_TMP/out" || fail "jmalloc was not the allocator"
	grep -q "^$prog: OK\$" "$JM_TMP/out" || fail "$prog did not finish"
}

jm_compare() {
	local name=$1 mode dir rc s e
	shift
	for mode in plain jm; do
		dir=$JM_TMP/$name.$mode
		mkdir -p "$dir"
		s=$(date +%s.%N)
		if [ "$mode" = jm ]; then
			# Its segments in the test's directory, not /dev/shm:
			# removed with it, also after a test killed at its limit.
			(cd "$dir" && env LD_PRELOAD="$JMALLOC_LIB" LD_DEBUG=bindings \
				JMALLOC_STATS_DIR="${JMALLOC_STATS_DIR:-$JM_TMP}" \
				LD_DEBUG_OUTPUT="$JM_TMP/$name.ld" "$@") \
				>"$JM_TMP/$name.$mode.out" 2>"$JM_TMP/$name.$mode.err"
		else
			(cd "$dir" && "$@") >"$JM_TMP/$name.$mode.out" 2>"$JM_TMP/$name.$mode.err"
		fi
		rc=$?
		e=$(date +%s.%N)
		sed -i "s#$dir#DIR#g" "$JM_TMP/$name.$mode.out"
		printf '%s: %-5s exit %d, %s lines of output, %.1fs\n' "$name" "$mode" "$rc" \
			"$(wc -l <"$JM_TMP/$name.$mode.out")" "$(echo "$e - $s" | bc)"
		if [ "$rc" -ne 0 ]; then
			echo "--- $name ($mode) stderr:"
			tail -n 40 "$JM_TMP/$name.$mode.err"
			echo "--- $name ($mode) stdout:"
			tail -n 20 "$JM_TMP/$name.$mode.out"
			fail "$name exited $rc ($mode)"
		fi
	done
	if ! cmp -s "$JM_TMP/$name.plain.out" "$JM_TMP/$name.jm.out"; then
		echo "--- $name: output differs (plain vs jmalloc):"
		diff "$JM_TMP/$name.plain.out" "$JM_TMP/$name.jm.out" | head -n 40
		echo "--- $name (jm) stderr:"
		tail -n 20 "$JM_TMP/$name.jm.err"
		fail "$name: output under jmalloc differs"
	fi
}

jm_proof() {
	local name=$1 prog n lib
	shift
	lib=$(readlink -f "$JMALLOC_LIB")
	ls "$JM_TMP/$name.ld."* >/dev/null 2>&1 || fail "$name: no LD_DEBUG output"
	# Every binding of the malloc family, in every process of the run.
	cat "$JM_TMP/$name.ld."* |
		grep -E "normal symbol \`(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|memalign)'" \
		>"$JM_TMP/$name.bindings" || true
	n=$(grep -c -F -e "to $JMALLOC_LIB [0]" -e "to $lib [0]" "$JM_TMP/$name.bindings")
	# Bindings elsewhere are allowed only to an object that does not
	# define the function: a non-PIE program that takes the address of
	# free has a PLT stub for it, which jumps on to libjmalloc.so.
	local target sym
	grep -v -F -e "to $JMALLOC_LIB [0]" -e "to $lib [0]" "$JM_TMP/$name.bindings" |
		sed -E "s/.* to ([^ ]*) \[0\]: normal symbol .([a-z_]*)'.*/\1 \2/" | sort -u |
		while read -r target sym; do
			if nm -D --defined-only "$target" 2>/dev/null | grep -q -E " [TtWiI] $sym(@|\$)"; then
				grep -E "to $target \[0\]: normal symbol .$sym'" "$JM_TMP/$name.bindings" | head -n 3
				echo "$target"
			fi
		done >"$JM_TMP/$name.elsewhere"
	if [ -s "$JM_TMP/$name.elsewhere" ]; then
		cat "$JM_TMP/$name.elsewhere"
		fail "$name: malloc functions bound to another allocator than libjmalloc.so"
	fi
	local prog_re
	for prog in "$@"; do
		prog_re=$(printf '%s' "$prog" | sed 's/[]\/$*.^+?(){}|[]/\\&/g')
		grep -q -E "binding file ([^ ]*/)?$prog_re \[0\] to ($JMALLOC_LIB|$lib) \[0\]: normal symbol \`(malloc|calloc|realloc|free)'" \
			"$JM_TMP/$name.bindings" ||
			fail "$name: $prog's malloc was not bound to libjmalloc.so"
	done
	echo "$name: $n malloc-family bindings to libjmalloc.so in $(ls "$JM_TMP/$name.ld."* | wc -l) processes, none to another allocator"
}

PYFMT='
import math
def three(v, unit):
    if v < 9.995: return "%.2f%s" % (v, unit)
    if v < 99.95: return "%.1f%s" % (v, unit)
    return "%.0f%s" % (v, unit)
def fmt_bytes(b):
    if b < 1024: return "%.0f B" % b
    units = [" KiB", " MiB", " GiB", " TiB", " PiB"]; u = -1
    while u < 4 and b >= 999.5: b /= 1024; u += 1
    if u < 0: b /= 1024; u = 0
    return three(b, units[u])
def fmt_count(n):
    if n < 1000: return "%.0f" % n
    units = ["k", "M", "G", "T"]; u = -1
    while u < 3 and n >= 999.5: n /= 1000; u += 1
    return three(n, units[u])
def fmt_rate(r):
    if 0 < r < 0.995: return "%.2f" % r
    return fmt_count(r)
def fmt_pct(x): return "%.1f%%" % (x * 100.0)
'
