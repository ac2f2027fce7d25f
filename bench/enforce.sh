#!/usr/bin/env bash
# What the enforced boundary of `shellguard run` and its exec gate cost: the same workloads
# under `shellguard run`, under `shellguard run` without the exec gate (the boundary alone:
# SHELLGUARD_BENCH_NO_EXEC_GATE=1, which exists for this comparison only) and under
# `shellguard run --unenforced`, timed as whole processes by hyperfine.
#
#   bench/enforce.sh [WORKLOAD…]      # all five unless named; RUNS=20 WARMUP=3 unless set
#
# Workloads (none needs a network or a terminal; stdin is /dev/null):
#   start-up   the agent is /bin/true: what building the boundary adds to an agent's start
#   execs      xargs runs /bin/true 2,000 times, no shell in between (every one held and
#              judged by the exec gate)
#   make       make -j2 compiles 60 small C files (recipes without shell syntax: make execs them)
#   cargo      cargo build of a new binary crate (no dependencies, offline)
#   make-sh    make -j2 of 300 targets whose recipes need a shell (`sh -c` each): under the
#              enforced run every one is the guard, which is what the boundary is for
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
command -v hyperfine >/dev/null || {
    echo "needs hyperfine (apt-get install hyperfine, or cargo install --locked hyperfine)" >&2
    exit 1
}
cargo build --release --quiet
sg=$PWD/target/release/shellguard

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
# cargo and rustup keep their homes where the user has them.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(command -v cargo)
export HOME=$work/home
mkdir -p "$HOME" "$work/proj/src"
seq 2000 >"$work/seq"

{
    printf 'OBJS := $(patsubst src/%%.c,out/%%.o,$(wildcard src/*.c))\n'
    printf 'all: $(OBJS)\n'
    printf 'out/%%.o: src/%%.c | out\n\tcc -O0 -c $< -o $@\n'
    printf 'out:\n\tmkdir -p out\n'
} >"$work/proj/Makefile"
for i in $(seq 60); do
    printf 'int f%d(int x) { return x * %d + 1; }\n' "$i" "$i" >"$work/proj/src/f$i.c"
done

mkdir -p "$work/sh"
{
    printf 'T := $(addprefix out/t,$(shell seq 300))\n'
    printf 'all: $(T)\n'
    printf 'out/t%%: | out\n\t@echo $@ > $@ && test -s $@\n'
    printf 'out:\n\tmkdir -p out\n'
} >"$work/sh/Makefile"

run() { # NAME COMMAND...
    local name=$1
    shift
    local cmd
    printf -v cmd '%q ' "$@"
    hyperfine --runs "$RUNS" --warmup "$WARMUP" -N --style basic \
        --export-markdown "$work/$name.md" \
        --prepare "rm -rf $work/proj/out $work/sh/out $work/hello/target" \
        -n "$name, enforced" "$sg run -- $cmd" \
        -n "$name, enforced without the exec gate" "env SHELLGUARD_BENCH_NO_EXEC_GATE=1 $sg run -- $cmd" \
        -n "$name, --unenforced" "$sg run --unenforced -- $cmd" >/dev/null
    cat "$work/$name.md"
    # The same, pair by pair: what the README quotes.
    local prep="rm -rf $work/proj/out $work/sh/out $work/hello/target"
    printf 'pairs, exec gate (enforced / enforced without the gate): '
    python3 bench/pairs.py "$RUNS" "$sg run -- $cmd" \
        "env SHELLGUARD_BENCH_NO_EXEC_GATE=1 $sg run -- $cmd" --prepare "$prep"
    printf 'pairs, boundary (enforced without the gate / --unenforced): '
    python3 bench/pairs.py "$RUNS" "env SHELLGUARD_BENCH_NO_EXEC_GATE=1 $sg run -- $cmd" \
        "$sg run --unenforced -- $cmd" --prepare "$prep"
    echo
}

cargo new --quiet --vcs none "$work/hello"

selected=("$@")
pick() { ((${#selected[@]} == 0)) || [[ " ${selected[*]} " == *" $1 "* ]]; }
pick start-up && run start-up /bin/true
pick execs && run execs /usr/bin/xargs -n1 -a "$work/seq" /bin/true
pick make && run make /usr/bin/make -s -j2 -C "$work/proj"
pick make-sh && run make-sh /usr/bin/make -s -j2 -C "$work/sh"
pick cargo && run cargo "$cargo_bin" build --quiet --offline --manifest-path "$work/hello/Cargo.toml"
