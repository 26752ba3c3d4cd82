#!/usr/bin/env bash
# scripts/node.sh — a real Kubernetes node beside the control plane of scripts/cluster.sh: kubelet,
# kube-proxy, containerd, runc, the CNI plugins and CoreDNS (the cluster's DNS), running in a network
# namespace of their own, so real pods run, resolve Service names and send real packets across real
# Services without touching the host's network.
# Built from Go modules into a cache OUTSIDE the repository, like the control plane. See docs/node.md.
#
# usage: bash scripts/node.sh build                    build what is missing (seconds when cached); print the bin dir
#        bash scripts/node.sh start CLUSTER_DIR [DIR]  start a node joined to the cluster running in CLUSTER_DIR
#                                                      (what cluster.sh start printed), in DIR (default: a new temp
#                                                      dir); print DIR. DIR/node.env says how to reach it
#             [--owner PID]                            …and stop it when process PID ends (a watchdog)
#             [--name NAME]                            the Node's name (default physioflow-node-0; one per name)
#             [--images DIR]                           import every DIR/*.tar into containerd before the node is Ready
#        bash scripts/node.sh stop DIR                 stop that node and everything it started, delete DIR
#        bash scripts/node.sh exec DIR COMMAND…        run COMMAND in the node's network namespace
#        bash scripts/node.sh relay DIR PORT           the host's 127.0.0.1:PORT reachable by pods at NODE_IP:PORT
#        bash scripts/node.sh import DIR ARCHIVE…      import image archives (docker save's format) into the node's containerd
#
# environment: PHYSIOFLOW_CACHE         cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow)
#              PHYSIOFLOW_NODE_KEEP=1   `stop` keeps DIR (logs) instead of deleting it
set -euo pipefail

# The control plane's pins, cache and helpers (cluster.sh runs nothing when sourced).
# shellcheck source-path=SCRIPTDIR source=cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
STEP_TAG=node STEP_SCRIPT=node.sh

# ---------------------------------------------------------------------------------------------
# Pins (docs/node.md explains each one). K8S_VERSION is the control plane's (cluster.sh).
# ---------------------------------------------------------------------------------------------
CONTAINERD_VERSION=2.4.2 # github.com/containerd/containerd/v2; 2.x is what kubelet 1.36+ supports
RUNC_VERSION=1.5.3       # github.com/opencontainers/runc (cgo, with Debian's libseccomp-dev)
CNI_VERSION=1.10.0       # github.com/containernetworking/plugins
NODE_RECIPE=r1           # bump when a build recipe below changes, so caches rebuild
COREDNS_VERSION=1.15.0   # github.com/coredns/coredns: the node's cluster DNS (a cache directory of its own)
COREDNS_RECIPE=r1        # bump when build_coredns changes

NODE_CACHE=$CACHE_ROOT/node-k8s$K8S_VERSION-containerd$CONTAINERD_VERSION-runc$RUNC_VERSION-cni$CNI_VERSION-$NODE_RECIPE
NODE_BIN=$NODE_CACHE/bin
NODE_SRC=$NODE_CACHE/src
CNI_BIN=$NODE_CACHE/cni
CNI_PLUGINS=(main/bridge ipam/host-local main/loopback meta/portmap)
CONTAINERD_COMMANDS=(containerd containerd-shim-runc-v2 ctr)
# CoreDNS has a cache directory of its own, so adding or changing it never rebuilds the node above.
COREDNS_CACHE=$CACHE_ROOT/coredns-$COREDNS_VERSION-$COREDNS_RECIPE
COREDNS_BIN=$COREDNS_CACHE/bin/coredns
# The plugins the node's Corefile uses (write_node_configs), and nothing else: no forward, no cache.
COREDNS_PLUGINS=(bind errors kubernetes log ready)

check_version() { # check_version BINARY TEXT: `BINARY --version` says TEXT
	local said
	said=$("$1" --version)
	case $said in *"$2"*) ;; *) echo "built $(basename "$1") reports '${said%%$'\n'*}', not $2"; exit 1 ;; esac
}

build_node_kubernetes() {
	build_k8s_commands "$NODE_SRC/kubernetes" kubelet kube-proxy
	local b
	for b in kubelet kube-proxy; do check_version "$NODE_SRC/kubernetes/out/$b" "Kubernetes v$K8S_VERSION"; done
	mv "$NODE_SRC/kubernetes/out/kube-proxy" "$NODE_BIN/kube-proxy"
	mv "$NODE_SRC/kubernetes/out/kubelet" "$NODE_BIN/kubelet"
}

