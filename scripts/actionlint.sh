#!/usr/bin/env bash
# scripts/actionlint.sh — actionlint, the GitHub Actions workflow checker the tests run over
# .github/workflows/, built from its Go module with the ordinary `go install` into a cache OUTSIDE
# the repository (nothing downloaded but Go modules).
#
# usage: bash scripts/actionlint.sh build   build it when missing (a second run does nothing); print its path
#        bash scripts/actionlint.sh path    print its path; exit 1 with one line when it is not built
#
# environment: PHYSIOFLOW_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/physioflow); the
#              binary is <cache root>/actionlint-<version>/bin/actionlint
set -euo pipefail

ACTIONLINT_VERSION=1.7.12
ACTIONLINT_PKG=github.com/rhysd/actionlint/cmd/actionlint

# The cache root, progress on stderr, one-line errors, cached steps.
STEP_TAG=actionlint STEP_SCRIPT=actionlint.sh
# shellcheck source-path=SCRIPTDIR source=go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"

DIR=$CACHE_ROOT/actionlint-$ACTIONLINT_VERSION
BIN=$DIR/bin/actionlint
LOGS=$DIR/logs

# Into a temp GOBIN first, so an interrupted build never leaves a binary that looks built.
build_actionlint() {
    local partial=$DIR/bin.partial
    rm -rf "$partial"
    mkdir -p "$partial"
    GOBIN=$partial go install -trimpath -ldflags "-s -w" "$ACTIONLINT_PKG@v$ACTIONLINT_VERSION"
    rm -rf "${DIR:?}/bin"
    mv "$partial" "$DIR/bin"
}

case "${1:-}" in
path)
    [ -x "$BIN" ] || die "path" "actionlint $ACTIONLINT_VERSION is not built ($BIN); run npm run setup"
    printf '%s\n' "$BIN"
    ;;
build)
    lock_cache actionlint
    maybe_build actionlint "$BIN" build_actionlint "actionlint $ACTIONLINT_VERSION ($ACTIONLINT_PKG)"
    unlock_cache
    "$BIN" -version >/dev/null || die "actionlint" "$BIN does not run; delete $DIR and run again"
    printf '%s\n' "$BIN"
    ;;
*)
    die "arguments" "usage: bash scripts/actionlint.sh build|path"
    ;;
esac
