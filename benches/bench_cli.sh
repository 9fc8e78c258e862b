#!/usr/bin/env bash
# End-to-end benchmark of `gijctl plan` against `gijctl dev-server` serving generated sites.
#
#   benches/bench_cli.sh [SIZE...]        # default sizes: 1000x20 10000x20
#
# For each size it starts the release dev-server with `--generate SIZE` (which also writes the
# matching gij.toml), then measures:
#   - plan wall time with hyperfine (median of RUNS runs after one warm-up),
#   - plan peak RSS and CPU time with /usr/bin/time (median of 3), and the dev-server's CPU time
#     over the same runs (from /proc/PID/stat),
#   - requests made by one plan, from the dev-server's own counter (GET /_dev/stats), against
#     the minimum 1 + ceil(I/500) + ceil(R/1000) for the client's page sizes,
#   - the dev-server's own time inside one plan (`handlerMs` of /_dev/stats, summed over requests),
#   - the dev-server alone: the same reads with curl (sequential, one connection per request).
# Results go to stdout and to target/bench-cli/<SIZE>.txt. Needs hyperfine, curl, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(1000x20 10000x20)
RUNS=${RUNS:-10}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$ROOT/target/bench-cli
mkdir -p "$OUT"
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install -y hyperfine)" >&2; exit 1; }

(cd "$ROOT" && cargo build --release --quiet)
BIN=$TARGET_DIR/release/gijctl
ADMIN=bench-admin
export BENCH_GITHUB_TOKEN=bench-github-token BENCH_GITLAB_TOKEN=bench-gitlab-token \
    BENCH_AZURE_DEVOPS_TOKEN=bench-azure-token GIJ_TOKEN=$ADMIN

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

stats() { curl -sf -H "Authorization: Bearer $ADMIN" "$GIJ_URL/_dev/stats"; }
reset() { curl -sf -X POST -H "Authorization: Bearer $ADMIN" "$GIJ_URL/_dev/stats/reset" >/dev/null; }

for SIZE in "${SIZES[@]}"; do
    I=${SIZE%x*}
    R=${SIZE#*x}
    DIR=$OUT/$SIZE
    mkdir -p "$DIR"
    start=$(date +%s.%N)
    # Frozen clock and no rate limit: the benchmark measures gijctl, not the simulated limits.
    "$BIN" dev-server --listen 127.0.0.1:0 --generate "$SIZE" --write-config "$DIR/gij.toml" \
        --admin-token "$ADMIN" --rate-capacity 0 --time-scale 0 >"$DIR/url" 2>"$DIR/server.log" &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 1 3000); do [ -s "$DIR/url" ] && break; sleep 0.1; done
    startup=$(echo "$(date +%s.%N) - $start" | bc)
    export GIJ_URL
    GIJ_URL=$(cat "$DIR/url")
    PLAN=("$BIN" plan -c "$DIR/gij.toml" --format json)

    # Requests of one plan, from the server's counter.
    reset
    "${PLAN[@]}" >"$DIR/plan.json"
    stats >"$DIR/stats.json"
    requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totalRequests"])' "$DIR/stats.json")
    # The server's own time in that plan (handlers, summed; concurrent requests overlap).
    handler_ms=$(python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["handlerMs"])' "$DIR/stats.json")
    total_ints=$((I + (I + 199) / 200))
    total_repos=$((total_ints * R))
    minimum=$((1 + (total_ints + 499) / 500 + (total_repos + 999) / 1000))

    hyperfine --runs "$RUNS" --warmup 1 --export-json "$DIR/hyperfine.json" \
        --command-name "plan $SIZE" "${PLAN[*]} >/dev/null" >"$DIR/hyperfine.txt"
    plan_median=$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$DIR/hyperfine.json")

    # Peak RSS, and CPU time of the plan (user + sys) against the dev-server's CPU time over
    # the same runs (utime + stime from /proc, in clock ticks): which side does the work.
    ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
    server_before=$(ticks)
    for _ in 1 2 3; do
        /usr/bin/time -f "%M %U %S" -o "$DIR/time.txt" "${PLAN[@]}" >/dev/null
        cat "$DIR/time.txt"
    done >"$DIR/rss_cpu"
    server_cpu=$(echo "scale=3; ($(ticks) - $server_before) / $(getconf CLK_TCK) / 3" | bc)
    awk '{print $1}' "$DIR/rss_cpu" | median >"$DIR/rss_kb"
    plan_cpu=$(awk '{print $2 + $3}' "$DIR/rss_cpu" | median)
    rss_mb=$(echo "scale=1; $(cat "$DIR/rss_kb") / 1024" | bc)

    # The dev-server alone: the minimal read sequence with curl, one request after another.
    cat >"$DIR/read_site.sh" <<EOF
#!/usr/bin/env bash
set -e
H="Authorization: Bearer $ADMIN"
curl -sf -o /dev/null -H "\$H" "$GIJ_URL/rest/api/2/project"
for ((s = 0; s < $total_ints; s += 500)); do
    curl -sf -o /dev/null -H "\$H" "$GIJ_URL/rest/gitplugin/1.0/integration?start=\$s&limit=500"
done
for ((s = 0; s < $total_repos; s += 1000)); do
    curl -sf -o /dev/null -H "\$H" "$GIJ_URL/rest/gitplugin/1.0/repository?start=\$s&limit=1000"
done
EOF
    hyperfine --runs 5 --warmup 1 --export-json "$DIR/server.json" --command-name "server $SIZE" \
        "bash $DIR/read_site.sh" >"$DIR/server.txt"
    server_median=$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$DIR/server.json")
    curl_overhead=$(hyperfine --runs 20 --export-json "$DIR/curl.json" \
        "curl -s -o /dev/null $GIJ_URL/_dev/nothing" >/dev/null &&
        python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$DIR/curl.json")

    kill $SERVER
    wait $SERVER 2>/dev/null || true
    trap - EXIT

    {
        echo "size $SIZE: $total_ints integrations, $total_repos repositories"
        echo "  dev-server start-up (generate + seed): ${startup}s"
        echo "  plan wall time, median of $RUNS: ${plan_median}s"
        echo "  plan peak RSS, median of 3: ${rss_mb} MB"
        echo "  requests: $requests (minimum $minimum)"
        echo "  dev-server time inside one plan (its handlers, summed over requests): ${handler_ms} ms"
        echo "  CPU per plan: gijctl plan ${plan_cpu}s (median of 3), dev-server ${server_cpu}s (mean of the same 3)"
        echo "  dev-server alone, minimal read with curl, median of 5: ${server_median}s" \
            "(one curl process per request; one empty curl takes ${curl_overhead}s)"
    } | tee "$DIR/summary.txt"
done
