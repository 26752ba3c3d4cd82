#!/usr/bin/env bash
# scripts/s3-server.sh — the S3-compatible server the backup tests upload to: SeaweedFS (Apache-2.0;
# not MinIO, which is AGPL), built from its Go module into a cache OUTSIDE the repository. It accepts
# PutBucketLifecycleConfiguration and GetBucketLifecycleConfiguration (expiration-in-days rules),
# which the tests need; tests/support/s3.ts starts it.
#
# usage: bash scripts/s3-server.sh build   build it when missing (a second run does nothing); print its path
#        bash scripts/s3-server.sh path    print its path; exit 1 with one line when it is not built
#
# environment: PHYSIOFLOW_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow); the
#              binary is <cache root>/s3-server/<version>/weed
set -euo pipefail

SEAWEEDFS_VERSION="v0.0.0-20261109003541-7506e5f91cd6"
SEAWEEDFS_PKG=github.com/seaweedfs/seaweedfs/weed

# The cache root, progress on stderr, one-line errors, cached steps.
STEP_TAG=s3-server STEP_SCRIPT=s3-server.sh
# shellcheck source-path=SCRIPTDIR source=go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"

DIR=$CACHE_ROOT/s3-server/$SEAWEEDFS_VERSION
BIN=$DIR/weed
LOGS=$DIR/logs

# `go install pkg@version` refuses modules whose go.mod has replace directives, so build through a
# throw-away main module that repeats SeaweedFS's replace.
build_seaweedfs() {
    local work=$DIR/src
    rm -rf "$work"
    mkdir -p "$work"
    cd "$work"
    cat >go.mod <<-MOD
	module physioflow.local/s3server

	go 1.26

	replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
	MOD
    go get "$SEAWEEDFS_PKG@$SEAWEEDFS_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$BIN.partial" "$SEAWEEDFS_PKG"
    mv "$BIN.partial" "$BIN"
    cd "$DIR"
    rm -rf "$work"
}

case "${1:-}" in
path)
    [ -x "$BIN" ] || die "path" "SeaweedFS $SEAWEEDFS_VERSION is not built ($BIN); run npm run setup (or bash scripts/s3-server.sh build)"
    printf '%s\n' "$BIN"
    ;;
build)
    lock_cache s3-server
    maybe_build seaweedfs "$BIN" build_seaweedfs "SeaweedFS $SEAWEEDFS_VERSION ($SEAWEEDFS_PKG; several minutes on a cold Go cache)"
    unlock_cache
    printf '%s\n' "$BIN"
    ;;
*)
    die "arguments" "usage: bash scripts/s3-server.sh build|path"
    ;;
esac
