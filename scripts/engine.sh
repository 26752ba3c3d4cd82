#!/usr/bin/env bash
# scripts/engine.sh — make the Pulumi engine (CLI, Node.js language host, resource plugins)
# available without downloading any release binary: everything is built from Go modules with the
# ordinary `go` command into a cache OUTSIDE the repository. See docs/engine.md.
#
# usage: bash scripts/engine.sh [--env | --check | --help]     (npm run engine -- --check)
#   (no flag)  build what is missing (a second run takes seconds), write <cache>/env.sh, print it
#   --env      same, but print only the `export` lines on stdout:  eval "$(bash scripts/engine.sh --env)"
#   --check    same, then run an end-to-end smoke test: a throwaway project, `pulumi up` on a local
#              file backend with whatever plugins are available, no network
#
# environment: PHYSIOFLOW_ENGINE_CACHE  cache root (default $HOME/.cache/physioflow)
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
SDK_K8S_VERSION=4.32.0
SDK_COMMAND_VERSION=1.2.1
SDK_POSTGRESQL_VERSION=3.18.0

RECIPE=r1   # bump when a build recipe below changes, so caches rebuild
CACHE_ROOT=${PHYSIOFLOW_ENGINE_CACHE:-$HOME/.cache/physioflow}
ENGINE_DIR=$CACHE_ROOT/engine-$PULUMI_VERSION-nodejs$LANGHOST_SDK_VERSION-k8s-${K8S_MODULE_VERSION##*-}-$RECIPE
BIN=$ENGINE_DIR/bin
SRC=$ENGINE_DIR/src
LOGS=$ENGINE_DIR/logs
ENV_FILE=$ENGINE_DIR/env.sh

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Progress on stderr (so --env keeps stdout clean), one-line errors, timed steps, ensure_go.
STEP_TAG=engine STEP_SCRIPT=engine.sh
. "$REPO_ROOT/scripts/build-steps.sh"

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

# go_mod_dir MODULE@VERSION: download a module (read-only, in GOMODCACHE) and print its directory.
go_mod_dir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# ---------------------------------------------------------------------------------------------
# Builds. Each builds to a temporary name and renames on success, so an existing file is a
# finished build and is skipped on the next run. One binary at a time (2 cores, shared machine).
# ---------------------------------------------------------------------------------------------
GO_BUILD=(go build -mod=mod -buildvcs=false -trimpath)

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

maybe_build() { # maybe_build STEP BINARY FUNCTION WHAT
	if [ -x "$BIN/$2" ]; then
		say "$1: $2 already built, skipping"
		TIMINGS+=("$1 cached")
	else
		say "$1: building $4 ..."
		run_step "$1" "$3"
	fi
}

write_env_file() {
	cat >"$ENV_FILE" <<-EOF
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
	cp "$ENV_FILE" "$CACHE_ROOT/env.sh" # stable path: $CACHE_ROOT/env.sh = the newest engine
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
		cat >"$ENV_FILE" <<-EOF
			# Generated by scripts/engine.sh: an existing pulumi v$PULUMI_VERSION install is used as it is.
			export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
			export PULUMI_SKIP_UPDATE_CHECK=true
		EOF
		return 0
	fi
	ensure_go
	mkdir -p "$BIN" "$SRC" "$LOGS"
	exec 9>"$CACHE_ROOT/.lock"
	if ! flock -w 3600 9; then die "lock" "another scripts/engine.sh has held $CACHE_ROOT/.lock for an hour"; fi
	say "engine cache: $ENGINE_DIR ($(go version | cut -d' ' -f3), $(nproc) cores)"
	maybe_build cli pulumi build_cli "the pulumi CLI v$PULUMI_VERSION ($CLI_PKG)"
	maybe_build langhost pulumi-language-nodejs build_langhost \
		"the Node.js language host v$LANGHOST_SDK_VERSION ($LANGHOST_PKG)"
	maybe_build kubernetes pulumi-resource-kubernetes build_kubernetes \
		"the kubernetes provider $K8S_PLUGIN_VERSION ($K8S_MODULE@$K8S_MODULE_VERSION)"
	write_env_file
	flock -u 9
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
PG_DIR=
PG_BIN=
start_postgres() { # start_postgres PORT — a throwaway PostgreSQL on 127.0.0.1:PORT, as user postgres
	local port=$1
	PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [ ! -x "$PG_BIN/initdb" ]; then echo "no PostgreSQL server installed (apt-get install postgresql)"; return 1; fi
	PG_DIR=$(mktemp -d /tmp/physioflow-engine-pg.XXXXXX)
	chown postgres: "$PG_DIR"
	# initdb refuses to run as root
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
		{ cat "$PG_DIR/initdb.log"; return 1; }
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off" start >/dev/null ||
		{ cat "$PG_DIR/server.log"; return 1; }
}
stop_postgres() {
	if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf "$PG_DIR"
	fi
	PG_DIR=
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

CHECK_DIR=
cleanup_check() {
	stop_postgres
	if [ -n "$CHECK_DIR" ] && [ "${PHYSIOFLOW_ENGINE_KEEP:-0}" != 1 ]; then rm -rf "$CHECK_DIR"; fi
}

run_check() {
	local step=check have_cmd=0 have_pg=0 pg_port='' out
	[ -d "$REPO_ROOT/node_modules/@pulumi/pulumi" ] || die "$step" "$REPO_ROOT/node_modules is missing: run npm ci first"
	# shellcheck source=/dev/null # written by the build (ensure_engine): the engine's PATH
	. "$ENV_FILE"
	plugin_path language nodejs >/dev/null || die "$step" "no pulumi-language-nodejs next to pulumi or on PATH"
	plugin_path resource kubernetes "$SDK_K8S_VERSION" >/dev/null || die "$step" "no pulumi-resource-kubernetes plugin"
	plugin_path resource command "$SDK_COMMAND_VERSION" >/dev/null && have_cmd=1
	plugin_path resource postgresql "$SDK_POSTGRESQL_VERSION" >/dev/null && have_pg=1

	CHECK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/physioflow-engine-check.XXXXXX")
	trap cleanup_check EXIT
	local proj=$CHECK_DIR/project
	mkdir -p "$proj" "$CHECK_DIR/state" "$CHECK_DIR/home"
	ln -s "$REPO_ROOT/node_modules" "$proj/node_modules"
	printf 'name: engine-check\nruntime: nodejs\ndescription: smoke test of scripts/engine.sh\n' >"$proj/Pulumi.yaml"
	printf '{ "name": "engine-check", "private": true, "main": "index.ts" }\n' >"$proj/package.json"
	if [ "$have_pg" = 1 ]; then
		pg_port=$(free_port)
		say "check: starting PostgreSQL on 127.0.0.1:$pg_port"
		start_postgres "$pg_port" >"$CHECK_DIR/postgres.log" 2>&1 ||
			{ cat "$CHECK_DIR/postgres.log" >&2; die "$step" "could not start a throwaway PostgreSQL server"; }
	fi
	{
		cat <<-'EOF'
			import * as pulumi from "@pulumi/pulumi";
			import * as k8s from "@pulumi/kubernetes";

			// No cluster: the provider writes the manifests to a directory instead.
			const render = new k8s.Provider("render", { renderYamlToDirectory: process.env.ENGINE_CHECK_RENDER_DIR! });
			const cm = new k8s.core.v1.ConfigMap("engine-check", {
			    metadata: { name: "engine-check", namespace: "default" },
			    data: { greeting: "hello from scripts/engine.sh" },
			}, { provider: render });
			export const configMapName = cm.metadata.name;
		EOF
		if [ "$have_cmd" = 1 ]; then
			cat <<-'EOF'

				import * as command from "@pulumi/command";
				const echo = new command.local.Command("engine-check", { create: "echo engine-check-ok" });
				export const commandStdout = echo.stdout;
			EOF
		fi
		if [ "$have_pg" = 1 ]; then
			cat <<-'EOF'

				import * as postgresql from "@pulumi/postgresql";
				const pg = new postgresql.Provider("pg", {
				    host: "127.0.0.1", port: Number(process.env.ENGINE_CHECK_PG_PORT), username: "postgres",
				    password: "unused", sslmode: "disable", superuser: true, database: "postgres",
				});
				const role = new postgresql.Role("engine-check", { name: "engine_check", login: true }, { provider: pg });
				const db = new postgresql.Database("engine-check", { name: "engine_check", owner: role.name }, { provider: pg });
				export const databaseName = db.name;
			EOF
		fi
	} >"$proj/index.ts"

	export PULUMI_HOME=$CHECK_DIR/home PULUMI_BACKEND_URL=file://$CHECK_DIR/state PULUMI_CONFIG_PASSPHRASE=engine-check
	export ENGINE_CHECK_RENDER_DIR=$CHECK_DIR/rendered ENGINE_CHECK_PG_PORT=$pg_port
	export PULUMI_NODEJS_TRANSPILE_ONLY=true # type checking is npm run build's job; keeps this fast
	# Any download attempt would go through this dead proxy and fail loudly.
	export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
	cd "$proj"
	local start
	start=$(date +%s)
	say "check: $(command -v pulumi) $(pulumi version); project in $proj"
	say "check: resources: kubernetes ConfigMap (renderYamlToDirectory)$([ "$have_cmd" = 1 ] && echo ', command.local.Command')$([ "$have_pg" = 1 ] && echo ', postgresql Role + Database')"
	pulumi login "file://$CHECK_DIR/state" >"$CHECK_DIR/login.log" 2>&1 || { cat "$CHECK_DIR/login.log" >&2; die "$step" "pulumi login file:// failed"; }
	pulumi stack init check --non-interactive >"$CHECK_DIR/init.log" 2>&1 || { cat "$CHECK_DIR/init.log" >&2; die "$step" "pulumi stack init failed"; }
	if ! pulumi up --yes --non-interactive --color never >"$CHECK_DIR/up.log" 2>&1; then
		sed 's/^/    | /' "$CHECK_DIR/up.log" >&2
		die "$step" "pulumi up failed (log above)"
	fi
	grep -rqs "hello from scripts/engine.sh" "$CHECK_DIR/rendered" || die "$step" "the ConfigMap was not rendered to $CHECK_DIR/rendered"
	if [ "$have_cmd" = 1 ]; then
		[ "$(pulumi stack output commandStdout)" = engine-check-ok ] || die "$step" "command.local.Command did not run"
	fi
	if [ "$have_pg" = 1 ]; then
		out=$(runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "select datname from pg_database where datname='engine_check'")
		[ "$out" = engine_check ] || die "$step" "the postgresql provider did not create the database"
	fi
	# The Automation API checks the CLI version before it does anything.
	# shellcheck disable=SC2016 # JavaScript in single quotes: its ${...} are the script's own
	out=$(node -e '
		const { LocalWorkspace } = require("@pulumi/pulumi/automation");
		(async () => {
		    const stack = await LocalWorkspace.selectStack({ stackName: "check", workDir: process.cwd() });
		    const outs = await stack.outputs();
		    console.log(`automation API: pulumi ${stack.workspace.pulumiVersion}, configMapName=${outs.configMapName.value}`);
		})().catch(e => { console.error(e); process.exit(1); });
	' 2>&1) || { echo "$out" >&2; die "$step" "the Node Automation API could not drive the CLI"; }
	say "check: $out"
	if ! pulumi destroy --yes --non-interactive --color never >"$CHECK_DIR/destroy.log" 2>&1; then
		cat "$CHECK_DIR/destroy.log" >&2
		die "$step" "pulumi destroy failed"
	fi
	if [ -n "$(ls -A "$PULUMI_HOME/plugins" 2>/dev/null)" ]; then
		die "$step" "the engine installed plugins into $PULUMI_HOME/plugins: $(find "$PULUMI_HOME/plugins" -mindepth 1 -maxdepth 1 -printf '%f ')"
	fi
	local warnings
	warnings=$(grep -o 'warning: .*' "$CHECK_DIR/up.log" | sort -u | sed 's/^/    /' || true)
	[ -z "$warnings" ] || say "check: the engine warned (expected, see docs/engine.md):"$'\n'"$warnings"
	say "check: OK in $(($(date +%s) - start))s: up, outputs via the Automation API, destroy; no plugin download"
	[ "$have_cmd" = 1 ] || say "check: SKIPPED command.local.Command: no pulumi-resource-command plugin"
	[ "$have_pg" = 1 ] || say "check: SKIPPED postgresql: no pulumi-resource-postgresql plugin"
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
