#!/usr/bin/env bash
# scripts/engine.sh — make the Pulumi engine (CLI, Node.js language host, resource plugins)
# available without downloading any release binary: everything is built from Go modules with the
# ordinary `go` command into a cache OUTSIDE the repository. See docs/engine.md.
#
# usage: bash scripts/engine.sh [--env | --check | --help]     (npm run engine -- --check)
#   (no flag)  build what is missing (a second run takes seconds), write <cache>/env.sh, print it
#   --env      same, but print only the `export` lines on stdout:  eval "$(bash scripts/engine.sh --env)"
#   --check    same, then run an end-to-end smoke test (devenv/engineCheck.ts): a throwaway project,
#              `pulumi up` on a local file backend with whatever plugins are available, no network
#
# environment: PHYSIOFLOW_CACHE         cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow)
#              PHYSIOFLOW_ENGINE_KEEP=1 keep the --check temp dir for inspection
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Pins (docs/engine.md explains each one)
# ---------------------------------------------------------------------------------------------
PULUMI_VERSION=3.248.0                                  # CLI; @pulumi/pulumi 3.248.0 in package.json
CLI_MODULE=github.com/pulumi/pulumi/pkg/v3              # tag pkg/v3.248.0 = dc7edd58bc13179f81b80983aab4eb7f74a01b41
CLI_PKG=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
SDK_MODULE=github.com/pulumi/pulumi/sdk/v3
VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

# The Node.js language host. Since v3.69 it is its own module
# (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), which the Go module proxy
# reachable here does not serve at any version. v3.68.0 is the last release in which it lived
# inside the sdk/v3 module; the CLI v3.248.0 talks to it fine (checked by --check).
LANGHOST_SDK_VERSION=3.68.0
LANGHOST_PKG=github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs

# The kubernetes provider. The release commit of 4.32.0 (a03ff6ba…) is not served by the Go module
# proxy here; the only commit of github.com/pulumi/pulumi-kubernetes/provider/v4 it serves is
# f47bc2d6 (2026-01-15, between 4.24.1 and 4.25.0). The plugin reports that version honestly.
K8S_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_PLUGIN_VERSION=4.24.2-alpha.1768448096+f47bc2d6
K8S_VERSION_VAR=github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version

# Plugins the SDKs in package.json ask for, and the versions they ask for.
SDK_K8S_VERSION=4.34.2
SDK_COMMAND_VERSION=1.2.1
SDK_POSTGRESQL_VERSION=3.18.1

RECIPE=r1   # bump when a build recipe below changes, so caches rebuild

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The cache root, progress on stderr (so --env keeps stdout clean), one-line errors, cached steps.
STEP_TAG=engine STEP_SCRIPT=engine.sh
# shellcheck source-path=SCRIPTDIR source=go-build.sh
. "$REPO_ROOT/scripts/go-build.sh"