# containerd's own Makefile builds static binaries with cgo off for the shim; the daemon's cgo
# parts (btrfs, devmapper) are snapshotters we do not use: overlayfs and native are pure Go.
build_containerd() {
	local mod=github.com/containerd/containerd/v2 c pkgs=() ldflags
	ldflags="-s -w -X $mod/version.Version=v$CONTAINERD_VERSION -X $mod/version.Revision=physioflow"
	for c in "${CONTAINERD_COMMANDS[@]}"; do pkgs+=("$mod/cmd/$c@v$CONTAINERD_VERSION"); done
	rm -rf "$NODE_SRC/containerd-bin"
	GOBIN=$NODE_SRC/containerd-bin CGO_ENABLED=0 go install -trimpath -tags no_btrfs,no_devmapper,no_zfs -ldflags "$ldflags" "${pkgs[@]}"
	check_version "$NODE_SRC/containerd-bin/containerd" "v$CONTAINERD_VERSION"
	for c in ctr containerd-shim-runc-v2 containerd; do mv "$NODE_SRC/containerd-bin/$c" "$NODE_BIN/$c"; done
}

# runc needs cgo and libseccomp (Debian's libseccomp-dev) for its seccomp filters, as upstream builds it.
build_runc() {
	pkg-config --exists libseccomp || { echo "libseccomp-dev is missing (apt-get install libseccomp-dev pkg-config)"; exit 1; }
	rm -rf "$NODE_SRC/runc-bin"
	GOBIN=$NODE_SRC/runc-bin CGO_ENABLED=1 go install -trimpath -tags seccomp \
		-ldflags "-s -w -X main.version=$RUNC_VERSION -X main.gitCommit=physioflow" "github.com/opencontainers/runc@v$RUNC_VERSION"
	check_version "$NODE_SRC/runc-bin/runc" "runc version $RUNC_VERSION"
	mv "$NODE_SRC/runc-bin/runc" "$NODE_BIN/runc"
}

build_cni() {
	local p pkgs=()
	for p in "${CNI_PLUGINS[@]}"; do pkgs+=("github.com/containernetworking/plugins/plugins/$p@v$CNI_VERSION"); done
	rm -rf "$CNI_BIN.tmp"
	GOBIN=$CNI_BIN.tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$CNI_VERSION" "${pkgs[@]}"
	rm -rf "$CNI_BIN"
	mv "$CNI_BIN.tmp" "$CNI_BIN"
}

# CoreDNS with only COREDNS_PLUGINS: a main package of our own importing coredns's coremain and those
# plugins (its own coredns.go imports all ~60, cloud DNS SDKs included), in a wrapper module whose
# requirements are coredns's go.mod as published (it has no replace directives).
build_coredns() {
	local dir=$COREDNS_CACHE/src p
	rm -rf "$dir"
	mkdir -p "$dir"
	printf 'module physioflow.local/node/coredns\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns v%s\n' "$COREDNS_VERSION" >"$dir/go.mod"
	{
		printf '// CoreDNS with the plugins the real node uses; generated by scripts/node.sh (build_coredns).\npackage main\n\nimport (\n'
		printf '\t"github.com/coredns/coredns/coremain"\n\n'
		for p in "${COREDNS_PLUGINS[@]}"; do printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"; done
		printf ')\n\nfunc main() { coremain.Run() }\n'
	} >"$dir/main.go"
	cd "$dir"
	go mod tidy
	CGO_ENABLED=0 "${GO_BUILD[@]}" -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=physioflow" -o "$dir/coredns" .
	"$dir/coredns" -version | grep -qx "CoreDNS-$COREDNS_VERSION" ||
		{ echo "built coredns reports '$("$dir/coredns" -version | head -1)', not CoreDNS-$COREDNS_VERSION"; exit 1; }
	mkdir -p "$(dirname "$COREDNS_BIN")"
	mv "$dir/coredns" "$COREDNS_BIN"
}

ensure_node_built() {
	ensure_go
	mkdir -p "$NODE_BIN" "$NODE_SRC"
	LOGS=$NODE_CACHE/logs
	lock_cache node
	local t0
	t0=$(date +%s)
	say "node cache: $NODE_CACHE ($(go version | cut -d' ' -f3), $(nproc) cores)"
	maybe_build runc "$NODE_BIN/runc" build_runc "runc v$RUNC_VERSION (github.com/opencontainers/runc, cgo + libseccomp)"
	maybe_build cni "$CNI_BIN/portmap" build_cni "CNI plugins v$CNI_VERSION: ${CNI_PLUGINS[*]##*/}"
	maybe_build containerd "$NODE_BIN/containerd" build_containerd "containerd v$CONTAINERD_VERSION: ${CONTAINERD_COMMANDS[*]}"
	maybe_build kubelet "$NODE_BIN/kubelet" build_node_kubernetes "kubelet, kube-proxy v$K8S_VERSION (k8s.io/kubernetes; 5-15 min cold)"
	LOGS=$COREDNS_CACHE/logs
	maybe_build coredns "$COREDNS_BIN" build_coredns "CoreDNS v$COREDNS_VERSION with ${COREDNS_PLUGINS[*]} (github.com/coredns/coredns)"
	unlock_cache
	rm -rf "$NODE_SRC" "$COREDNS_CACHE/src"
	say "timings: ${TIMINGS[*]}; ready in $(($(date +%s) - t0))s"
}


