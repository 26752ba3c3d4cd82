#!/usr/bin/env bash
# npm run setup: everything the tests and `npm run local` need, on a fresh Debian machine.
#   PostgreSQL server and client (apt, when missing and run as root)
#   Prometheus (apt, when missing and run as root; the tests start their own, never the system service)
#   the S3-compatible test server (SeaweedFS, built from Go modules, cached)
#   the Pulumi engine (built from Go modules, or an existing install; cached)
#   the Kubernetes control plane for tests and npm run local (etcd, kube-apiserver, controller-manager,
#     scheduler, kubectl, kwok; built from Go modules, cached)
#   the stand-ins for the team's apps and their images (static Go binaries and image archives, built
#     offline from devenv/apps/, cached; about 40 s cold)
#   actionlint and shellcheck, which the tests run over .github/workflows/ (actionlint built from
#     Go modules, cached; shellcheck from apt)
#   GNU time (apt), for npm run bench's peak memory
#   the npm packages (npm ci; install scripts are off, see .npmrc)
# Each step is skipped when already done; a failure names the step.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d /usr/local/go/bin ] && export PATH="$PATH:/usr/local/go/bin"

step() { printf '\n== setup: %s\n' "$*" >&2; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

step "PostgreSQL"
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v pg_dump >/dev/null; then
    echo "already installed: $(printf '%s ' /usr/lib/postgresql/*/)" >&2
elif [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq postgresql postgresql-contrib >/dev/null || fail "apt-get install postgresql failed"
else
    fail "PostgreSQL is missing; install it (sudo apt-get install postgresql) and run again"
fi

step "Prometheus (for the watch's error-rate tests)"
if [ -x /usr/bin/prometheus ]; then
    echo "already installed: $(/usr/bin/prometheus --version 2>&1 | head -1)" >&2
elif [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null || fail "apt-get install prometheus failed"
    # The package's postinst starts a system Prometheus on :9090 where services may start (systemd, or
    # its init script when no policy-rc.d forbids it). The tests start their own on free loopback
    # ports and nothing here wants a second one scraping and writing to /var/lib/prometheus: stop and disable it.
    if [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ]; then
        /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
else
    fail "Prometheus is missing; install it (sudo apt-get install prometheus) and run again"
fi

step "S3-compatible test server"
bash scripts/s3-server.sh build >/dev/null || fail "building the S3 test server failed (see above)"

step "Pulumi engine"
bash scripts/engine.sh >/dev/null || fail "the Pulumi engine is not available (see above; docs/engine.md)"

step "Kubernetes control plane"
for tool in openssl curl; do
    command -v "$tool" >/dev/null || { [ "$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; } ||
        fail "$tool is missing; install it (sudo apt-get install $tool) and run again"
done
bash scripts/cluster.sh build >/dev/null || fail "building the Kubernetes control plane failed (see above; docs/cluster.md)"

step "The real node (kubelet, kube-proxy, containerd, runc, CNI plugins)"
for pkg in iptables:iptables socat:socat conntrack:conntrack pkg-config:pkg-config; do
    command -v "${pkg%%:*}" >/dev/null || { [ "$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq "${pkg#*:}" >/dev/null; } ||
        fail "${pkg#*:} is missing; install it (sudo apt-get install ${pkg#*:}) and run again"
done
pkg-config --exists libseccomp || { [ "$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq libseccomp-dev >/dev/null; } ||
    fail "libseccomp-dev is missing (runc's build needs it); install it (sudo apt-get install libseccomp-dev) and run again"
bash scripts/node.sh build >/dev/null || fail "building the real node failed (see above; docs/node.md)"

step "Stand-in apps and their images"
bash scripts/apps.sh build >/dev/null || fail "building the stand-in apps failed (see above; docs/apps.md)"

step "GitHub Actions workflow checker"
command -v shellcheck >/dev/null || { [ "$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; } ||
    fail "shellcheck is missing; install it (sudo apt-get install shellcheck) and run again"
bash scripts/actionlint.sh build >/dev/null || fail "building actionlint failed (see above)"

step "GNU time (npm run bench reads peak memory with it)"
[ -x /usr/bin/time ] || { [ "$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq time >/dev/null; } ||
    fail "/usr/bin/time is missing; install it (sudo apt-get install time) and run again"

step "npm packages"
npm ci --no-audit --no-fund || fail "npm ci failed"

printf '\nsetup: done. Next: npm test, or npm run local\n' >&2