ENGINE_DIR=$CACHE_ROOT/engine-$PULUMI_VERSION-nodejs$LANGHOST_SDK_VERSION-k8s-${K8S_MODULE_VERSION##*-}-$RECIPE
BIN=$ENGINE_DIR/bin
SRC=$ENGINE_DIR/src
LOGS=$ENGINE_DIR/logs
ENV_FILE=$ENGINE_DIR/env.sh

# ---------------------------------------------------------------------------------------------
# Finding things
# ---------------------------------------------------------------------------------------------
pulumi_home() { printf '%s' "${PULUMI_HOME:-$HOME/.pulumi}"; }

# plugin_path KIND NAME [VERSION]: where the engine would find this plugin without downloading:
# on PATH (an "ambient" plugin), next to the pulumi binary (language hosts), or in the plugin cache.
plugin_path() {
	local kind=$1 name=$2 version=${3:-} exe="pulumi-$1-$2" p
	if p=$(command -v "$exe" 2>/dev/null); then printf '%s' "$p"; return 0; fi
	if [ "$kind" = language ] && p=$(command -v pulumi 2>/dev/null); then
		p=$(dirname "$(readlink -f "$p")")/$exe
		if [ -x "$p" ]; then printf '%s' "$p"; return 0; fi
	fi
	if [ -n "$version" ]; then
		p=$(pulumi_home)/plugins/$kind-$name-v$version
		if [ -x "$p/$exe" ] && [ ! -e "$p.partial" ]; then printf '%s' "$p/$exe"; return 0; fi
	fi
	return 1
}

# An existing, ordinary Pulumi install that already has everything (see docs/engine.md).
existing_install_ok() {
	command -v pulumi >/dev/null 2>&1 || return 1
	[ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ] || return 1
	plugin_path language nodejs >/dev/null &&
		plugin_path resource kubernetes "$SDK_K8S_VERSION" >/dev/null &&
		plugin_path resource command "$SDK_COMMAND_VERSION" >/dev/null &&
		plugin_path resource postgresql "$SDK_POSTGRESQL_VERSION" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Builds. Each builds to a temporary name and renames on success, so an existing file is a
# finished build and is skipped on the next run (maybe_build, scripts/go-build.sh).
# ---------------------------------------------------------------------------------------------

# The CLI. `go install github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v3.248.0` refuses because
# pkg/go.mod has replace directives, so build from a small wrapper module that requires it and
# repeats the replace that matters (sdk => ../sdk becomes the published sdk/v3 at the same version).
build_cli() {
	local dir=$SRC/cli
	mkdir -p "$dir"
	cat >"$dir/go.mod" <<-EOF
		module physioflow.devenv/engine/cli

		go 1.25

		require $CLI_MODULE v$PULUMI_VERSION
		require $SDK_MODULE v$PULUMI_VERSION

		// repeated from pkg/go.mod at v$PULUMI_VERSION
		replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
	EOF
	printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$CLI_PKG" >"$dir/tools.go"
	cd "$dir"
	go mod tidy
	"${GO_BUILD[@]}" -ldflags "-s -w -X $VERSION_VAR=v$PULUMI_VERSION" -o "$BIN/pulumi.tmp" "$CLI_PKG"
	[ "$("$BIN/pulumi.tmp" version)" = "v$PULUMI_VERSION" ] || { echo "built CLI does not report v$PULUMI_VERSION"; exit 1; }
	mv "$BIN/pulumi.tmp" "$BIN/pulumi"
}

# The Node.js language host, from the sdk/v3 module at v3.68.0 (see the pins above). sdk/go.mod
# there replaces golang.org/x/text, which only counts in the main module: repeat it.
build_langhost() {
	local dir=$SRC/langhost
	mkdir -p "$dir"
	cat >"$dir/go.mod" <<-EOF
		module physioflow.devenv/engine/langhost

		go 1.18

		require $SDK_MODULE v$LANGHOST_SDK_VERSION

		// repeated from sdk/go.mod at v$LANGHOST_SDK_VERSION
		replace golang.org/x/text => golang.org/x/text v0.3.6
	EOF
	printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$LANGHOST_PKG" >"$dir/tools.go"
	cd "$dir"
	go mod tidy
	"${GO_BUILD[@]}" -ldflags "-s -w -X $VERSION_VAR=v$LANGHOST_SDK_VERSION" \
		-o "$BIN/pulumi-language-nodejs.tmp" "$LANGHOST_PKG"
	mv "$BIN/pulumi-language-nodejs.tmp" "$BIN/pulumi-language-nodejs"
}

# The kubernetes provider, as upstream's Makefile target k8sprovider does it:
#   VERSION=<v> go generate cmd/pulumi-resource-kubernetes/main.go   (writes schema-embed.json and
#   terraform-mapping-embed.json, which main.go //go:embeds), then CGO_ENABLED=0 go build with
#   -X provider/v4/pkg/version.Version=<v>.
# The generated files are not in the module zip and GOMODCACHE is read-only, so this works on a
# writable copy. provider/go.mod replaces the kubernetes Go SDK with ../sdk (outside the module):
# drop that replace so the required published sdk/v4 version is used.
build_kubernetes() {
	local mod dir=$SRC/kubernetes
	mod=$(go_mod_dir "$K8S_MODULE@$K8S_MODULE_VERSION")
	[ -d "$mod" ] || { echo "could not download $K8S_MODULE@$K8S_MODULE_VERSION"; exit 1; }
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -R "$mod/." "$dir/"
	chmod -R u+w "$dir"
	cd "$dir"
	go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4
	(cd cmd/pulumi-resource-kubernetes && VERSION=$K8S_PLUGIN_VERSION go run -mod=mod ./generate.go)
	CGO_ENABLED=0 "${GO_BUILD[@]}" -ldflags "-s -w -X $K8S_VERSION_VAR=$K8S_PLUGIN_VERSION" \
		-o "$BIN/pulumi-resource-kubernetes.tmp" ./cmd/pulumi-resource-kubernetes
	mv "$BIN/pulumi-resource-kubernetes.tmp" "$BIN/pulumi-resource-kubernetes"
	cd "$ENGINE_DIR"
	rm -rf "$dir" # ~60 MB of sources; the module stays in GOMODCACHE
}

# Writes standard input to $1 whole or not at all (a temp file renamed over it): a run of --env
# reading it while another run rewrites it (mocha's parallel workers start at once) reads the old
# file or the new one, never an empty one.
write_whole() {
	local tmp="$1.tmp.$$"
	cat >"$tmp" && mv -f "$tmp" "$1"
}

write_env_file() {
	write_whole "$ENV_FILE" <<-EOF
		# Generated by scripts/engine.sh: the environment for the offline Pulumi engine.
		# Use:  . "$ENV_FILE"
		case ":\$PATH:" in *":$BIN:"*) ;; *) export PATH="$BIN:\$PATH" ;; esac
		# Plugins on PATH ("ambient" plugins) are used whatever version the SDK asks for; a plugin
		# that is missing is then an error instead of a download attempt.
		export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
		export PULUMI_SKIP_UPDATE_CHECK=true
		# Tests also set, per run:
		#   PULUMI_BACKEND_URL=file://<temp dir>   (local state, no login to a service)
		#   PULUMI_CONFIG_PASSPHRASE=<anything>     (the file backend's secrets provider)
		#   PULUMI_HOME=<temp dir>                  (optional: keeps ~/.pulumi untouched)
	EOF
	write_whole "$CACHE_ROOT/env.sh" <"$ENV_FILE" # stable path: $CACHE_ROOT/env.sh = the newest engine
}