# ---------------------------------------------------------------------------------------------
# start / stop. A node is a directory (configs, containerd's root and state, kubelet's root, logs,
# pid files, node.env) plus three things outside it, all made here and removed by stop:
#   - a network and a mount namespace, held by one process (`holder`): the node's daemons, its pods
#     and its iptables rules live in them and die with them. Nothing in it reaches the host's
#     network: it has loopback, a veth pair with the node's IP whose peer stays down (its default route, so a packet
#     to an unknown address is dropped there) and the pods' bridge. The API server (and any port
#     given to `relay`) is relayed in from the host's loopback over a Unix socket in DIR.
#   - a cgroup in every hierarchy, UNDER the cgroup this script runs in: every process of the node
#     (daemons, shims, containers, relays) runs in it, so stop kills them all and removes it.
#   - the Node object in the cluster (deleted by stop; its pods are then collected by the cluster).
# ---------------------------------------------------------------------------------------------
REAL_NODE_NAME=physioflow-node-0
NODE_IP=10.250.0.1       # the node's address inside its namespace (on pfnode0, a veth whose peer stays down)
NODE_POD_CIDR=10.245.0.0/24 # the real pods; apart from kwok's 10.244.0.0/16
NODE_POD_GATEWAY=10.245.0.1
NODE_LABEL=physioflow.dev/node # =real on this node, label and NoSchedule taint: only pods that ask run here
SANDBOX_IMAGE=registry.local:5000/pause:3.10 # scripts/apps.sh packs it (devenv/apps/pause)
CLUSTER_DOMAIN=cluster.local # CoreDNS answers it on NODE_IP:DNS_PORT; kubelet's clusterDNS
DNS_PORT=53 DNS_READY_PORT=8181 # both inside the node's namespace only
# The sysctls kubelet sets on a node (kernel-wide, not per namespace): inside the node's mount
# namespace each is hidden by a file holding the value kubelet wants, so it reads that and changes
# nothing on the machine (protectKernelDefaults: true makes it fail rather than write).
KUBELET_SYSCTLS=(vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1
	kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000)

