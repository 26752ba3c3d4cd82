#!/usr/bin/env bash
# scripts/cluster.sh — a real Kubernetes control plane on this machine, with no container runtime:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler, and kwok simulating the node and
# the pods' lifecycle. Everything is built from Go modules into a cache OUTSIDE the repository and
# listens on 127.0.0.1 only. See docs/cluster.md.
#
# usage: bash scripts/cluster.sh build              build what is missing (seconds when cached); print the bin dir
#        bash scripts/cluster.sh start [DIR]        start a cluster in DIR (default: a new temp dir; an existing DIR
#                                                   is started again with its data); print DIR. DIR/kubeconfig is
#                                                   the admin kubeconfig
#             [--owner PID]                         …and stop it when process PID ends (a watchdog)
#        bash scripts/cluster.sh stop [--keep] DIR  stop that cluster and delete DIR (--keep: keep its data to start again)
#
# environment: PHYSIOFLOW_CACHE           cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow)
#              PHYSIOFLOW_CLUSTER_KEEP=1  `stop` keeps DIR (logs) instead of deleting it
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Pins (docs/cluster.md explains each one)
# ---------------------------------------------------------------------------------------------
K8S_VERSION=1.37.2      # k8s.io/kubernetes v1.37.2; its staging modules are k8s.io/* v0.37.2
ETCD_VERSION=3.7.3      # go.etcd.io/etcd/server/v3; Debian's etcd 3.4 is too old for 1.37
KWOK_VERSION=0.8.0      # sigs.k8s.io/kwok
RECIPE=r1               # bump when a build recipe below changes, so caches rebuild

# The cache root, progress on stderr, one-line errors, cached steps.
STEP_TAG=cluster STEP_SCRIPT=cluster.sh
# shellcheck source-path=SCRIPTDIR source=go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"

CLUSTER_DIR=$CACHE_ROOT/cluster-k8s$K8S_VERSION-etcd$ETCD_VERSION-kwok$KWOK_VERSION-$RECIPE
BIN=$CLUSTER_DIR/bin
SRC=$CLUSTER_DIR/src
LOGS=$CLUSTER_DIR/logs
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# Kubernetes' go.mod replaces each staging module (k8s.io/api, k8s.io/client-go, …) with a path
# inside its own repository, so `go install k8s.io/kubernetes/cmd/...@v1.37.2` refuses. Build from
# a wrapper module that requires k8s.io/kubernetes and points each of those replaces at the
# published staging module of the same release (v0.37.2) instead. The sample-* modules are not
# required by anything we build.
build_kubernetes() {
	build_k8s_commands "$SRC/kubernetes" "${K8S_BINARIES[@]}"
	"$SRC/kubernetes/out/kube-apiserver" --version | grep -qx "Kubernetes v$K8S_VERSION" ||
		{ echo "built kube-apiserver reports '$("$SRC/kubernetes/out/kube-apiserver" --version)', not v$K8S_VERSION"; exit 1; }
	for b in "${K8S_BINARIES[@]}"; do mv "$SRC/kubernetes/out/$b" "$BIN/$b"; done
}

