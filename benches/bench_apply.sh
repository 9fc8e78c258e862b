#!/usr/bin/env bash
# Apply benchmark (issue 7): `gijctl apply` creating 50 integrations with N = 2 indexing slots,
# against the lower bound computed from the dev-server's own indexing record.
#
#   benches/bench_apply.sh                # RUNS=3 SCALE=50 POLL=50ms N=2 COUNT=50
#
# Site: one GitHub token seeing COUNT groups `team-NN` of 4 repositories (commits 500-3000,
# so 5-30 virtual seconds each at the dev-server's 100 commits/s); no integration exists. The
# gij.toml declares all COUNT; every other one excludes its `legacy-*` repository, so half the
# creations take the create-disabled -> select -> enable path and half are created enabled.
# Each run starts a fresh dev-server (time scale SCALE), runs
#   gijctl apply -c gij.toml --auto-approve --max-parallel-indexing N --poll-interval POLL
# and hands the dev-server's indexing log to benches/apply_analyse.py (lower bound, ratio,
# slot gaps). Results: target/bench-apply/run-K.json and summary.txt. Needs curl, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
SCALE=${SCALE:-50}
POLL=${POLL:-50ms}
N=${N:-2}
COUNT=${COUNT:-50}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/target/bench-apply
mkdir -p "$OUT"
(cd "$ROOT" && cargo build --release --quiet)
BIN=$TARGET_DIR/release/gijctl
ADMIN=bench-admin
export BENCH_GITHUB_TOKEN=bench-github-token GIJ_TOKEN=$ADMIN

python3 - "$OUT" "$COUNT" <<'PY'
import json, sys
out, count = sys.argv[1], int(sys.argv[2])
groups, names, toml = [], [], ["# benches/bench_apply.sh: COUNT integrations to create", "version = 1", ""]
for k in range(count):
    name = f"team-{k:02d}"
    repos = [{"name": f"svc-{j}", "commits": 500 + (k * 7919 + j * 104729) % 2501} for j in range(3)]
    repos.append({"name": f"legacy-{k}", "commits": 500 + (k * 31) % 1000})
    groups.append({"name": name, "repositories": repos})
    names.append(name)
    toml += [f"[integrations.{name}]", 'service = "github"', f'owner = "{name}"',
             'credential = "env:BENCH_GITHUB_TOKEN"', f'display-name = "Team {k:02d}"', 'projects = ["OPS"]']
    if k % 2 == 0:
        toml.append('repositories = { exclude = ["legacy-*"] }')
    toml.append("")
seed = {
    "projects": [{"id": 10000, "key": "OPS", "name": "Operations"}],
    "catalog": {"services": [{"type": "GITHUB", "origin": "https://api.github.com", "groups": groups,
                              "tokens": [{"value": "bench-github-token", "groups": names}]}]},
    "integrations": [],
}
json.dump(seed, open(f"{out}/seed.json", "w"))
open(f"{out}/gij.toml", "w").write("\n".join(toml))
PY

poll_ms=$(python3 -c 'import sys; s=sys.argv[1]; print(float(s[:-2]) if s.endswith("ms") else float(s[:-1])*1000)' "$POLL")
: >"$OUT/runs.jsonl"
for run in $(seq 1 "$RUNS"); do
    rm -f "$OUT/url"
    "$BIN" dev-server --listen 127.0.0.1:0 --seed "$OUT/seed.json" --admin-token "$ADMIN" \
        --rate-capacity 0 --time-scale "$SCALE" >"$OUT/url" 2>"$OUT/server.log" &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 1 300); do [ -s "$OUT/url" ] && break; sleep 0.1; done
    export GIJ_URL
    GIJ_URL=$(cat "$OUT/url")
    H="Authorization: Bearer $ADMIN"
    # Median latency of one small request (the plan's project list), one curl per request.
    latency_ms=$(for _ in $(seq 1 21); do
        curl -s -o /dev/null -H "$H" -w '%{time_total}\n' "$GIJ_URL/rest/api/2/project"
    done | sort -n | sed -n 11p | awk '{printf "%.3f", $1 * 1000}')
    curl -sf -X POST -H "$H" "$GIJ_URL/_dev/stats/reset" >/dev/null
    t0=$(date +%s.%N)
    "$BIN" apply -c "$OUT/gij.toml" --auto-approve --max-parallel-indexing "$N" \
        --poll-interval "$POLL" >"$OUT/apply-$run.log" 2>&1
    wall=$(echo "$(date +%s.%N) - $t0" | bc)
    curl -sf -H "$H" "$GIJ_URL/_dev/state" >"$OUT/state-$run.json"
    curl -sf -H "$H" "$GIJ_URL/_dev/stats" >"$OUT/stats-$run.json"
    kill $SERVER
    wait $SERVER 2>/dev/null || true
    trap - EXIT
    python3 "$ROOT/benches/apply_analyse.py" "$OUT/state-$run.json" "$OUT/stats-$run.json" \
        "$wall" "$SCALE" "$N" "$poll_ms" "$latency_ms" | tee "$OUT/run-$run.json" >>"$OUT/runs.jsonl"
    cat "$OUT/run-$run.json"
done
python3 - "$OUT/runs.jsonl" "$SCALE" "$POLL" "$N" "$COUNT" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = lambda k: statistics.median(r[k] for r in runs)
print(f"apply {sys.argv[5]} creates, N={sys.argv[4]}, time scale {sys.argv[2]}, poll {sys.argv[3]}, {len(runs)} runs (medians):")
for k in ["apply_wall_s", "lower_bound_s", "ratio", "lower_bound_with_scan_s", "ratio_with_scan",
          "slot_gap_ms_median", "slot_gap_ms_max", "requests", "writes", "reads", "peak_indexing"]:
    print(f"  {k}: {med(k)}")
PY
