#!/usr/bin/env bash
# The diff engine's scaling, cold, over several processes (issue 7: 10x the input may cost at
# most 11x the time).
#
#   ROUNDS=14 benches/diff_rounds.sh [SIZE...]     # default sizes: 1000 10000 100000
#
# Each round runs `examples/diff_scaling.rs` once per size, in turn, so that a slow phase of
# the machine hits every size of that round alike. One process prints the median of its
# iterations (151 / 41 / 7 at 1k / 10k / 100k); the script prints every process's median,
# then per size the median over rounds, and per step the ratio of those medians and the
# median and range of the ratios within each round. Why several processes: each lays its heap
# out differently, and at 100k that moves one process's figure by about ±5%.
# Results go to stdout and to target/bench-diff/rounds.txt. Needs python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(1000 10000 100000)
ROUNDS=${ROUNDS:-5}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/target/bench-diff
mkdir -p "$OUT"

(cd "$ROOT" && cargo build --release --quiet --example diff_scaling)
BIN=$TARGET_DIR/release/examples/diff_scaling

iterations() {
    if [ "$1" -ge 100000 ]; then echo 7; elif [ "$1" -ge 10000 ]; then echo 41; else echo 151; fi
}

: >"$OUT/rounds.txt"
for r in $(seq "$ROUNDS"); do
    for n in "${SIZES[@]}"; do
        median=$("$BIN" "$n" "$(iterations "$n")" cold 2>&1 | sed -n 's/.* median \([0-9.]*\) ms.*/\1/p')
        echo "round $r size $n median_ms $median" | tee -a "$OUT/rounds.txt"
    done
done

python3 - "$OUT/rounds.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for _, r, _, n, _, ms in rows:
    by.setdefault(int(n), {})[int(r)] = float(ms)
sizes = sorted(by)
med = {n: statistics.median(by[n].values()) for n in sizes}
for n in sizes:
    print(f"size {n}: median {med[n]:.2f} ms over {len(by[n])} processes "
          f"({med[n] / n * 1000:.2f} us per integration)")
for a, b in zip(sizes, sizes[1:]):
    per_round = [by[b][r] / by[a][r] for r in by[a] if r in by[b]]
    print(f"{a} -> {b}: {med[b] / med[a]:.2f}x (ratio of medians); within rounds median "
          f"{statistics.median(per_round):.2f}x, range {min(per_round):.2f}-{max(per_round):.2f}x")
PY
