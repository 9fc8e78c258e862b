#!/usr/bin/env python3
"""Analyses one `gijctl apply` run of benches/bench_apply.sh against the dev-server's own record.

Reads the dev-server state (GET /_dev/state: `indexingLog`, `scanMs`) and stats (GET /_dev/stats),
the apply wall time, the time scale, the slot count N and the poll interval, and prints JSON:
- lower_bound_s: sum of indexing durations / N (real seconds) plus request latency (requests of
  the run x the median latency of one request / N);
- lower_bound_with_scan_s: the same plus the discovery scan every creation pays before its
  repositories exist (scan_ms per creation / N), which the create flow cannot avoid;
- ratio = apply wall / lower_bound_s;
- writes and reads: the dev-server's request counts split by method;
- slot gaps: the dev-server's indexing intervals per integration, assigned to N slots in start
  order; a gap is the time between one integration finishing on a slot and the next starting
  there (what apply spends noticing, creating, scanning, selecting and enabling).

usage: apply_analyse.py STATE.json STATS.json WALL_S SCALE N POLL_MS LATENCY_MS
"""
import json
import statistics
import sys


def main():
    state_f, stats_f, wall, scale, n, poll_ms, latency_ms = sys.argv[1:8]
    wall, scale, n = float(wall), float(scale), int(n)
    poll_ms, latency_ms = float(poll_ms), float(latency_ms)
    state = json.load(open(state_f))
    stats = json.load(open(stats_f))
    per = {}
    for iv in state["indexingLog"]:
        s, e = iv["startMs"], iv["endMs"]
        p = per.setdefault(iv["integrationId"], [s, e, 0])
        p[0], p[1], p[2] = min(p[0], s), max(p[1], e), p[2] + (e - s)
    spans = sorted((s, e, busy) for s, e, busy in per.values())
    sum_ms = sum(b for _, _, b in spans) / scale  # real milliseconds of indexing work
    requests = stats["totalRequests"]
    latency_term_ms = requests * latency_ms / n
    bound_ms = sum_ms / n + latency_term_ms
    scan_term_ms = len(spans) * state["scanMs"] / scale / n
    # Slots: each integration follows the slot that freed earliest before it started.
    slots = [None] * n
    gaps = []
    for s, e, _ in spans:
        free = [i for i, end in enumerate(slots) if end is None or end <= s]
        if not free:
            free = [min(range(n), key=lambda i: slots[i])]  # overlap: more than N at once
        i = min(free, key=lambda i: -1 if slots[i] is None else slots[i])
        if slots[i] is not None:
            gaps.append((s - slots[i]) / scale)
        slots[i] = e
    # The first N start after apply's plan and their own create + scan; the tail after the
    # last start runs on fewer than N slots because nothing is left to start.
    out = {
        "integrations_indexed": len(spans),
        "repositories_indexed": len(state["indexingLog"]),
        "requests": requests,
        "peak_indexing": stats["peakIndexing"],
        "apply_wall_s": round(wall, 3),
        "sum_indexing_s": round(sum_ms / 1000, 3),
        "lower_bound_s": round(bound_ms / 1000, 3),
        "latency_term_s": round(latency_term_ms / 1000, 3),
        "ratio": round(wall * 1000 / bound_ms, 4),
        "lower_bound_with_scan_s": round((bound_ms + scan_term_ms) / 1000, 3),
        "ratio_with_scan": round(wall * 1000 / (bound_ms + scan_term_ms), 4),
        "scan_per_creation_ms": round(state["scanMs"] / scale, 1),
        "poll_ms": poll_ms,
        "slot_gap_ms_median": round(statistics.median(gaps), 1) if gaps else None,
        "slot_gap_ms_max": round(max(gaps), 1) if gaps else None,
        "slot_gap_ms_sum": round(sum(gaps), 1),
        # Writes (creates, repository disables, enables) vs reads (plan, scans, polls): the
        # writes have a minimum (one create per integration, one disable per unwanted
        # repository, one enable per integration created disabled); reads are mostly polls.
        "writes": sum(v for k, v in stats["requests"].items() if not k.startswith("GET ")),
        "reads": sum(v for k, v in stats["requests"].items() if k.startswith("GET ")),
        "requests_by_route": stats["requests"],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