# build_k8s_commands DIR COMMAND…: the wrapper module in DIR, k8s.io/kubernetes/cmd/COMMAND… built
# into DIR/out in one `go build` (scripts/node.sh builds kubelet and kube-proxy with it too; the Go
# build cache shares the packages both builds compile).
build_k8s_commands() {
	local dir=$1 gomod staging
	shift
	mkdir -p "$dir"
	gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
	[ -f "$gomod" ] || { echo "could not download k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
	staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod" | grep -v '^k8s.io/sample-')
	[ -n "$staging" ] || { echo "no staging replaces found in $gomod"; exit 1; }
	{
		printf 'module physioflow.local/cluster/kubernetes\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v%s\n\n' "$K8S_VERSION"
		printf '// k8s.io/kubernetes v%s replaces these with ./staging/src/…; use the published modules\n' "$K8S_VERSION"
		for m in $staging; do printf 'replace %s => %s v0.%s\n' "$m" "$m" "${K8S_VERSION#1.}"; done
	} >"$dir/go.mod"
	{
		printf '//go:build tools\n\npackage tools\n\n'
		for b in "$@"; do printf 'import _ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
	} >"$dir/tools.go"
	cd "$dir"
	go mod tidy
	local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version ldflags="-s -w" v
	for v in "$pkg" "$cpkg"; do
		ldflags+=" -X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=1"
		ldflags+=" -X $v.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $v.gitTreeState=clean"
		ldflags+=" -X $v.buildDate=1970-01-01T00:00:00Z"
	done
	mkdir -p "$dir/out"
	local pkgs=()
	for b in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	CGO_ENABLED=0 "${GO_BUILD[@]}" -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$dir/out/" "${pkgs[@]}"
}

# etcd's server module replaces its sibling modules (api, client, pkg) with relative paths; in a
# wrapper module those replaces do not apply and the published v3.7.3 siblings it requires are used.
build_etcd() {
	local dir=$SRC/etcd
	mkdir -p "$dir"
	printf 'module physioflow.local/cluster/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$dir/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$dir/tools.go"
	cd "$dir"
	go mod tidy
	CGO_ENABLED=0 "${GO_BUILD[@]}" -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
	"$BIN/etcd.tmp" --version | grep -q "etcd Version: $ETCD_VERSION" || { echo "built etcd does not report $ETCD_VERSION"; exit 1; }
	mv "$BIN/etcd.tmp" "$BIN/etcd"
}

build_kwok() {
	GOBIN=$SRC/kwok-bin CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
	mv "$SRC/kwok-bin/kwok" "$BIN/kwok"
}

# From kwok's module: its Stage CRD and the stages of a healthy cluster (start applies them).
copy_kwok_share() {
	local mod share=$CLUSTER_DIR/share/kwok
	mod=$(go_mod_dir "sigs.k8s.io/kwok@v$KWOK_VERSION")
	[ -d "$mod" ] || { echo "could not download sigs.k8s.io/kwok@v$KWOK_VERSION"; exit 1; }
	rm -rf "$share"
	mkdir -p "$share.tmp/crd" "$share.tmp/stages"
	cp "$mod/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" "$share.tmp/crd/"
	cp "$mod/kustomize/stage/node/fast/node-initialize.yaml" "$mod/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
		"$mod"/kustomize/stage/pod/fast/pod-{ready,complete,delete}.yaml "$share.tmp/stages/"
	chmod -R u+w "$share.tmp"
	mv "$share.tmp" "$share"
}

ensure_built() {
	ensure_go
	mkdir -p "$BIN" "$SRC" "$LOGS"
	lock_cache cluster
	local t0
	t0=$(date +%s)
	say "cluster cache: $CLUSTER_DIR ($(go version | cut -d' ' -f3), $(nproc) cores)"
	maybe_build etcd "$BIN/etcd" build_etcd "etcd v$ETCD_VERSION (go.etcd.io/etcd/server/v3)"
	maybe_build kwok "$BIN/kwok" build_kwok "kwok v$KWOK_VERSION (sigs.k8s.io/kwok/cmd/kwok)"
	maybe_build kwok-stages "$CLUSTER_DIR/share/kwok/stages/pod-ready.yaml" copy_kwok_share "kwok's Stage CRD and default stages"
	maybe_build kubernetes "$BIN/kubectl" build_kubernetes \
		"kube-apiserver, kube-controller-manager, kube-scheduler, kubectl v$K8S_VERSION (k8s.io/kubernetes; 10-20 min cold)"
	unlock_cache
	rm -rf "$SRC"
	say "timings: ${TIMINGS[*]}; ready in $(($(date +%s) - t0))s"
}


# ---------------------------------------------------------------------------------------------
# start / stop. A cluster is a directory: PKI, kubeconfig, data, logs, pid files, cluster.env.
# Every server listens on 127.0.0.1 only, on ports picked free for this run. Pod and node IPs
# are kwok's inventions: nothing dials them (docs/cluster.md).
# ---------------------------------------------------------------------------------------------
POD_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
NODE_NAME=kwok-node-0

FREE_PORTS_JS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/devenv/freePorts.js
free_ports() { # free_ports N: N distinct free loopback ports, held open together while picked
	node "$FREE_PORTS_JS" "$1"
}

# launch NAME BINARY ARGS…: a server in its own session, its output in DIR/logs/NAME.log, its pid in DIR/pids/NAME
launch() {
	local name=$1; shift
	setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
	echo $! >"$DIR/pids/$name"
}

alive() { [ -f "$DIR/pids/$1" ] && running "$(cat "$DIR/pids/$1")"; }

# wait_for WHAT SECONDS SERVER COMMAND…: retry COMMAND until it succeeds; fail early if SERVER died
wait_for() {
	local what=$1 seconds=$2 server=$3 deadline; shift 3
	deadline=$(($(date +%s) + seconds))
	until "$@" >/dev/null 2>&1; do
		if [ -n "$server" ] && ! alive "$server"; then
			tail -n 15 "$DIR/logs/$server.log" | sed 's/^/    | /' >&2
			return 1
		fi
		[ "$(date +%s)" -lt "$deadline" ] || { say "timed out after ${seconds}s waiting for $what"; return 1; }
		sleep 0.2
	done
}

make_pki() {
	local pki=$DIR/pki
	mkdir -p "$pki"
	cd "$pki"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=physioflow-test-ca" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
		"${SERVICE_CIDR%.0/*}.1" >server.ext
	openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 3650 -extfile server.ext 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=physioflow-admin" 2>/dev/null
	openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 -extfile client.ext 2>/dev/null
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	chmod 600 ./*.key
	cd - >/dev/null
}

write_kubeconfig() {
	local pki=$DIR/pki
	cat >"$DIR/kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: physioflow-test
		  cluster:
		    server: https://127.0.0.1:$APISERVER_PORT
		    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
		users:
		- name: physioflow-admin
		  user:
		    client-certificate-data: $(base64 -w0 "$pki/admin.crt")
		    client-key-data: $(base64 -w0 "$pki/admin.key")
		contexts:
		- name: physioflow-test
		  context: { cluster: physioflow-test, user: physioflow-admin }
		current-context: physioflow-test
	EOF
	chmod 600 "$DIR/kubeconfig"
}

kubectl_() { "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }

# kwok's own Stage CRD and the stages of a plain, healthy cluster (node initialize + heartbeat,
# pod ready/complete/delete). Tests add Stages of their own to simulate failures.
KWOK_SHARE=$CLUSTER_DIR/share/kwok
write_kwok_files() {
	cat >"$DIR/kwok.yaml" <<-EOF
		apiVersion: config.kwok.x-k8s.io/v1alpha1
		kind: KwokConfiguration
		options:
		  cidr: $POD_CIDR
		  nodeIP: 127.0.0.1
		  serverAddress: 127.0.0.1:$KWOK_PORT
		  nodePort: $KWOK_PORT
		  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
		  enableCRDs: [Stage]
		  # kwok 0.8.0 leaves these at 0 when a config file is given; one pod worker also avoids a
		  # race in its IP pool that can hand the first pods the same IP.
		  podPlayStageParallelism: 1
		  nodePlayStageParallelism: 1
		  nodeLeaseParallelism: 1
		  nodeLeaseDurationSeconds: 40
		  podsOnNodeSyncParallelism: 1
	EOF
	cat >"$DIR/node.yaml" <<-EOF
		apiVersion: v1
		kind: Node
		metadata:
		  name: $NODE_NAME
		  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
		  labels: { kubernetes.io/hostname: $NODE_NAME, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok }
		status:
		  allocatable: { cpu: "32", memory: 256Gi, pods: "110" }
		  capacity: { cpu: "32", memory: 256Gi, pods: "110" }
	EOF
}

start_servers() {
	local etcd_port etcd_peer_port
	read -r etcd_port etcd_peer_port APISERVER_PORT CM_PORT SCHEDULER_PORT KWOK_PORT <<<"$(free_ports 6)"
	write_kubeconfig
	write_kwok_files
	launch etcd "$BIN/etcd" --name physioflow --data-dir "$DIR/etcd" --unsafe-no-fsync \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
		--initial-cluster "physioflow=http://127.0.0.1:$etcd_peer_port" --log-level warn
	wait_for "etcd" 30 etcd curl -fsS "http://127.0.0.1:$etcd_port/health" || return 1

	local pki=$DIR/pki
	launch kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--tls-cert-file "$pki/server.crt" --tls-private-key-file "$pki/server.key" --client-ca-file "$pki/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
		--service-account-signing-key-file "$pki/sa.key" --service-cluster-ip-range "$SERVICE_CIDR" \
		--authorization-mode RBAC --endpoint-reconciler-type none --kubelet-preferred-address-types InternalIP \
		--cert-dir "$DIR/pki/apiserver" --profiling=false
	wait_for "kube-apiserver /readyz" 60 kube-apiserver \
		curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "https://127.0.0.1:$APISERVER_PORT/readyz" || return 1

	launch kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$DIR/kubeconfig" \
		--authentication-kubeconfig "$DIR/kubeconfig" --authorization-kubeconfig "$DIR/kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$CM_PORT" --leader-elect=false \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--service-cluster-ip-range "$SERVICE_CIDR" --cert-dir "$DIR/pki/controller-manager" --profiling=false
	launch kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$DIR/kubeconfig" \
		--authentication-kubeconfig "$DIR/kubeconfig" --authorization-kubeconfig "$DIR/kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false \
		--cert-dir "$DIR/pki/scheduler" --profiling=false

	kubectl_ apply -f "$KWOK_SHARE/crd" >/dev/null || return 1
	kubectl_ wait --for condition=established --timeout=30s crd/stages.kwok.x-k8s.io >/dev/null || return 1
	kubectl_ apply -f "$KWOK_SHARE/stages" >/dev/null || return 1
	# A restarted cluster still has the node Lease of the kwok that ran before; a new kwok cannot
	# take it over until it expires (40 s) and plays no pod of the node until then.
	kubectl_ delete lease -n kube-node-lease "$NODE_NAME" --ignore-not-found >/dev/null || return 1
	launch kwok "$BIN/kwok" --kubeconfig "$DIR/kubeconfig" --config "$DIR/kwok.yaml"
	kubectl_ apply -f "$DIR/node.yaml" >/dev/null || return 1

	wait_for "kube-controller-manager /healthz" 60 kube-controller-manager \
		curl -fsSk "https://127.0.0.1:$CM_PORT/healthz" || return 1
	wait_for "kube-scheduler /healthz" 60 kube-scheduler curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz" || return 1
	wait_for "node $NODE_NAME Ready" 60 kwok \
		kubectl_ wait --for condition=Ready --timeout=2s "node/$NODE_NAME" || return 1
	wait_for "kwok holding the node's Lease" 60 kwok kubectl_ get lease -n kube-node-lease "$NODE_NAME" || return 1
	wait_for "the default service account" 60 kube-controller-manager kubectl_ get serviceaccount default -n default || return 1

	cat >"$DIR/cluster.env" <<-EOF
		KUBECONFIG=$DIR/kubeconfig
		PHYSIOFLOW_CLUSTER_DIR=$DIR
		PHYSIOFLOW_CLUSTER_BIN=$BIN
		APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
		ETCD_URL=http://127.0.0.1:$etcd_port
		POD_CIDR=$POD_CIDR
		NODE_NAME=$NODE_NAME
	EOF
}

# The servers in the order they are stopped (dependants first).
SERVERS=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)

running() { # running PID: alive and not a zombie waiting to be reaped
	local state
	state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ] && [ "$state" != X ]
}

# stop_pids SECONDS NAME…: TERM those servers together, KILL what is still running after SECONDS
stop_pids() {
	local grace=$1 name pid deadline pids=()
	shift
	for name in "$@"; do
		[ -f "$DIR/pids/$name" ] || continue
		pid=$(cat "$DIR/pids/$name")
		rm -f "$DIR/pids/$name"
		[ "$pid" != $$ ] || continue # the watchdog runs this stop itself
		kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
	done
	deadline=$(($(date +%s%N) + grace * 1000000000))
	for pid in "${pids[@]}"; do
		while running "$pid" && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.05; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# Everything but etcd holds nothing worth a graceful stop; etcd gets time to close its data cleanly.
stop_servers() {
	stop_pids 3 watchdog kwok kube-scheduler kube-controller-manager kube-apiserver
	stop_pids 10 etcd
}

# A cluster started for a process (--owner PID) is stopped when that process ends, however it ends.
# A cluster in a directory the caller named keeps its data; a temp one is deleted.
start_watchdog() {
	local owner=$1 keep=$2
	# shellcheck disable=SC2016 # the watchdog's own script: $1..$4 are its arguments, not this shell's
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null && [ -d "$2/pids" ]; do sleep 1; done
		[ ! -d "$2/pids" ] || exec bash "$3" stop $4 "$2"' watchdog "$owner" "$DIR" "$REPO_SCRIPT" "$keep" </dev/null >/dev/null 2>&1 &
	echo $! >"$DIR/pids/watchdog"
}

REPO_SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

cmd_start() {
	local owner='' keep=
	DIR=
	while [ $# -gt 0 ]; do
		case $1 in
		--owner) owner=${2:?--owner needs a pid}; shift 2 ;;
		-*) die "arguments" "unknown option '$1' for start (try --help)" ;;
		*) DIR=$1; shift ;;
		esac
	done
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
		[ -x "$BIN/$b" ] || die "start" "$BIN/$b is missing: run 'npm run cluster -- build' (or npm run setup) first"
	done
	command -v openssl >/dev/null || die "start" "openssl is missing (apt-get install openssl)"
	command -v curl >/dev/null || die "start" "curl is missing (apt-get install curl)"
	[ -z "$DIR" ] || keep=--keep
	if [ -z "$DIR" ]; then
		DIR=$(mktemp -d "${TMPDIR:-/tmp}/physioflow-cluster.XXXXXX")
	else
		mkdir -p "$DIR"
	fi
	DIR=$(cd "$DIR" && pwd)
	if [ -d "$DIR/pids" ]; then
		local name
		for name in "${SERVERS[@]}"; do
			! alive "$name" || die "start" "$DIR already holds a running cluster; stop it first (bash scripts/cluster.sh stop $DIR)"
		done
		rm -rf "$DIR/pids" # left by a run that was killed along with its watchdog
	fi
	mkdir -p "$DIR/logs" "$DIR/pids"
	[ -z "$owner" ] || start_watchdog "$owner" "$keep"
	local t0 tries=0 had_data=0
	t0=$(date +%s%N)
	[ ! -d "$DIR/etcd" ] || had_data=1
	[ -f "$DIR/pki/admin.crt" ] || make_pki || { stop_servers; die "start" "could not make the cluster's certificates with openssl"; }
	# A port picked free can be taken before the server binds it: try again with new ports.
	until start_servers; do
		stop_servers
		tries=$((tries + 1))
		[ "$tries" -lt 3 ] || { [ "${PHYSIOFLOW_CLUSTER_KEEP:-0}" = 1 ] || rm -rf "$DIR"; die "start" "the control plane did not come up 3 times (logs: $DIR/logs when PHYSIOFLOW_CLUSTER_KEEP=1)"; }
		say "start: the control plane did not come up, trying again with other ports"
		[ "$had_data" = 1 ] || rm -rf "$DIR/etcd"
		# stop_servers stopped the owner's watchdog too: the retried cluster needs its own.
		[ -z "$owner" ] || start_watchdog "$owner" "$keep"
	done
	say "start: cluster ready in $((($(date +%s%N) - t0) / 1000000)) ms; KUBECONFIG=$DIR/kubeconfig"
	echo "$DIR"
}

cmd_stop() {
	local keep=${PHYSIOFLOW_CLUSTER_KEEP:-0}
	[ "${1:-}" != --keep ] || { keep=1; shift; }
	DIR=${1:-}
	[ -n "$DIR" ] || die "arguments" "stop needs the cluster's directory (what start printed)"
	[ -d "$DIR/pids" ] || { say "stop: no cluster running in $DIR"; return 0; }
	stop_servers
	if [ "$keep" = 1 ]; then rm -rf "$DIR/pids"; say "stop: stopped; kept $DIR"; else rm -rf "$DIR"; fi
}

# ---------------------------------------------------------------------------------------------
main() {
	local cmd=${1:-}
	case "$cmd" in
	build) ensure_built; echo "$BIN" ;;
	start) shift; cmd_start "$@" ;;
	stop) shift; cmd_stop "$@" ;;
	-h | --help | "") sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; [ -n "$cmd" ] ;;
	*) die "arguments" "unknown command '$cmd' (try --help)" ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
