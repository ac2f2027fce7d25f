#!/bin/sh
# Install the real agent CLIs that tests/agents.rs drives against a mock model server.
#
#   tests/agents/install.sh            # into target/agents (from the checkout)
#   SHELLGUARD_AGENTS_DIR=DIR tests/agents/install.sh
#
# Needs node and npm (node 20 or newer) and /usr/bin/python3 with venv. Safe to run again: when
# the pinned versions are already there it only says so. Nothing here runs as a service and
# nothing is installed outside DIR.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/../.." && pwd)
dir=${SHELLGUARD_AGENTS_DIR:-$repo/target/agents}

# The pinned versions. Change them here only: the stamp below makes a new list reinstall.
NPM_PACKAGES="@anthropic-ai/claude-code@2.1.197 @google/gemini-cli@0.61.0 @openai/codex@0.171.0 @qwen-code/qwen-code@0.15.10"
PIP_PACKAGES="mini-swe-agent==2.4.6"
PYTHON=${PYTHON:-/usr/bin/python3}

stamp="$dir/.installed"
want=$(printf '%s\n%s\n' "$NPM_PACKAGES" "$PIP_PACKAGES")
bins="$dir/node_modules/.bin/claude $dir/node_modules/.bin/gemini $dir/node_modules/.bin/codex $dir/node_modules/.bin/qwen $dir/venv/bin/mini"

installed() {
    [ -f "$stamp" ] && [ "$(cat -- "$stamp")" = "$want" ] || return 1
    for b in $bins; do
        [ -x "$b" ] || return 1
    done
}

if installed; then
    echo "agents already installed in $dir"
    exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "install.sh: npm not found (install node 20+ and npm)" >&2; exit 1; }
mkdir -p -- "$dir"
rm -f -- "$stamp"

echo "npm install --prefix $dir $NPM_PACKAGES"
# A package.json of our own keeps npm from walking up into the checkout.
[ -f "$dir/package.json" ] || printf '{"name":"shellguard-agents","private":true}\n' >"$dir/package.json"
# shellcheck disable=SC2086 # the list is split on purpose
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error $NPM_PACKAGES

echo "python venv $dir/venv: $PIP_PACKAGES"
[ -x "$dir/venv/bin/python" ] || "$PYTHON" -m venv "$dir/venv"
# shellcheck disable=SC2086
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check $PIP_PACKAGES

for b in $bins; do
    [ -x "$b" ] || { echo "install.sh: $b missing after the install" >&2; exit 1; }
done
printf '%s\n' "$want" >"$stamp"
# Every user may read and run them (the tests also run agents as an unprivileged user).
chmod -R a+rX -- "$dir"
echo "agents installed in $dir"
