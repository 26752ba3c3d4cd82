#!/usr/bin/env bash
# scripts/apps.sh — the stand-ins for the team's apps and their images, built offline: the API and web
# stand-ins and the image packer are static Go binaries from devenv/apps/ (its go.mod and go.sum pin
# every module), and the images are archives (docker save's format, which `ctr images import` reads)
# written by the packer with go-containerregistry: no daemon, no registry. All of it goes into a
# cache OUTSIDE the repository, in a directory named after a digest of the sources and this script.
#
# usage: bash scripts/apps.sh build   build what is missing (a second run does nothing); print the directory
#        bash scripts/apps.sh path    print the directory; exit 1 with one line when it is not built
#
# The directory holds bin/api, bin/web, bin/pack, bin/load (the load generator, docs/traffic.md),
# bin/curl (curl's stand-in for the smoke image) and the local stack's images:
#   images/physioflow-api.tar        registry.local:5000/physioflow-api:<each tag of LOCAL_TAGS>
#   images/physioflow-web-local.tar  registry.local:5000/physioflow-web:<each tag>, LOCAL_WEB_BUILD_ARGS baked in
#   images/physioflow-smoke.tar      SMOKE_IMAGE: the smoke Job's sh and tools (Debian's static busybox:
#                                    busybox-static, fetched with apt-get download into busybox/, never
#                                    installed) and bin/curl
#   images/pause.tar                 registry.local:5000/pause:PAUSE_TAG, the real node's pod sandbox (docs/node.md)
# The local stack's registry and NEXT_PUBLIC_* values are local/localStackConfig.ts's (tests/apps
# checks they agree); an image for another stack is one `bin/pack` run (docs/apps.md).
#
# environment: PHYSIOFLOW_CACHE    cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow)
#              PHYSIOFLOW_BUSYBOX  a static busybox for the smoke image instead of Debian's busybox-static
set -euo pipefail

LOCAL_REGISTRY=registry.local:5000
# The local stack's first tag and the demo's releases.
LOCAL_TAGS=(v1.0.0 v1.1.0 v1.2.0)
LOCAL_WEB_BUILD_ARGS=(
    NEXT_PUBLIC_API_URL=http://physioflow.example.test/api
    NEXT_PUBLIC_APP_URL=http://physioflow.example.test
    NEXT_PUBLIC_KEYCLOAK_URL=http://keycloak.example.test
    NEXT_PUBLIC_KEYCLOAK_REALM=physioflow-local
    NEXT_PUBLIC_KEYCLOAK_CLIENT_ID=physioflow-web
)
# The pods' users (components/blueGreenApp.ts and deployApps.ts) and ports (components/colorSettings.ts).
API_USER=1000 API_PORT=7011 WEB_USER=1001 WEB_PORT=3000
# The local stack's smokeImage (local/localStackConfig.ts), its user the smoke Job's runAsUser
# (components/smokeChecks.ts), and the busybox applets the smoke script runs besides curl.
SMOKE_IMAGE=$LOCAL_REGISTRY/physioflow-smoke:v1 SMOKE_USER=65534
SMOKE_APPLETS=(sh tr grep sort awk sleep printf cat echo env ls)
# The pod sandbox image of the real node (scripts/node.sh names it in containerd's config); 65535 as upstream's.
PAUSE_TAG=3.10 PAUSE_USER=65535

STEP_TAG=apps STEP_SCRIPT=apps.sh
# shellcheck source-path=SCRIPTDIR source=go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../devenv/apps" && pwd)
SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/apps.sh

# A digest of what the products are made from: the Go sources, go.mod, go.sum and this script.
source_digest() {
    (cd "$SRC" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum; sha256sum <"$SCRIPT") |
        sha256sum | cut -c1-16
}

DIR=$CACHE_ROOT/apps/$(source_digest)
BUSYBOX=${PHYSIOFLOW_BUSYBOX:-$DIR/busybox/busybox}
LOGS=$DIR/logs

# Static binaries (no cgo), the modules exactly as go.mod and go.sum pin them (-mod=readonly: a
# build never rewrites them), nothing written into the repository.
build_binary() { # build_binary NAME
    mkdir -p "$DIR/bin"
    cd "$SRC"
    CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w" -o "$DIR/bin/$1.partial" "./$1"
    mv "$DIR/bin/$1.partial" "$DIR/bin/$1"
}
build_api() { build_binary api; }
build_web() { build_binary web; }
build_pack() { build_binary pack; }
build_load() { build_binary load; }
build_curl() { build_binary curl; }
build_pause() { build_binary pause; }

tag_flags() { # tag_flags REPOSITORY: --tag REPOSITORY:TAG for each local tag
    local tag
    for tag in "${LOCAL_TAGS[@]}"; do printf -- '--tag\n%s:%s\n' "$1" "$tag"; done
}

build_api_image() {
    local tags
    mapfile -t tags < <(tag_flags "$LOCAL_REGISTRY/physioflow-api")
    mkdir -p "$DIR/images"
    "$DIR/bin/pack" --binary "$DIR/bin/api" --user "$API_USER" --port "$API_PORT" --env "PORT=$API_PORT" "${tags[@]}" \
        --out "$DIR/images/physioflow-api.tar"
}