print_env_exports() { # the lines `eval` needs, for --env
	grep '^case\|^export' "$ENV_FILE"
}

ensure_engine() {
	if existing_install_ok; then
		USING_EXISTING=1
		say "using the existing pulumi $(pulumi version) at $(command -v pulumi): nothing to build"
		say "  language host: $(plugin_path language nodejs)"
		say "  kubernetes:    $(plugin_path resource kubernetes "$SDK_K8S_VERSION")"
		say "  command:       $(plugin_path resource command "$SDK_COMMAND_VERSION")"
		say "  postgresql:    $(plugin_path resource postgresql "$SDK_POSTGRESQL_VERSION")"
		ENV_FILE=$CACHE_ROOT/env.sh
		write_whole "$ENV_FILE" <<-EOF
			# Generated by scripts/engine.sh: an existing pulumi v$PULUMI_VERSION install is used as it is.
			export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
			export PULUMI_SKIP_UPDATE_CHECK=true
		EOF
		return 0
	fi
	ensure_go
	mkdir -p "$BIN" "$SRC" "$LOGS"
	lock_cache engine
	say "engine cache: $ENGINE_DIR ($(go version | cut -d' ' -f3), $(nproc) cores)"
	maybe_build cli "$BIN/pulumi" build_cli "the pulumi CLI v$PULUMI_VERSION ($CLI_PKG)"
	maybe_build langhost "$BIN/pulumi-language-nodejs" build_langhost \
		"the Node.js language host v$LANGHOST_SDK_VERSION ($LANGHOST_PKG)"
	maybe_build kubernetes "$BIN/pulumi-resource-kubernetes" build_kubernetes \
		"the kubernetes provider $K8S_PLUGIN_VERSION ($K8S_MODULE@$K8S_MODULE_VERSION)"
	write_env_file
	unlock_cache
	local p
	PATH=$BIN:$PATH
	for p in "command $SDK_COMMAND_VERSION github.com/pulumi/pulumi-command/provider" \
		"postgresql $SDK_POSTGRESQL_VERSION github.com/pulumi/pulumi-postgresql/provider/v3"; do
		# shellcheck disable=SC2086 # split on purpose: "name version module" becomes $1 $2 $3
		set -- $p
		if plugin_path resource "$1" "$2" >/dev/null; then
			say "$1: using $(plugin_path resource "$1" "$2")"
		else
			say "WARNING: no pulumi-resource-$1 plugin: $3 is not served by the Go module proxy here, so it"
			say "         cannot be built; a program using @pulumi/$1 fails with \"no resource plugin"
			say "         'pulumi-resource-$1' found in the workspace at version v$2 or on your \$PATH\"."
			say "         Provide it with 'pulumi plugin install resource $1 $2' where downloads work, or put a"
			say "         pulumi-resource-$1 binary on PATH (see docs/engine.md)."
		fi
	done
	say "timings: ${TIMINGS[*]}"
}

# ---------------------------------------------------------------------------------------------
# --check: an end-to-end smoke test
# ---------------------------------------------------------------------------------------------

# The check itself is TypeScript on devenv/engine.ts and devenv/postgresServer.ts; its progress
# lines and one-line error look like the rest of this script's.
run_check() {
	[ -d "$REPO_ROOT/node_modules/@pulumi/pulumi" ] || die check "$REPO_ROOT/node_modules is missing: run npm ci first"
	exec "$REPO_ROOT/node_modules/.bin/ts-node" --transpile-only "$REPO_ROOT/scripts/engine-check.ts"
}

# ---------------------------------------------------------------------------------------------
main() {
	local mode=build
	case "${1:-}" in
	"") ;;
	--env) mode="env" ;;
	--check) mode=check ;;
	-h | --help) sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; return 0 ;;
	*) die "arguments" "unknown option '$1' (try --help)" ;;
	esac
	mkdir -p "$CACHE_ROOT"
	local t0
	t0=$(date +%s)
	ensure_engine
	case $mode in
	env) print_env_exports ;;
	check) run_check ;;
	build)
		[ "${USING_EXISTING:-0}" = 1 ] || say "ready in $(($(date +%s) - t0))s; binaries in $BIN"
		say "use it with:  . $ENV_FILE    (or: eval \"\$(bash scripts/engine.sh --env)\")"
		echo "$ENV_FILE"
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
