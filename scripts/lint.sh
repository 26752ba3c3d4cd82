#!/usr/bin/env bash
# npm run lint (and the start of npm test): the static checks, each over the whole repository.
#   types      tsc --noEmit -p . (tsconfig.json includes every .ts file)
#   eslint     eslint . (eslint.config.mjs: typescript-eslint's type-checked rules, @pulumi/eslint-plugin)
#   format     prettier --check . (.prettierrc.json; .prettierignore keeps it to .ts, .js and .mjs files)
#   shell      shellcheck over scripts/**/*.sh, tests/**/*.sh and .ci/run
#   go         gofmt -l and go vet over the Go module of the stand-in apps (devenv/apps)
# Every check runs; each one that fails adds one line at the end saying what to do. Exit 1 if any failed.
#   bash scripts/lint.sh [types|eslint|format|shell|go]...   only those checks
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PATH="$PWD/node_modules/.bin:$PATH"

shell_files() {
    find scripts tests -name '*.sh' -not -path '*/node_modules/*' | sort
    echo .ci/run
}

check() {
    case "$1" in
    types) tsc --noEmit -p . ;;
    eslint) eslint --max-warnings 0 . ;;
    format) prettier --check --log-level warn . ;;
    shell)
        command -v shellcheck >/dev/null || { echo "shellcheck is not installed (npm run setup installs it)"; return 1; }
        # -x -P SCRIPTDIR: follow `. build-steps.sh` as the scripts source it.
        shell_files | xargs shellcheck -x -P SCRIPTDIR
        ;;
    go)
        local unformatted
        unformatted=$(gofmt -l devenv/apps) || return 1
        [ -z "$unformatted" ] || { echo "$unformatted"; return 1; }
        (cd devenv/apps && go vet ./...)
        ;;
    esac
}

how_to_fix() {
    case "$1" in
    types) echo "tsc --noEmit found type errors (above)" ;;
    eslint) echo "eslint found problems (above); fix them, or suppress one line with a reason: // eslint-disable-next-line RULE -- why" ;;
    format) echo "prettier: the files above are not formatted; run npm run format" ;;
    shell) echo "shellcheck found problems (above); fix them, or suppress one line with a reason: # shellcheck disable=SCxxxx # why" ;;
    go) echo "gofmt lists the Go files above as unformatted (run gofmt -w devenv/apps), or go vet found problems (above)" ;;
    esac
}

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(types eslint format shell go)
for name in "${checks[@]}"; do
    case "$name" in
    types | eslint | format | shell | go) ;;
    *) echo "lint: unknown check $name (types, eslint, format, shell, go)" >&2; exit 2 ;;
    esac
done
failed=()
for name in "${checks[@]}"; do
    start=$SECONDS
    if check "$name"; then
        printf 'lint: %s ok (%d s)\n' "$name" $((SECONDS - start)) >&2
    else
        failed+=("$name")
    fi
done
for name in "${failed[@]}"; do
    printf 'lint: %s failed: %s\n' "$name" "$(how_to_fix "$name")" >&2
done
[ ${#failed[@]} -eq 0 ]