# As the team's image is made: `next build` with the build args in its environment, then the files packed.
build_web_image() {
    local tags site=$DIR/site-local arg labels=()
    mapfile -t tags < <(tag_flags "$LOCAL_REGISTRY/physioflow-web")
    for arg in "${LOCAL_WEB_BUILD_ARGS[@]}"; do labels+=(--label "physioflow.build-arg.$arg"); done
    rm -rf "$site"
    env "${LOCAL_WEB_BUILD_ARGS[@]}" "$DIR/bin/web" build --out "$site"
    mkdir -p "$DIR/images"
    "$DIR/bin/pack" --binary "$DIR/bin/web" --user "$WEB_USER" --port "$WEB_PORT" --env "PORT=$WEB_PORT" --dir "$site:/app/site" \
        "${labels[@]}" "${tags[@]}" --out "$DIR/images/physioflow-web-local.tar"
    rm -rf "$site"
}

# Debian's busybox-static, downloaded (apt-get download: nothing installed, so no conflict with a
# busybox the machine has) and unpacked; an apt-get update first when the package lists lack it.
fetch_busybox() {
    local work=$DIR/busybox-download
    rm -rf "$work" && mkdir -p "$work"
    (cd "$work" && apt-get download busybox-static) || { apt-get update -qq && (cd "$work" && apt-get download busybox-static); } || {
        echo "apt-get download busybox-static failed: the smoke image needs a static busybox (or set PHYSIOFLOW_BUSYBOX)" >&2
        return 1
    }
    dpkg-deb -x "$work"/busybox-static_*.deb "$work/root"
    mkdir -p "$DIR/busybox"
    mv "$work/root/bin/busybox" "$DIR/busybox/busybox"
    rm -rf "$work"
}

# The smoke Job's image, offline: busybox (static: the image has no libc) with a link per applet the
# script runs, and curl's stand-in at /app/curl, linked as /bin/curl; PATH=/bin.
build_smoke_image() {
    local root=$DIR/smoke-root applet
    [ -f "$BUSYBOX" ] || { echo "no busybox at $BUSYBOX (PHYSIOFLOW_BUSYBOX)" >&2; return 1; }
    if ldd "$BUSYBOX" >/dev/null 2>&1; then
        echo "$BUSYBOX is linked dynamically; the smoke image has no libc: install Debian's busybox-static" >&2
        return 1
    fi
    rm -rf "$root"
    mkdir -p "$root/bin"
    cp "$BUSYBOX" "$root/bin/busybox"
    for applet in "${SMOKE_APPLETS[@]}"; do ln -s busybox "$root/bin/$applet"; done
    ln -s ../app/curl "$root/bin/curl"
    mkdir -p "$DIR/images"
    "$DIR/bin/pack" --binary "$DIR/bin/curl" --user "$SMOKE_USER" --env PATH=/bin --dir "$root/bin:/bin" \
        --label "physioflow.smoke=busybox $("$BUSYBOX" | head -1 | cut -d' ' -f2) with curl's stand-in" --tag "$SMOKE_IMAGE" --out "$DIR/images/physioflow-smoke.tar"
    rm -rf "$root"
}

build_pause_image() {
    mkdir -p "$DIR/images"
    "$DIR/bin/pack" --binary "$DIR/bin/pause" --user "$PAUSE_USER" --tag "$LOCAL_REGISTRY/pause:$PAUSE_TAG" --out "$DIR/images/pause.tar"
}

PRODUCTS=(bin/api bin/web bin/pack bin/load bin/curl bin/pause images/physioflow-api.tar images/physioflow-web-local.tar images/physioflow-smoke.tar images/pause.tar)

case "${1:-}" in
path)
    for product in "${PRODUCTS[@]}"; do
        [ -e "$DIR/$product" ] || die "path" "the stand-in apps are not built ($DIR/$product); run npm run setup (or bash scripts/apps.sh build)"
    done
    printf '%s\n' "$DIR"
    ;;
build)
    lock_cache apps
    maybe_build api "$DIR/bin/api" build_api "the API stand-in (devenv/apps/api)"
    maybe_build web "$DIR/bin/web" build_web "the web stand-in (devenv/apps/web)"
    maybe_build pack "$DIR/bin/pack" build_pack "the image packer (devenv/apps/pack, go-containerregistry)"
    maybe_build load "$DIR/bin/load" build_load "the load generator (devenv/apps/load)"
    maybe_build curl "$DIR/bin/curl" build_curl "curl's stand-in for the smoke image (devenv/apps/curl)"
    maybe_build api-image "$DIR/images/physioflow-api.tar" build_api_image "$LOCAL_REGISTRY/physioflow-api:{${LOCAL_TAGS[*]}}"
    maybe_build web-image "$DIR/images/physioflow-web-local.tar" build_web_image "$LOCAL_REGISTRY/physioflow-web:{${LOCAL_TAGS[*]}} for the local stack"
    if [ -z "${PHYSIOFLOW_BUSYBOX:-}" ]; then maybe_build busybox "$BUSYBOX" fetch_busybox "Debian's busybox-static (apt-get download)"; fi
    maybe_build smoke-image "$DIR/images/physioflow-smoke.tar" build_smoke_image "$SMOKE_IMAGE (busybox and curl's stand-in)"
    maybe_build pause "$DIR/bin/pause" build_pause "the pod sandbox's pause (devenv/apps/pause)"
    maybe_build api-image "$DIR/images/physioflow-api.tar" build_api_image "$LOCAL_REGISTRY/physioflow-api:{${LOCAL_TAGS[*]}}"
    maybe_build web-image "$DIR/images/physioflow-web-local.tar" build_web_image "$LOCAL_REGISTRY/physioflow-web:{${LOCAL_TAGS[*]}} for the local stack"
    maybe_build pause-image "$DIR/images/pause.tar" build_pause_image "$LOCAL_REGISTRY/pause:$PAUSE_TAG (the real node's pod sandbox)"
    unlock_cache
    printf '%s\n' "$DIR"
    ;;
*)
    die "arguments" "usage: bash scripts/apps.sh build|path"
    ;;
esac
