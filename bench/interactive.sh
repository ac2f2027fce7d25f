#!/bin/bash
# Enter-to-output time of `true` in the guarded interactive shell against plain bash, under the
# same tmux: send `true` + Enter, poll capture-pane until the next prompt is drawn.
# usage: bench/interactive.sh [ROUNDS]   (SG=path/to/shellguard; default target/release, then debug)
set -eu
rounds=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
SG=${SG:-}
[ -n "$SG" ] || for c in "$here/target/release/shellguard" "$here/target/debug/shellguard"; do
    [ -x "$c" ] && { SG=$c; break; }
done
[ -x "$SG" ] || { echo "no shellguard binary (cargo build first)" >&2; exit 1; }
SG=$(cd "$(dirname "$SG")" && pwd)/$(basename "$SG")
command -v tmux >/dev/null || { echo "tmux not found" >&2; exit 1; }
root=$(mktemp -d); sock=sgbench-$$
trap 'tmux -L "$sock-1" kill-server 2>/dev/null; tmux -L "$sock-2" kill-server 2>/dev/null; rm -rf "$root"' EXIT
mkdir -p "$root/home" "$root/run" "$root/proj"; chmod 700 "$root/run"
printf "PS1='P\\\\#$ '\n" > "$root/home/.bashrc"
envs="HOME=$root/home XDG_RUNTIME_DIR=$root/run XDG_DATA_HOME=$root/data XDG_STATE_HOME=$root/state"

now_ms() { date +%s%N | awk '{printf "%.3f", $1/1e6}'; }

measure() { # $1 = label, $2 = tmux socket, $3 = command to run in the pane
    local label=$1 L=$2
    tmux -L "$L" -f /dev/null new-session -d -x 100 -y 30 -s b "cd $root/proj && env $envs $3; sleep 60"
    local tries=0
    until tmux -L "$L" capture-pane -p -t b | grep -q 'P[0-9]*\$'; do
        sleep 0.05; tries=$((tries + 1))
        [ "$tries" -lt 200 ] || { echo "$label: no prompt" >&2; tmux -L "$L" capture-pane -p -t b >&2; return 1; }
    done
    local total=0 i n t0 t1 d samples=()
    for i in $(seq "$rounds"); do
        tmux -L "$L" send-keys -t b C-l; sleep 0.2
        n=$(tmux -L "$L" capture-pane -p -t b | grep -o 'P[0-9]*\$' | tail -1)
        t0=$(now_ms)
        tmux -L "$L" send-keys -t b true Enter
        local deadline=$(( $(date +%s) + 10 ))
        while tmux -L "$L" capture-pane -p -t b | grep -o 'P[0-9]*\$' | tail -1 | grep -qx "$n"; do
            [ "$(date +%s)" -lt "$deadline" ] || { echo "$label: no new prompt" >&2; return 1; }
        done
        t1=$(now_ms)
        samples+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')")
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END{printf "%-22s median %6.1f ms  p90 %6.1f ms  (n=%d)\n", l, a[int((NR+1)/2)], a[int(NR*0.9)], NR}'
}

real_bash=$(command -v bash)
measure "plain bash" "$sock-1" "$real_bash --rcfile $root/home/.bashrc -i"
measure "shellguard -i ($(basename "$(dirname "$SG")"))" "$sock-2" "$SG -i"
