#!/usr/bin/env bash
# Builds the S3-compatible server the backup tests upload to: SeaweedFS
# (Apache-2.0), from the Go module proxy, into a per-version cache directory.
# It is not MinIO (AGPL). It accepts PutBucketLifecycleConfiguration and
# GetBucketLifecycleConfiguration (expiration-in-days rules), which the tests need.
# Prints the binary's path. Re-running with the binary present does nothing.
set -euo pipefail

SEAWEEDFS_VERSION="v0.0.0-20261109003541-7506e5f91cd6"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/physioflow/s3-server/${SEAWEEDFS_VERSION}"
BIN="${CACHE_ROOT}/weed"

if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi

export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null 2>&1; then
    echo "install-s3-server: the Go toolchain is needed to build SeaweedFS (install Go, e.g. apt-get install golang-go)" >&2
    exit 1
fi

# `go install pkg@version` refuses modules whose go.mod has replace directives,
# so build through a throw-away main module that repeats SeaweedFS's replace.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > go.mod <<MOD
module physioflow.local/s3server

go 1.26

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
MOD
echo "install-s3-server: building SeaweedFS ${SEAWEEDFS_VERSION} (several minutes on a cold Go cache)" >&2
if ! go get "github.com/seaweedfs/seaweedfs/weed@${SEAWEEDFS_VERSION}" >go-get.log 2>&1; then
    tail -n 40 go-get.log >&2
    exit 1
fi
mkdir -p "$CACHE_ROOT"
go build -trimpath -ldflags "-s -w" -o "${BIN}.partial" github.com/seaweedfs/seaweedfs/weed >&2
mv "${BIN}.partial" "$BIN"
echo "$BIN"
