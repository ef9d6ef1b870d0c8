# lib.sh: sourced by the alert and metrics tests (tests/alerts/*.test.sh).
# On top of tests/daemon/lib.sh (jmd_start, jmd_stop, need_segments, die):
#   alerts_py ARGS...  python3 with tests/alerts (alib.py) and tests/daemon
#                      (jmd.py) on its path
#   need_promtool      exits 77 unless promtool (Debian package prometheus)
#                      is installed
. "$(dirname "${BASH_SOURCE[0]}")/../daemon/lib.sh"

alerts_py() {
	PYTHONPATH=$JM_ROOT/tests/alerts:$JM_ROOT/tests/daemon python3 "$@"
}

need_promtool() {
	command -v promtool >/dev/null || {
		echo "promtool not installed (Debian package prometheus): ${1:-cannot check}"
		exit 77
	}
}
