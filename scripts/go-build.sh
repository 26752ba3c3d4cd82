# shellcheck shell=bash
# scripts/go-build.sh — sourced, not run: what the four scripts that build tools from Go modules share
# (engine.sh, cluster.sh, actionlint.sh, s3-server.sh): the cache root, Go on PATH, a lock per script,
# progress lines, one-line errors naming the step, and maybe_build, the cached build step.
#
# The sourcing script sets STEP_TAG (its progress prefix, e.g. engine) and STEP_SCRIPT (its name in
# errors, e.g. engine.sh) first, then sets LOGS (where the step logs go) before it builds.
#
# environment: PHYSIOFLOW_CACHE  the cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "go-build.sh: error: this file is sourced by the build scripts, not run" >&2
	exit 1
fi

# Every product lives under this root, in a directory whose name carries its versions (and a recipe
# revision), so a pin change builds into a new directory and the old one stays valid.
CACHE_ROOT=${PHYSIOFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/physioflow}

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
	mkdir -p "$LOGS"
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

# maybe_build STEP PRODUCT FUNCTION WHAT: PRODUCT (a path) is the step's finished result. Each
# FUNCTION writes it under a temporary name and renames it when complete, so a product that exists
# is finished: the step is skipped ("cached"). Otherwise FUNCTION runs as run_step STEP, with Go on PATH.
maybe_build() {
	if [ -e "$2" ]; then
		say "$1: cached ($2)"
		TIMINGS+=("$1 cached")
	else
		ensure_go
		say "$1: building $4 ..."
		run_step "$1" "$3"
	fi
}

# ensure_go: the go command on PATH, or at /usr/local/go/bin; else a one-line error.
ensure_go() {
	if ! command -v go >/dev/null 2>&1; then
		[ -x /usr/local/go/bin/go ] || die "setup" "the go command is not installed (expected on PATH or at /usr/local/go/bin/go)"
		PATH=/usr/local/go/bin:$PATH
	fi
}

# lock_cache NAME: hold $CACHE_ROOT/.NAME-lock until the script ends or unlock_cache runs, so two runs
# of one script never build the same thing at once (the second waits, then finds it cached).
lock_cache() {
	mkdir -p "$CACHE_ROOT"
	exec 9>"$CACHE_ROOT/.$1-lock"
	flock -w 3600 9 || die "lock" "another $STEP_SCRIPT has held $CACHE_ROOT/.$1-lock for an hour"
}
unlock_cache() { flock -u 9; }

# go_mod_dir MODULE@VERSION: download a module (read-only, in GOMODCACHE) and print its directory.
go_mod_dir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# Builds run one binary at a time (2 cores, shared machine) with these flags unless a recipe says otherwise.
# shellcheck disable=SC2034 # used by the scripts that source this file
GO_BUILD=(go build -mod=mod -buildvcs=false -trimpath)
