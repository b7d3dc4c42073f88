"""`triage sweep` against `triage retriage` on the same cases, and a million cases in flat memory.

The backlog of `bench_retriage` (categories given, 30% carrying `previous.*`) is swept at a
`now` one day after the last creation, so every case has clocks to run and many climb
the escalation ladder; `retriage` routes the same file. Side by side in one run:
- throughput: steady-state records/s of `sweep` and `retriage`, --jobs 1, in rounds that
  alternate which goes first; the ratio is the median of the rounds' (target >= 0.5x);
- in process: `Triage.sweep_dicts` vs `Triage.route_dicts` on the same 20,000 cases;
- memory: `sweep` over a million cases (200,000 with --quick), RSS growth after the
  first tenth (target: flat, <= 50 MB).

    python benchmarks/bench_sweep.py [--quick]
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

from _results import (ROOT, argv_quick, machine, machine_line, print_machine, side_by_side, table,  # noqa: E402
                      update_section, verdict, write_json)
from _tickets import given_tickets  # noqa: E402
from bench_retriage import GROWTH_TARGET_MB, growth, input_file, run  # noqa: E402

NAME = "sweep"
RATIO_TARGET = 0.5


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def sweep_time(path: Path) -> str:
    """A `now` one day after the last case's creation (times carry various offsets)."""
    with open(path, "rb") as f:
        last = max(_instant(orjson.loads(line)["created_at"]) for line in f)
    return (last + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_process(n: int, rounds: int) -> dict:
    from triage.router import Triage

    tr = Triage(rules=ROOT / "rules", model=False)
    cases = given_tickets(n, seed=7)
    now = max(_instant(c["created_at"]) for c in cases)
    tr.sweep_dicts(cases[:2000], now), tr.route_dicts(cases[:2000])  # warm both cell caches
    return side_by_side({"Triage.sweep_dicts": lambda: len(tr.sweep_dicts(cases, now)),
                         "Triage.route_dicts": lambda: len(tr.route_dicts(cases))}, rounds)


def main() -> int:
    quick = argv_quick()
    n_big, n_cmp, mark, rounds = (200_000, 20_000, 20_000, 2) if quick else (1_000_000, 100_000, 100_000, 3)
    m = machine()
    print_machine(m)
    big, _ = input_file(n_big)
    cmp_file, _ = input_file(n_cmp)
    now_cmp, now_big = sweep_time(cmp_file), sweep_time(big)
    work = Path(tempfile.mkdtemp(prefix="triage-bench-sweep-"))

    pairs = []
    for i in range(rounds):
        pair = {}
        for name in (("sweep", "retriage") if i % 2 == 0 else ("retriage", "sweep")):
            command = ("sweep", "--now", now_cmp) if name == "sweep" else ("retriage",)
            pair[name] = r = run(cmp_file, n_cmp, 1, work, command=command)
            print(f"round {i + 1}/{rounds}, {name}, {n_cmp:,} records: steady {r['steady_rate_per_s']:,.0f}/s, "
                  f"CPU {r['cpu_us_per_record']:.0f} µs/record, peak RSS {r['peak_rss_total_mb']:.0f} MiB", flush=True)
        pairs.append(pair)
    ratios = [p["sweep"]["steady_rate_per_s"] / p["retriage"]["steady_rate_per_s"] for p in pairs]
    ratio = statistics.median_low(ratios)
    cpu_ratio = statistics.median_low(p["retriage"]["cpu_us_per_record"] / p["sweep"]["cpu_us_per_record"]
                                      for p in pairs)
    proc = in_process(20_000, 3 if quick else 5)
    print(f"in process: {proc}", flush=True)

    big_run = run(big, n_big, 1, work, command=("sweep", "--now", now_big))
    g = growth(big_run, mark)
    print(f"sweep, {n_big:,} records: wall {big_run['wall_s']:.1f} s, steady {big_run['steady_rate_per_s']:,.0f}/s; "
          f"growth after {mark:,}: {g.get('growth_total_mb', 0):+.1f} MiB (trend "
          f"{g.get('trend_growth_total_mb', 0):+.1f} MiB), peak {big_run['peak_rss_total_mb']:.0f} MiB", flush=True)
    summary = orjson.loads((work / "summary-j1.json").read_bytes())
    load = os.getloadavg()
    for r in (*(r for p in pairs for r in p.values()), big_run):
        r["samples"] = r["samples"][::max(1, len(r["samples"]) // 400)]
    data = {"name": NAME, "quick": quick, "machine": m, "load_average_end": load, "now": now_cmp,
            "ratio_steady": ratio, "round_ratios": ratios, "ratio_cpu": cpu_ratio, "ratio_target": RATIO_TARGET,
            "in_process": proc, "growth": g, "growth_target_mb": GROWTH_TARGET_MB, "big": big_run,
            "big_summary": {k: summary[k] for k in ("records", "decided", "errors", "by region/tier") if k in summary},
            "rounds": pairs}
    write_json(NAME, data)
    shutil.rmtree(work, ignore_errors=True)

    rows = [[f"round {i + 1}, {name}", f"{p[name]['steady_rate_per_s']:,.0f}", f"{p[name]['cpu_us_per_record']:.0f}",
             f"{p[name]['peak_rss_total_mb']:.0f}"] for i, p in enumerate(pairs) for name in ("retriage", "sweep")]
    escalated = sum(c.get("escalated", 0) for c in summary.get("by region/tier", {}).values())
    md = [f"## Case sweep: `triage sweep` vs `triage retriage`, {n_big:,} cases in memory{', quick' if quick else ''}",
          "", machine_line(m) + f" Load average at the end {', '.join(f'{x:.2f}' for x in load)}.", "",
          f"**sweep / retriage = {ratio:.2f}×** steady-state records/s on the same {n_cmp:,} cases, the median of "
          f"{rounds} rounds ({', '.join(f'{x:.2f}×' for x in ratios)}; by CPU per record {cpu_ratio:.2f}×; "
          f"target ≥ {RATIO_TARGET}×: {verdict(ratio, RATIO_TARGET)}). In process on 20,000 cases: "
          + ", ".join(f"{k} {v['rate_per_s']:,.0f}/s (CPU {v['cpu_rate_per_s']:,.0f}/s)" for k, v in proc.items())
          + ".",
          "",
          f"**Memory: {g.get('growth_total_mb', float('nan')):+.1f} MiB** from {mark:,} to {n_big:,} swept cases "
          f"(trend {g.get('trend_growth_total_mb', float('nan')):+.1f} MiB; peak {big_run['peak_rss_total_mb']:,.0f} "
          f"MiB; target ≤ {GROWTH_TARGET_MB} MB: {verdict(g.get('growth_total_mb', 1e9), GROWTH_TARGET_MB, False)}); "
          f"{big_run['steady_rate_per_s']:,.0f} cases/s steady, {escalated:,} escalations at {now_big}.", "",
          table(["run", "steady records/s", "CPU µs/record", "peak RSS MiB"], rows), ""]
    update_section(NAME, "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
