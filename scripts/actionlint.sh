#!/usr/bin/env bash
# scripts/actionlint.sh — actionlint, the GitHub Actions workflow checker the tests run over
# .github/workflows/, built from its Go module with the ordinary `go install` into a cache OUTSIDE
# the repository (nothing downloaded but Go modules).
#
# usage: bash scripts/actionlint.sh build   build it when missing (a second run does nothing); print its path
#        bash scripts/actionlint.sh path    print its path; exit 1 with one line when it is not built
#
# environment: XDG_CACHE_HOME  cache root (default $HOME/.cache); the binary is
#              <cache>/physioflow/actionlint-<version>/bin/actionlint
set -euo pipefail

ACTIONLINT_VERSION=1.7.12
ACTIONLINT_PKG=github.com/rhysd/actionlint/cmd/actionlint

DIR=${XDG_CACHE_HOME:-$HOME/.cache}/physioflow/actionlint-$ACTIONLINT_VERSION
BIN=$DIR/bin/actionlint

fail() { printf 'actionlint.sh: error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
path)
    [ -x "$BIN" ] || fail "actionlint $ACTIONLINT_VERSION is not built ($BIN); run npm run setup"
    printf '%s\n' "$BIN"
    ;;
build)
    if [ ! -x "$BIN" ]; then
        if ! command -v go >/dev/null 2>&1; then
            [ -x /usr/local/go/bin/go ] || fail "the go command is not installed (expected on PATH or at /usr/local/go/bin/go)"
            PATH=/usr/local/go/bin:$PATH
        fi
        printf 'actionlint.sh: building actionlint %s from Go modules\n' "$ACTIONLINT_VERSION" >&2
        start=$(date +%s)
        # Into a temp GOBIN first, so an interrupted build never leaves a binary that looks built.
        partial=$DIR/bin.partial
        rm -rf "$partial"
        mkdir -p "$partial"
        GOBIN=$partial go install -trimpath -ldflags "-s -w" "$ACTIONLINT_PKG@v$ACTIONLINT_VERSION" ||
            fail "go install $ACTIONLINT_PKG@v$ACTIONLINT_VERSION failed (see above)"
        rm -rf "${DIR:?}/bin"
        mv "$partial" "$DIR/bin"
        printf 'actionlint.sh: done in %ss\n' "$(($(date +%s) - start))" >&2
    fi
    "$BIN" -version >/dev/null || fail "$BIN does not run; delete $DIR and run again"
    printf '%s\n' "$BIN"
    ;;
*)
    fail "usage: bash scripts/actionlint.sh build|path"
    ;;
esac
