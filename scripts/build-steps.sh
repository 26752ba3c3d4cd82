# shellcheck shell=bash
# scripts/build-steps.sh — sourced by engine.sh and cluster.sh: progress lines, one-line errors and
# timed build steps. The sourcing script sets STEP_TAG (e.g. engine), STEP_SCRIPT (e.g. engine.sh)
# and LOGS (the folder of the step logs) first.

say() { printf '[%s] %s\n' "$STEP_TAG" "$*" >&2; }
die() { # die STEP MESSAGE: the last line printed is always one line naming the step
	printf '%s: error: step "%s" failed: %s\n' "$STEP_SCRIPT" "$1" "$2" >&2
	exit 1
}

declare -a TIMINGS=()

# run_step NAME FUNCTION: run FUNCTION with errexit in a subshell, its output in $LOGS/NAME.log;
# print how long it took; on failure print the log's tail and a one-line error.
run_step() {
	local name=$1 fn=$2 log="$LOGS/$1.log" start rc
	start=$(date +%s)
	: >"$log"
	set +e
	(set -euo pipefail; "$fn") >>"$log" 2>&1
	rc=$?
	set -e
	local took=$(($(date +%s) - start))
	if [ "$rc" -ne 0 ]; then
		tail -n 25 "$log" | sed 's/^/    | /' >&2
		die "$name" "exit code $rc after ${took}s (full log: $log)"
	fi
	TIMINGS+=("$name ${took}s")
	say "$name: done in ${took}s"
}

# ensure_go: the go command on PATH, or at /usr/local/go/bin; else a one-line error.
ensure_go() {
	if ! command -v go >/dev/null 2>&1; then
		[ -x /usr/local/go/bin/go ] || die "setup" "the go command is not installed (expected on PATH or at /usr/local/go/bin/go)"
		PATH=/usr/local/go/bin:$PATH
	fi
}
