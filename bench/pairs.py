#!/usr/bin/env python3
"""Times two commands in turn (A B A B ...) and prints the median of each and the A/B ratio
of each pair: on a noisy machine a ratio taken pair by pair holds where two sequential series
drift apart.

    bench/pairs.py RUNS 'COMMAND A' 'COMMAND B' [--prepare 'COMMAND']

Commands are split as a shell splits words and run without a shell, stdin from /dev/null and
output discarded; --prepare runs before every timed run, untimed.
"""
import shlex
import statistics
import subprocess
import sys
import time


def timed(argv, prepare):
    if prepare:
        subprocess.run(prepare, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"{shlex.join(argv)}: exit {r.returncode}")
    return took


def main():
    args = sys.argv[1:]
    prepare = None
    if "--prepare" in args:
        i = args.index("--prepare")
        prepare = shlex.split(args[i + 1])
        del args[i : i + 2]
    runs, a, b = int(args[0]), shlex.split(args[1]), shlex.split(args[2])
    timed(a, prepare)
    timed(b, prepare)
    ta, tb, ratio = [], [], []
    for _ in range(runs):
        x, y = timed(a, prepare), timed(b, prepare)
        ta.append(x)
        tb.append(y)
        ratio.append(x / y)
    ratio.sort()
    print(
        f"A median {statistics.median(ta):.4f} s, B median {statistics.median(tb):.4f} s, "
        f"A/B min {ratio[0]:.3f} median {statistics.median(ratio):.3f} max {ratio[-1]:.3f} ({runs} pairs)"
    )


main()
