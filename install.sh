#!/bin/sh
# Install shellguard for the current user, from a checkout of its source. No root needed;
# safe to run again (the binary and the links are replaced in place).
#
#   ./install.sh
#
# It installs:
#   $PREFIX/bin/shellguard                         the binary (PREFIX defaults to ~/.local)
#   ${XDG_DATA_HOME:-~/.local/share}/shellguard/shims/{bash,sh}
#                                                  links to it, for agents to find by name
#
# Environment:
#   PREFIX          where to install; the binary goes to $PREFIX/bin (default: $HOME/.local)
#   XDG_DATA_HOME   where the shims directory goes (default: $HOME/.local/share)
#   SHELLGUARD_BIN  an already-built shellguard binary to install instead of building one
#                   (statically linked where the C library allows: `cargo rustc --release
#                   --locked --bin shellguard -- -C target-feature=+crt-static`; for tests and
#                   packagers)
#
# The whole body is a function called on the last line, so a half-downloaded copy of this
# script runs nothing.

set -eu

say() {
    printf '%s\n' "$*"
}

warn() {
    printf 'shellguard install: warning: %s\n' "$*" >&2
}

die() {
    printf 'shellguard install: %s\n' "$*" >&2
    exit 1
}

# absolute PATH: PATH made absolute against the current directory, so links stay valid.
absolute() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

# make_dir DIR: create DIR (and parents) or refuse in one line.
make_dir() {
    if ! err=$(mkdir -p -- "$1" 2>&1); then
        die "cannot create $1: ${err##*: }"
    fi
    [ -w "$1" ] || die "cannot write to $1"
}

# build SRC_DIR: build the release binary in the checkout SRC_DIR and print its path.
build() {
    [ -f "$1/Cargo.toml" ] ||
        die "no Cargo.toml in $1: run install.sh from a shellguard checkout, or set SHELLGUARD_BIN"
    # --locked only once Cargo.lock exists; without it cargo would refuse to build at all.
    locked=
    [ -f "$1/Cargo.lock" ] && locked=--locked
    # Cargo's output goes to stderr: stdout carries only the path printed below.
    # Statically linked when the C library allows it: a guard that loads no shared library
    # cannot have code preloaded into it (LD_PRELOAD), which inside `shellguard run` would run
    # before any judgement (README, Known bypasses).
    if ! (CDPATH='' cd -- "$1" &&
        cargo rustc --release ${locked:+"$locked"} --bin shellguard -- \
            -C target-feature=+crt-static 1>&2); then
        warn "a statically linked build failed; building a dynamically linked one (code preloaded into it with LD_PRELOAD could get an unguarded shell under \`shellguard run\`)"
        (CDPATH='' cd -- "$1" && cargo build --release ${locked:+"$locked"} 1>&2) ||
            die "cargo build --release $locked failed (see above)"
    fi
    # Where cargo put it: CARGO_TARGET_DIR, relative to the checkout, or target/ there.
    case ${CARGO_TARGET_DIR:-target} in
        /*) target_dir=$CARGO_TARGET_DIR ;;
        *) target_dir=$1/${CARGO_TARGET_DIR:-target} ;;
    esac
    [ -x "$target_dir/release/shellguard" ] ||
        die "built, but found no binary at $target_dir/release/shellguard; set SHELLGUARD_BIN to it"
    printf '%s\n' "$target_dir/release/shellguard"
}

# link TARGET LINK: make LINK a symlink to TARGET, replacing whatever link was there in one
# step (a new link under a temporary name, renamed over the old one).
link() {
    if [ -d "$2" ]; then
        # mv would move the new link into a directory instead of replacing it.
        [ -L "$2" ] || die "$2 is a directory; move it away and run again"
        rm -f -- "$2"
    fi
    tmp_link=$(dirname -- "$2")/.$(basename -- "$2").install.$$
    rm -f -- "$tmp_link"
    ln -s -- "$1" "$tmp_link"
    mv -f -- "$tmp_link" "$2"
}

main() {
    if [ -n "${SHELLGUARD_BIN:-}" ]; then
        if ! { [ -f "$SHELLGUARD_BIN" ] && [ -x "$SHELLGUARD_BIN" ]; }; then
            die "SHELLGUARD_BIN=$SHELLGUARD_BIN is not an executable file"
        fi
        bin=$SHELLGUARD_BIN
    else
        command -v cargo >/dev/null 2>&1 ||
            die "cargo not found: install Rust (https://rustup.rs) or set SHELLGUARD_BIN to a built shellguard binary"
    fi
    if [ -z "${PREFIX:-}" ] || [ -z "${XDG_DATA_HOME:-}" ]; then
        [ -n "${HOME:-}" ] || die "HOME is not set; set HOME, or both PREFIX and XDG_DATA_HOME"
    fi
    prefix=$(absolute "${PREFIX:-$HOME/.local}")
    bin_dir=${prefix%/}/bin
    data_home=$(absolute "${XDG_DATA_HOME:-$HOME/.local/share}")
    shims_dir=${data_home%/}/shellguard/shims
    dest=$bin_dir/shellguard

    # Refuse before the (long) build if the install can't happen.
    make_dir "$bin_dir"
    make_dir "$shims_dir"
    [ ! -d "$dest" ] || die "$dest is a directory; move it away and run again"

    if [ -z "${SHELLGUARD_BIN:-}" ]; then
        src_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
        bin=$(build "$src_dir")
    fi

    # Copy under a temporary name in the same directory, then rename over the old binary:
    # a shellguard that is running keeps its old file, and no one ever sees half a binary.
    tmp_bin=$bin_dir/.shellguard.install.$$
    trap 'rm -f -- "$tmp_bin"' EXIT
    trap 'exit 1' HUP INT TERM
    cp -- "$bin" "$tmp_bin"
    chmod 0755 "$tmp_bin"
    mv -f -- "$tmp_bin" "$dest"

    # Links named like the shells agents ask for. No `zsh` link yet: shellguard does not
    # speak zsh, and a zsh link would hand zsh commands to bash.
    link "$dest" "$shims_dir/bash"
    link "$dest" "$shims_dir/sh"

    say "shellguard installed:"
    say "  binary  $dest"
    say "  shims   $shims_dir/{bash,sh} -> the binary"
    say "Next: start agents with the shims first on PATH, e.g."
    say "  PATH=\"$shims_dir:\$PATH\" codex"
    say "  or for Claude Code: CLAUDE_CODE_SHELL=$shims_dir/bash claude"
    say "Keep your own login shell and \$SHELL as they are; the shims are for agents."
    case ":${PATH:-}:" in
        *":$bin_dir:"* | *":$bin_dir/:"*) ;;
        *) warn "$bin_dir is not on PATH; add it to run shellguard by name" ;;
    esac
}

main "$@"
