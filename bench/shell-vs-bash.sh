#!/usr/bin/env bash
# What shellguard costs an allowed command, measured against bash in one hyperfine run.
#
# For each command shape (Claude Code's wrapper around `git status`, and a bare `true`) one
# hyperfine run times four ways of running it:
#   bash            bash -c CMD                                  (the baseline)
#   floor           a 10-line C program that only execs bash     (the least any wrapper costs)
#   shellguard      target/release/shellguard -c CMD             (analysis, rules, exec bash)
#   bash->shellguard  a symlink named bash to shellguard         (how agents meet it)
# and prints each mean relative to bash and to the floor.
#
# The login shell (-l) reads the profile of $HOME, the same for every variant; a profile that
# runs tools (pyenv init, nvm) adds tens of milliseconds and hides the difference, so HOME is
# an empty directory unless REAL_HOME=1.
#
# Usage: bench/shell-vs-bash.sh            (from anywhere; RUNS=500 WARMUP=50 to change)
# Needs: hyperfine (apt-get install hyperfine, or cargo install hyperfine), gcc or cc, git.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
runs=${RUNS:-300}
warmup=${WARMUP:-30}

if ! command -v hyperfine >/dev/null 2>&1; then
    printf '%s\n' >&2 \
        "shell-vs-bash.sh: hyperfine is not installed. Install it with one of:" \
        "    sudo apt-get update && sudo apt-get install -y hyperfine     (Debian, Ubuntu)" \
        "    brew install hyperfine                                       (macOS)" \
        "    cargo install --locked hyperfine                             (anywhere with Rust)"
    exit 2
fi
cc=$(command -v gcc || command -v cc || true)
if [[ -z $cc ]]; then
    echo "shell-vs-bash.sh: needs a C compiler (gcc or cc) for the floor binary" >&2
    exit 2
fi
real_bash=$(command -v bash)

echo "== building target/release/shellguard"
cargo build --release --quiet
shellguard=$root/target/release/shellguard

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
if [[ ${REAL_HOME:-0} != 1 ]]; then
    mkdir "$work/home"
    export HOME=$work/home
fi

# The floor: exec the real bash with the same argv, nothing else.
cat >"$work/floor.c" <<EOF
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    execv("$real_bash", argv);
    perror("execv");
    return 127;
}
EOF
"$cc" -O2 -o "$work/floor" "$work/floor.c"

# How agents meet shellguard: a link named bash early on PATH.
mkdir -p "$work/bin"
ln -s "$shellguard" "$work/bin/bash"

# A shell snapshot like the one Claude Code sources before every command.
cat >"$work/snap" <<'EOF'
# Snapshot file
unalias -a 2>/dev/null || true
shopt -s expand_aliases
alias ll='ls -l'
alias gs='git status'
mkcd() { mkdir -p "$1" && cd "$1" || return; }
gitroot() { cd "$(git rev-parse --show-toplevel)" || return; }
export PATH=/usr/local/bin:/usr/bin:/bin
EOF

# A small git repository for `git status` to look at.
repo=$work/repo
git init -q "$repo"
(
    cd "$repo"
    mkdir -p src
    for i in $(seq 1 20); do echo "line $i" >"src/file$i.txt"; done
    git add -A
    git -c user.name=bench -c user.email=bench@example.invalid commit -qm init
    echo changed >>src/file1.txt
    echo new >src/new.txt
)

# Claude Code's wrapper around a command, as it reaches `bash -c -l`.
claude="source $work/snap 2>/dev/null || true && shopt -u extglob 2>/dev/null || true && eval 'git status --short' < /dev/null && pwd -P >| $work/cwdfile"

# Quote for hyperfine's own word splitting (-N): single quotes, ' as '\''.
q() {
    local s=${1//\'/\'\\\'\'}
    printf "'%s'" "$s"
}

cd "$repo"
for run in claude true; do
    case $run in
    claude) args="-c -l $(q "$claude")" ;;
    true) args="-c true" ;;
    esac
    # The command must be allowed, or the comparison measures a refusal.
    if [[ $run == claude ]]; then
        "$shellguard" -c -l "$claude" >/dev/null
    else
        "$shellguard" -c true
    fi
    echo
    echo "== $run: bash $args"
    hyperfine -N --warmup "$warmup" --runs "$runs" --export-csv "$work/$run.csv" \
        -n bash "$real_bash $args" \
        -n floor "$work/floor $args" \
        -n shellguard "$shellguard $args" \
        -n 'bash->shellguard' "$work/bin/bash $args"
    awk -F, -v run="$run" '
        NR > 1 { name[NR] = $1; mean[$1] = $2 * 1000; sd[$1] = $3 * 1000 }
        END {
            printf "\n%-18s %10s %9s %9s %10s\n", run, "mean ms", "x bash", "x floor", "+ms floor"
            for (i = 2; i <= NR; i++) {
                n = name[i]
                printf "%-18s %7.3f±%-5.3f %6.3f %9.3f %+10.3f\n", n, mean[n], sd[n],
                    mean[n] / mean["bash"], mean[n] / mean["floor"], mean[n] - mean["floor"]
            }
        }' "$work/$run.csv"
done

echo
echo "== whole process: shellguard check -- 'echo hi' (judge, print, no exec) against true"
hyperfine -N --warmup "$warmup" --runs "$runs" --export-csv "$work/check.csv" \
    -n true "$(command -v true)" \
    -n 'shellguard check' "$shellguard check -- 'echo hi'"
awk -F, 'NR > 1 { printf "%-18s %7.3f±%-5.3f ms\n", $1, $2 * 1000, $3 * 1000 }' "$work/check.csv"