# own_cgroups: "MOUNTPOINT OWN_PATH" for each hierarchy this process is in (v1 and the unified one)
own_cgroups() {
	local id ctrls path mnt
	while IFS=: read -r id ctrls path; do
		mnt=$(awk -v want="$ctrls" '
			{ split($0, halves, " - "); split(halves[2], f, " ") }
			want == "" && f[1] == "cgroup2" { print $4, $5; exit }
			want != "" && f[1] == "cgroup" {
				n = split(f[3], opts, ","); delete have; for (i = 1; i <= n; i++) have[opts[i]] = 1
				m = split(want, w, ","); ok = 1; for (i = 1; i <= m; i++) if (!(w[i] in have)) ok = 0
				if (ok) { print $4, $5; exit }
			}' /proc/self/mountinfo)
		[ -n "$mnt" ] || continue # a hierarchy that is not mounted here
		[ "${mnt%% *}" = / ] || die "cgroups" "the $ctrls hierarchy is mounted from its ${mnt%% *}, not its root; cannot place the node's cgroup (id $id)"
		printf '%s %s\n' "${mnt#* }" "$path"
	done </proc/self/cgroup
}

# One path for the node's cgroup in every hierarchy (kubelet's cgroupfs driver uses one path for all):
# under the deepest of this process's own cgroups, which must contain the others.
node_cgroup_path() {
	local deepest=/ mnt path
	while read -r mnt path; do [ ${#path} -le ${#deepest} ] || deepest=$path; done < <(own_cgroups)
	while read -r mnt path; do
		case "${deepest%/}/" in "${path%/}/"*) ;; *) die "cgroups" "this process's cgroups $path ($mnt) and $deepest are not nested; no node cgroup can be under both" ;; esac
	done < <(own_cgroups)
	printf '%s/%s\n' "${deepest%/}" "$(basename "$DIR")"
}

# make_cgroups: DIR/cgroup-path's cgroup (and DIR/cgroup-path/daemons) in every hierarchy. Each
# directory made is listed in DIR/cgroups (outermost first) for remove_cgroups; cpuset's are given their
# parent's cpus and mems, as a new cpuset has none.
make_cgroups() {
	local mnt path rel part d
	CGROUP_PATH=$(node_cgroup_path)
	echo "$CGROUP_PATH" >"$DIR/cgroup-path"
	: >"$DIR/cgroups"
	: >"$DIR/cgroups.shared"
	while read -r mnt path; do
		rel=${CGROUP_PATH#"${path%/}"}
		d=$mnt${path%/}
		# The levels between this process's cgroup and the node's exist where another hierarchy is
		# deeper (e.g. memory): made when missing, shared with any other node, removed when empty.
		for part in $(echo "${rel#/}" | tr / ' ') daemons; do
			d=$d/$part
			if [ "$part" = "$(basename "$DIR")" ] || [ "$part" = daemons ]; then
				mkdir "$d" || return 1
				[ "$part" = daemons ] || echo "$d" >>"$DIR/cgroups"
			elif [ ! -d "$d" ]; then
				mkdir "$d" 2>/dev/null || [ -d "$d" ] || return 1
				echo "$d" >>"$DIR/cgroups.shared"
			fi
			if [ -f "$d/cpuset.cpus" ] && [ -z "$(tr -d '[:space:]' <"$d/cpuset.cpus")" ]; then
				cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus" && cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems" || return 1
			fi
		done
		DAEMON_PROCS+=" $d/cgroup.procs"
	done < <(own_cgroups)
	echo "$DAEMON_PROCS" >"$DIR/daemon-procs"
}

# node_pids: every process in the node's cgroup subtree (any hierarchy holds them all)
node_pids() {
	local top
	[ -f "$DIR/cgroups" ] || return 0
	while read -r top; do
		[ -d "$top" ] && find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null
	done <"$DIR/cgroups" | sort -un
}

# kill every process in the node's cgroups until none is left, then remove them, innermost first
remove_cgroups() {
	local tries=0 pids d
	[ -f "$DIR/cgroups" ] || return 0
	while pids=$(node_pids) && [ -n "$pids" ]; do
		# shellcheck disable=SC2086 # one pid per word
		kill -KILL $pids 2>/dev/null || true
		tries=$((tries + 1))
		[ "$tries" -lt 200 ] || { say "stop: processes ${pids//$'\n'/ } of the node's cgroup would not die"; return 1; }
		sleep 0.05
	done
	while read -r d; do
		[ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || [ ! -d "$d" ] || { say "stop: could not remove cgroup $d"; return 1; }
	done <"$DIR/cgroups"
	# the shared levels made for this node: removed unless another node uses them now
	if [ -f "$DIR/cgroups.shared" ]; then
		tac "$DIR/cgroups.shared" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
	fi
	rm -f "$DIR/cgroups" "$DIR/cgroups.shared"
}

# launch_node NAME COMMAND…: like cluster.sh's launch, in the node's daemons cgroup
launch_node() {
	local name=$1
	shift
	# shellcheck disable=SC2016 # the child's own script: it moves itself, then becomes COMMAND
	launch "$name" bash -c 'for f in $NODE_DAEMON_PROCS; do echo $$ >"$f" || exit 1; done; exec "$@"' node-cgroup "$@"
}

# ns COMMAND…: COMMAND in the node's namespaces (network and mount); NS is that prefix, for launch_node
ns() { nsenter --mount="/proc/$HOLDER/ns/mnt" --net="/proc/$HOLDER/ns/net" -- "$@"; }

start_holder() {
	local sysctl setup
	setup='set -e
		mount -t tmpfs -o mode=755,size=64m physioflow-node-run /run
		mkdir -p /run/physioflow-sysctls'
	for sysctl in "${KUBELET_SYSCTLS[@]}"; do
		setup+="
		f=/run/physioflow-sysctls/${sysctl%%=*}; mkdir -p \"\$(dirname \"\$f\")\"; echo ${sysctl#*=} >\"\$f\"; mount --bind \"\$f\" /proc/sys/${sysctl%%=*}"
	done
	setup+="
		ip link set lo up
		ip link add pfnode0 type veth peer name pfnode1
		ip addr add $NODE_IP/32 dev pfnode0
		ip link set pfnode0 up
		ip route add default dev pfnode0
		echo 1 >/proc/sys/net/ipv4/ip_forward
		if [ -f /proc/sys/net/bridge/bridge-nf-call-iptables ]; then echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables; fi
		touch $DIR/holder-ready
		exec sleep infinity"
	launch_node holder unshare --mount --net --propagation slave -- bash -c "$setup"
	wait_for "the node's namespaces" 10 holder test -f "$DIR/holder-ready" || return 1
	HOLDER=$(cat "$DIR/pids/holder")
	NS=(nsenter --mount="/proc/$HOLDER/ns/mnt" --net="/proc/$HOLDER/ns/net" --)
}

# relay NAME PORT: the host's 127.0.0.1:PORT reachable inside the node's namespace on PORT, on its
# loopback and the node's IP (so pods reach it at NODE_IP:PORT), through DIR/relay/NAME.sock.
start_relay() {
	local name=$1 port=$2 sock=$DIR/relay/$1.sock bind=${3:-0.0.0.0}
	mkdir -p "$DIR/relay"
	launch_node "relay-$name-host" socat "UNIX-LISTEN:$sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port"
	wait_for "the $name relay's socket" 10 "relay-$name-host" test -S "$sock" || return 1
	launch_node "relay-$name-node" nsenter --net="/proc/$HOLDER/ns/net" -- socat "TCP-LISTEN:$port,bind=$bind,fork,reuseaddr" "UNIX-CONNECT:$sock"
	wait_for "the $name relay in the node" 10 "relay-$name-node" ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || return 1
}

write_node_configs() {
	mkdir -p "$DIR/cni/net.d" "$DIR/cni/ipam" "$DIR/containerd" "$DIR/kubelet" "$DIR/pod-logs"
	cat >"$DIR/cni/net.d/10-physioflow.conflist" <<-EOF
		{
		  "cniVersion": "1.0.0",
		  "name": "physioflow-node",
		  "plugins": [
		    {
		      "type": "bridge", "bridge": "pfbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
		      "ipam": {
		        "type": "host-local", "dataDir": "$DIR/cni/ipam",
		        "ranges": [[{ "subnet": "$NODE_POD_CIDR", "gateway": "$NODE_POD_GATEWAY" }]],
		        "routes": [{ "dst": "0.0.0.0/0" }]
		      }
		    },
		    { "type": "portmap", "capabilities": { "portMappings": true } }
		  ]
		}
	EOF
	cat >"$DIR/containerd/config.toml" <<-EOF
		version = 3
		root = "$DIR/containerd/root"
		state = "$DIR/containerd/state"
		[grpc]
		  address = "$DIR/containerd.sock"
		[ttrpc]
		  address = "$DIR/containerd.sock.ttrpc"
		[debug]
		  address = ""
		[plugins.'io.containerd.cri.v1.images']
		  snapshotter = "overlayfs"
		  [plugins.'io.containerd.cri.v1.images'.pinned_images]
		    sandbox = "$SANDBOX_IMAGE"
		[plugins.'io.containerd.cri.v1.runtime']
		  netns_mounts_under_state_dir = true
		  # kubelet asks -998 for the sandbox; lowering oom_score_adj needs CAP_SYS_RESOURCE, which this
		  # machine's root lacks (runc init fails with "Permission denied"): keep containerd's own.
		  restrict_oom_score_adj = true
		  enable_cdi = false
		  [plugins.'io.containerd.cri.v1.runtime'.cni]
		    bin_dirs = ["$CNI_BIN"]
		    conf_dir = "$DIR/cni/net.d"
		  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
		    runtime_type = "io.containerd.runc.v2"
		    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
		      BinaryName = "$NODE_BIN/runc"
		      SystemdCgroup = false
		[plugins.'io.containerd.grpc.v1.cri']
		  disable_tcp_service = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
	EOF
	# As kind sets them: images imported here are never collected, and a full disk evicts nothing.
	cat >"$DIR/kubelet/config.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		failCgroupV1: false
		cgroupDriver: cgroupfs
		cgroupRoot: $CGROUP_PATH
		cgroupsPerQOS: true
		failSwapOn: false
		protectKernelDefaults: true
		containerRuntimeEndpoint: unix://$DIR/containerd.sock
		address: 127.0.0.1
		port: 10250
		readOnlyPort: 0
		healthzBindAddress: 127.0.0.1
		healthzPort: 10248
		authentication: { anonymous: { enabled: false }, webhook: { enabled: false } }
		authorization: { mode: AlwaysAllow }
		podLogsDir: $DIR/pod-logs
		resolvConf: ""
		clusterDNS: [$NODE_IP]
		clusterDomain: $CLUSTER_DOMAIN
		imageGCHighThresholdPercent: 100
		evictionHard: { imagefs.available: "0%", nodefs.available: "0%", nodefs.inodesFree: "0%" }
		localStorageCapacityIsolation: false
		serializeImagePulls: false
		registerWithTaints: [{ key: $NODE_LABEL, value: real, effect: NoSchedule }]
		nodeStatusReportFrequency: 10s
		fileCheckFrequency: 0s
		staticPodPath: ""
	EOF
	# The cluster's DNS: Service names of every namespace, from the API server through the relay, on
	# the node's IP (pods reach it through their bridge's gateway). cluster.local only: a name outside
	# it is REFUSED, never forwarded (no forward plugin is even built in); denials and errors logged.
	mkdir -p "$DIR/coredns"
	cat >"$DIR/coredns/Corefile" <<-EOF
		$CLUSTER_DOMAIN:$DNS_PORT {
		    bind $NODE_IP
		    errors
		    log . {
		        class denial error
		    }
		    ready 127.0.0.1:$DNS_READY_PORT
		    kubernetes $CLUSTER_DOMAIN {
		        kubeconfig $CLUSTER_DIR_ARG/kubeconfig
		        pods disabled
		        ttl 5
		    }
		}
	EOF
	cat >"$DIR/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		clientConnection: { kubeconfig: $CLUSTER_DIR_ARG/kubeconfig }
		hostnameOverride: $REAL_NODE_NAME
		mode: iptables
		clusterCIDR: $NODE_POD_CIDR
		bindAddress: $NODE_IP
		healthzBindAddress: 127.0.0.1:10256
		metricsBindAddress: 127.0.0.1:10249
		iptables: { localhostNodePorts: false }
		# no conntrack table sizing (a kernel-wide setting) from a namespace that is not the host's
		conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
	EOF
}

start_node() {
	local apiserver_port images=$1 archive
	apiserver_port=$(sed -n 's#^APISERVER_URL=https://127.0.0.1:##p' "$CLUSTER_DIR_ARG/cluster.env")
	[ -n "$apiserver_port" ] || { say "no APISERVER_URL in $CLUSTER_DIR_ARG/cluster.env"; return 1; }
	DAEMON_PROCS=
	make_cgroups || { say "could not make the node's cgroups under $(node_cgroup_path)"; return 1; }
	export NODE_DAEMON_PROCS=$DAEMON_PROCS
	start_holder || return 1
	start_relay apiserver "$apiserver_port" 127.0.0.1 || return 1
	write_node_configs

	launch_node coredns "${NS[@]}" "$COREDNS_BIN" -conf "$DIR/coredns/Corefile"
	launch_node containerd "${NS[@]}" env PATH="$NODE_BIN:$PATH" "$NODE_BIN/containerd" --config "$DIR/containerd/config.toml"
	wait_for "containerd" 30 containerd "$NODE_BIN/ctr" --address "$DIR/containerd.sock" version || return 1
	if [ -n "$images" ]; then
		for archive in "$images"/*.tar; do
			[ -f "$archive" ] || continue
			"$NODE_BIN/ctr" --address "$DIR/containerd.sock" -n k8s.io images import "$archive" >>"$DIR/logs/images.log" 2>&1 ||
				{ tail -n 5 "$DIR/logs/images.log" | sed 's/^/    | /' >&2; say "could not import $archive"; return 1; }
		done
	fi
	local check
	check=$("$NODE_BIN/ctr" --address "$DIR/containerd.sock" -n k8s.io images check "name==$SANDBOX_IMAGE" 2>&1) || true
	[[ $check == *complete* ]] ||
		{ say "the pod sandbox image $SANDBOX_IMAGE is not imported (give --images DIR holding the archives of scripts/apps.sh)"; return 1; }

	launch_node kubelet "${NS[@]}" env PATH="$NODE_BIN:$PATH" "$NODE_BIN/kubelet" --config "$DIR/kubelet/config.yaml" \
		--kubeconfig "$CLUSTER_DIR_ARG/kubeconfig" --root-dir "$DIR/kubelet" --cert-dir "$DIR/kubelet/pki" \
		--hostname-override "$REAL_NODE_NAME" --node-ip "$NODE_IP" --node-labels "$NODE_LABEL=real" --v 1
	launch_node kube-proxy "${NS[@]}" "$NODE_BIN/kube-proxy" --config "$DIR/kube-proxy.yaml" --v 1
	KUBECONFIG_ARG=$CLUSTER_DIR_ARG/kubeconfig
	wait_for "node $REAL_NODE_NAME Ready" 90 kubelet \
		"$BIN/kubectl" --kubeconfig "$KUBECONFIG_ARG" wait --for condition=Ready --timeout=2s "node/$REAL_NODE_NAME" || return 1
	wait_for "kube-proxy /healthz" 30 kube-proxy ns curl -fsS http://127.0.0.1:10256/healthz || return 1
	# Ready once its Service and EndpointSlice informers have synced through the relay.
	wait_for "CoreDNS ready (Services read from the API server)" 30 coredns ns curl -fsS "http://127.0.0.1:$DNS_READY_PORT/ready" || return 1

	cat >"$DIR/node.env" <<-EOF
		PHYSIOFLOW_NODE_DIR=$DIR
		PHYSIOFLOW_CLUSTER_DIR=$CLUSTER_DIR_ARG
		NODE_NAME=$REAL_NODE_NAME
		NODE_IP=$NODE_IP
		NODE_POD_CIDR=$NODE_POD_CIDR
		NODE_LABEL=$NODE_LABEL=real
		NODE_TAINT=$NODE_LABEL=real:NoSchedule
		NETNS=/proc/$HOLDER/ns/net
		MOUNTNS=/proc/$HOLDER/ns/mnt
		CONTAINERD_ADDRESS=$DIR/containerd.sock
		CLUSTER_DNS=$NODE_IP
		CLUSTER_DOMAIN=$CLUSTER_DOMAIN
	EOF
}

# The node's processes in the order they are stopped.
NODE_SERVERS=(kube-proxy kubelet coredns containerd)

stop_node() {
	local pid
	[ ! -f "$DIR/node-name" ] || REAL_NODE_NAME=$(cat "$DIR/node-name")
	# The Node object first, while the API server is there: the cluster then collects its pods.
	if [ -f "$DIR/cluster-dir" ] && [ -f "$(cat "$DIR/cluster-dir")/kubeconfig" ]; then
		timeout 10 "$BIN/kubectl" --kubeconfig "$(cat "$DIR/cluster-dir")/kubeconfig" delete node "$REAL_NODE_NAME" \
			--ignore-not-found --wait=false >/dev/null 2>&1 || true
	fi
	stop_pids 3 watchdog "${NODE_SERVERS[@]}"
	# Then everything left in the node's cgroups (containers, shims, relays, the holder) is killed and
	# the cgroups removed; the namespaces, their mounts, interfaces and iptables rules go with the holder.
	remove_cgroups || return 1
	for pid in "$DIR"/pids/*; do
		[ -f "$pid" ] || continue
		kill -KILL "$(cat "$pid")" 2>/dev/null || true
		rm -f "$pid"
	done
}

NODE_SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

start_node_watchdog() {
	# shellcheck disable=SC2016 # the watchdog's own script
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null && [ -d "$2/pids" ]; do sleep 1; done
		[ ! -d "$2/pids" ] || exec bash "$3" stop "$2"' node-watchdog "$1" "$DIR" "$NODE_SCRIPT" </dev/null >/dev/null 2>&1 &
	echo $! >"$DIR/pids/watchdog"
}

cmd_node_start() {
	local owner='' images=''
	CLUSTER_DIR_ARG='' DIR=''
	while [ $# -gt 0 ]; do
		case $1 in
		--owner) owner=${2:?--owner needs a pid}; shift 2 ;;
		--images) images=${2:?--images needs a directory}; shift 2 ;;
		--name) REAL_NODE_NAME=${2:?--name needs a name}; shift 2 ;;
		-*) die "arguments" "unknown option '$1' for start (try --help)" ;;
		*) if [ -z "$CLUSTER_DIR_ARG" ]; then CLUSTER_DIR_ARG=$1; else DIR=$1; fi; shift ;;
		esac
	done
	[ -n "$CLUSTER_DIR_ARG" ] || die "arguments" "start needs the cluster's directory (what cluster.sh start printed)"
	[ "$(id -u)" = 0 ] || die "start" "a node needs root (namespaces, cgroups, mounts)"
	[ -d "$CLUSTER_DIR_ARG" ] || die "start" "no cluster runs in $CLUSTER_DIR_ARG (start one with scripts/cluster.sh start)"
	CLUSTER_DIR_ARG=$(cd "$CLUSTER_DIR_ARG" && pwd)
	{ [ -f "$CLUSTER_DIR_ARG/cluster.env" ] && [ -f "$CLUSTER_DIR_ARG/pids/kube-apiserver" ]; } ||
		die "start" "no cluster runs in $CLUSTER_DIR_ARG (start one with scripts/cluster.sh start)"
	local b
	for b in kubelet kube-proxy containerd containerd-shim-runc-v2 ctr runc; do
		[ -x "$NODE_BIN/$b" ] || die "start" "$NODE_BIN/$b is missing: run 'bash scripts/node.sh build' (or npm run setup) first"
	done
	[ -x "$COREDNS_BIN" ] || die "start" "$COREDNS_BIN is missing: run 'bash scripts/node.sh build' (or npm run setup) first"
	[ -x "$BIN/kubectl" ] || die "start" "$BIN/kubectl is missing: run 'npm run cluster -- build' first"
	for b in socat iptables conntrack unshare nsenter ip curl; do
		command -v "$b" >/dev/null || die "start" "$b is missing (apt-get install socat iptables conntrack util-linux iproute2 curl)"
	done
	[ -z "$images" ] || [ -d "$images" ] || die "start" "--images $images is not a directory"
	[ -z "$images" ] || images=$(cd "$images" && pwd)
	if [ -z "$DIR" ]; then DIR=$(mktemp -d "${TMPDIR:-/tmp}/physioflow-node.XXXXXX"); else mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd); fi
	[ ! -d "$DIR/pids" ] || die "start" "$DIR already holds a node; stop it first (bash scripts/node.sh stop $DIR)"
	mkdir -p "$DIR/logs" "$DIR/pids"
	echo "$CLUSTER_DIR_ARG" >"$DIR/cluster-dir"
	echo "$REAL_NODE_NAME" >"$DIR/node-name"
	[ -z "$owner" ] || start_node_watchdog "$owner"
	local t0
	t0=$(date +%s%N)
	if ! start_node "$images"; then
		stop_node || true
		[ "${PHYSIOFLOW_NODE_KEEP:-0}" = 1 ] || rm -rf "$DIR"
		die "start" "the node did not come up (logs: $DIR/logs when PHYSIOFLOW_NODE_KEEP=1)"
	fi
	say "start: node $REAL_NODE_NAME ready in $((($(date +%s%N) - t0) / 1000000)) ms; $DIR/node.env"
	echo "$DIR"
}

cmd_node_stop() {
	DIR=${1:-}
	[ -n "$DIR" ] || die "arguments" "stop needs the node's directory (what start printed)"
	[ -d "$DIR/pids" ] || { say "stop: no node running in $DIR"; return 0; }
	DIR=$(cd "$DIR" && pwd)
	stop_node || die "stop" "the node's processes or cgroups could not all be removed (see above; $DIR kept)"
	if [ "${PHYSIOFLOW_NODE_KEEP:-0}" = 1 ]; then rm -rf "$DIR/pids"; say "stop: stopped; kept $DIR"; else rm -rf "$DIR"; fi
}

cmd_node_relay() {
	local local_port=${2:-}
	DIR=${1:-}
	{ [ -n "$DIR" ] && [ -n "$local_port" ]; } || die "arguments" "relay needs the node's directory and a port"
	[ -f "$DIR/node.env" ] || die "relay" "no node runs in $DIR"
	DIR=$(cd "$DIR" && pwd)
	HOLDER=$(cat "$DIR/pids/holder")
	export NODE_DAEMON_PROCS
	NODE_DAEMON_PROCS=$(cat "$DIR/daemon-procs")
	start_relay "port-$local_port" "$local_port" || die "relay" "could not relay 127.0.0.1:$local_port into the node (logs: $DIR/logs)"
	echo "$NODE_IP:$local_port"
}

cmd_node_import() {
	local archive
	DIR=${1:-}
	{ [ -n "$DIR" ] && [ $# -ge 2 ]; } || die "arguments" "import needs the node's directory and at least one image archive"
	[ -f "$DIR/node.env" ] || die "import" "no node runs in $DIR"
	shift
	for archive in "$@"; do
		[ -f "$archive" ] || die "import" "no image archive at $archive"
		"$NODE_BIN/ctr" --address "$DIR/containerd.sock" -n k8s.io images import "$archive" >>"$DIR/logs/images.log" 2>&1 ||
			die "import" "ctr could not import $archive (log: $DIR/logs/images.log)"
	done
}

cmd_node_exec() {
	DIR=${1:-}
	{ [ -n "$DIR" ] && [ $# -ge 2 ]; } || die "arguments" "exec needs the node's directory and a command"
	[ -f "$DIR/pids/holder" ] || die "exec" "no node runs in $DIR"
	shift
	exec nsenter --net="/proc/$(cat "$DIR/pids/holder")/ns/net" -- "$@"
}

# ---------------------------------------------------------------------------------------------
node_main() {
	local cmd=${1:-}
	case "$cmd" in
	build) ensure_node_built; echo "$NODE_BIN" ;;
	start) shift; cmd_node_start "$@" ;;
	stop) shift; cmd_node_stop "$@" ;;
	relay) shift; cmd_node_relay "$@" ;;
	exec) shift; cmd_node_exec "$@" ;;
	import) shift; cmd_node_import "$@" ;;
	-h | --help | "") sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; [ -n "$cmd" ] ;;
	*) die "arguments" "unknown command '$cmd' (try --help)" ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then node_main "$@"; fi
