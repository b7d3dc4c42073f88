"""`triage retriage` on a streamed backlog: resident memory over one million tickets, and
throughput with one and two worker processes.

The input (tickets with categories given, 30% carrying `previous.*` fields as a real
re-triage backlog would) is generated streaming to /tmp, seeded, and reused by later
runs. The command runs as a subprocess; a sampler reads every 0.2 s the resident set
and CPU time of its whole process tree (/proc) and how far the run is (its checkpoint).
- memory: RSS once 100k records are done vs the peak after it (target: growth <= 50 MB);
- throughput: steady-state records/s between 10% and the end of the run (start-up of
  the process and of the workers excluded; wall-clock rate beside it), --jobs 1 and
  --jobs 2 on the same file, in rounds of one each (alternating which goes first); the
  ratio is the median of the rounds' ratios (target: >= 1.7x on 2 cores).
Categories are given: with free text the model (a few thousand tickets/s) would make a
million-ticket run take many minutes; the end-to-end benchmark covers the model.

    python benchmarks/bench_retriage.py [--quick]
"""
from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

from _results import (argv_quick, machine, machine_line, print_machine, table, update_section,  # noqa: E402
                      verdict, write_json)
from _tickets import stream_given_jsonl  # noqa: E402

NAME = "retriage"
GROWTH_TARGET_MB = 50
SCALING_TARGET = 1.7
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def triage_cmd() -> list[str]:
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage"]


def input_file(n: int, seed: int = 13) -> tuple[Path, float]:
    """The backlog, generated once per (n, seed, generator code and distributions) and reused."""
    import inspect

    import _tickets

    parts = [inspect.getsource(f) for f in (_tickets.ticket, _tickets._created, _tickets._affected, _tickets._pick,
                                             _tickets.stream_given_jsonl)]
    parts += [repr(getattr(_tickets, k)) for k in ("CATEGORIES", "CATEGORY_WEIGHTS", "CHANNELS", "TIERS", "REGIONS",
                                                   "PRODUCTS", "CLOUDS", "SEVERITY", "LOCATIONS", "START", "OFFSETS")]
    tag = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]
    path = Path(tempfile.gettempdir()) / f"triage-bench-backlog-{n}-{seed}-{tag}.jsonl"
    if path.exists():
        return path, 0.0
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    stream_given_jsonl(tmp, n, seed=seed)
    os.replace(tmp, path)
    return path, time.perf_counter() - t0


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def proc_sample(pid: int) -> tuple[int, float, float, int] | None:
    """(RSS bytes, CPU seconds, of which system, minor page faults) of one process, or None
    when it is gone. System time and faults show a heap given back to the kernel and
    faulted in again chunk after chunk."""
    try:
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return rss, (int(fields[11]) + int(fields[12])) / TICK, int(fields[12]) / TICK, int(fields[7])
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot (/proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / TICK, idle / TICK


def run(infile: Path, n: int, jobs: int, workdir: Path, interval: float = 0.2,
        command: tuple[str, ...] = ("retriage",)) -> dict:
    """One batch run as a subprocess (`command`: `retriage`, or `sweep --now T`), sampled."""
    out, err = workdir / f"out-j{jobs}.jsonl", workdir / f"errors-j{jobs}.jsonl"
    ckpt = out.with_name(out.name + ".checkpoint")
    cmd = triage_cmd() + [*command, str(infile), "--out", str(out), "--errors", str(err), "--jobs", str(jobs),
                          "-q", "--summary-json", str(workdir / f"summary-j{jobs}.json")]
    busy0, idle0 = machine_cpu()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    cpu_seen: dict[int, float] = {}
    sys_seen: dict[int, float] = {}
    faults_seen: dict[int, int] = {}
    while p.poll() is None:
        now = time.perf_counter() - t0
        pids = tree(p.pid)
        rss_main, rss_total = 0, 0
        for q in pids:
            s = proc_sample(q)
            if s is None:
                continue
            rss_total += s[0]
            if q == p.pid:
                rss_main = s[0]
            cpu_seen[q], sys_seen[q], faults_seen[q] = s[1], s[2], s[3]
        try:
            records = orjson.loads(ckpt.read_bytes())["position"]["records"]
        except (OSError, ValueError, KeyError):
            records = samples[-1]["records"] if samples else 0
        samples.append({"t": round(now, 3), "records": records, "rss_main": rss_main, "rss_total": rss_total,
                        "processes": len(pids), "cpu_main": cpu_seen.get(p.pid, 0.0),
                        "cpu_total": sum(cpu_seen.values()), "sys_total": sum(sys_seen.values()),
                        "faults_total": sum(faults_seen.values())})
        time.sleep(interval)
    wall = time.perf_counter() - t0
    busy1, idle1 = machine_cpu()
    # Whether the machine had cores to spare: its idle share, and the cores other work took.
    idle_share = (idle1 - idle0) / ((busy1 - busy0) + (idle1 - idle0)) if busy1 + idle1 > busy0 + idle0 else None
    others_cores = max(0.0, (busy1 - busy0) - sum(cpu_seen.values())) / wall
    stderr = p.stderr.read().decode() if p.stderr else ""
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} --jobs {jobs} failed ({p.returncode}): {stderr[-2000:]}")
    summary = orjson.loads((workdir / f"summary-j{jobs}.json").read_bytes())
    lines = 0
    with open(out, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            lines += block.count(b"\n")
    out_bytes = out.stat().st_size
    for path in (out, err):
        path.unlink(missing_ok=True)
    # Steady state: from the first sample at >= 10% of the records to the last progress seen.
    # Once the run removes its checkpoint, samples repeat the last count while the process
    # finishes (and shuts its workers down): the window ends at the first sample of that count.
    prog = [s for s in samples if s["records"] > 0]
    start = next((s for s in prog if s["records"] >= 0.1 * n), prog[0] if prog else None)
    end = next(s for s in prog if s["records"] == prog[-1]["records"]) if prog else None
    steady = ((end["records"] - start["records"]) / (end["t"] - start["t"])
              if start and end and end["t"] > start["t"] else None)
    steady_n = end["records"] - start["records"] if start and end else 0
    cpu_steady = (end["cpu_total"] - start["cpu_total"]) / steady_n * 1e6 if steady_n else None
    cpu_main_steady = (end["cpu_main"] - start["cpu_main"]) / steady_n * 1e6 if steady_n else None
    sys_steady = (end["sys_total"] - start["sys_total"]) / steady_n * 1e6 if steady_n else None
    faults_steady = (end["faults_total"] - start["faults_total"]) / steady_n if steady_n else None
    return {"jobs": jobs, "records": n, "wall_s": wall, "wall_rate_per_s": n / wall, "steady_rate_per_s": steady,
            "first_progress_s": prog[0]["t"] if prog else None, "cpu_s": sum(cpu_seen.values()),
            "machine_idle_share": idle_share, "other_work_cores": others_cores,
            "cpu_us_per_record": sum(cpu_seen.values()) / n * 1e6, "cpu_main_s": cpu_seen.get(p.pid, 0.0),
            "steady_cpu_us_per_record": cpu_steady, "steady_cpu_main_us_per_record": cpu_main_steady,
            "steady_sys_us_per_record": sys_steady, "steady_minor_faults_per_record": faults_steady,
            "steady_cores_used": (steady * cpu_steady / 1e6) if steady and cpu_steady else None,
            "decided": summary["decided"],
            "errors": summary["errors"], "output_lines": lines, "output_bytes": out_bytes, "samples": samples,
            "peak_rss_main_mb": max(s["rss_main"] for s in samples) / 2**20 if samples else None,
            "peak_rss_total_mb": max(s["rss_total"] for s in samples) / 2**20 if samples else None}


CEILING_LOOP = "s = 0\nfor i in range(12_000_000):\n    s += i\n"


def ceiling() -> dict:
    """What two processes can get from this machine right now: one pure-Python CPU loop
    alone, then two at once (throughput ratio), with the machine's idle share meanwhile.
    Other work on a shared machine, or vCPUs that share a physical core, lower it."""
    def run(k: int) -> float:
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", CEILING_LOOP]) for _ in range(k)]
        for q in procs:
            q.wait()
        return time.perf_counter() - t0

    busy0, idle0 = machine_cpu()
    one, two = run(1), run(2)
    busy1, idle1 = machine_cpu()
    return {"one_s": one, "two_s": two, "throughput_ratio": 2 * one / two,
            "machine_idle_share": (idle1 - idle0) / ((busy1 - busy0) + (idle1 - idle0))}


def growth(r: dict, mark: int) -> dict:
    """RSS when `mark` records are done vs the peak after it (main process and whole tree)."""
    after = [s for s in r["samples"] if s["records"] >= mark]
    if not after:
        return {"mark": mark, "available": False}
    at = after[0]
    # A leak shows as a trend; in-flight chunks make RSS oscillate by a few tens of MB. So
    # also: median RSS just after the mark vs median RSS over the last tenth of the run.
    last = after[-1]["records"]
    early = [s for s in after if s["records"] <= 2 * mark] or after[:1]
    late = [s for s in after if s["records"] >= 0.9 * last] or after[-1:]

    def med(xs: list[dict], k: str) -> float:
        return statistics.median(x[k] for x in xs) / 2**20

    return {"mark": mark, "available": True, "t_at_mark_s": at["t"],
            "trend_growth_main_mb": med(late, "rss_main") - med(early, "rss_main"),
            "trend_growth_total_mb": med(late, "rss_total") - med(early, "rss_total"),
            "rss_main_at_mark_mb": at["rss_main"] / 2**20, "rss_total_at_mark_mb": at["rss_total"] / 2**20,
            "peak_main_after_mb": max(s["rss_main"] for s in after) / 2**20,
            "peak_total_after_mb": max(s["rss_total"] for s in after) / 2**20,
            "growth_main_mb": (max(s["rss_main"] for s in after) - at["rss_main"]) / 2**20,
            "growth_total_mb": (max(s["rss_total"] for s in after) - at["rss_total"]) / 2**20}


def main() -> int:
    quick = argv_quick()
    n_big, n_cmp, mark, rounds = (200_000, 40_000, 20_000, 2) if quick else (1_000_000, 100_000, 100_000, 3)
    big_jobs = 2
    m = machine()
    print_machine(m)
    big, gen_big = input_file(n_big)
    cmp_file, gen_cmp = input_file(n_cmp)
    print(f"inputs: {big} ({big.stat().st_size / 2**20:,.0f} MiB, generated in {gen_big:.1f} s or reused), "
          f"{cmp_file} ({gen_cmp:.1f} s)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="triage-bench-retriage-"))

    ceil_before = ceiling()
    print(f"machine ceiling now: two CPU-bound processes get {ceil_before['throughput_ratio']:.2f}x one "
          f"(idle {100 * ceil_before['machine_idle_share']:.0f}%)", flush=True)
    # Rounds of one --jobs 1 and one --jobs 2 run, in alternating order; the ratio is the
    # median of the rounds' ratios (one noisy second can decide a single 100k pair).
    pairs: list[dict[int, dict]] = []
    for i in range(rounds):
        pair = {}
        for jobs in ((1, 2) if i % 2 == 0 else (2, 1)):
            pair[jobs] = r = run(cmp_file, n_cmp, jobs, work)
            print(f"round {i + 1}/{rounds}, --jobs {jobs}, {n_cmp:,} records: steady {r['steady_rate_per_s']:,.0f}/s, "
                  f"wall {r['wall_s']:.1f} s ({r['wall_rate_per_s']:,.0f}/s), CPU {r['cpu_us_per_record']:.0f} "
                  f"µs/record, peak RSS {r['peak_rss_total_mb']:.0f} MiB", flush=True)
        pairs.append(pair)
    load_mid = os.getloadavg()
    ceil_after = ceiling()
    ratios = [p[2]["steady_rate_per_s"] / p[1]["steady_rate_per_s"] for p in pairs]
    scaling = statistics.median_low(ratios)
    runs = pairs[ratios.index(scaling)]  # the median round, for the figures beside the ratio
    scaling_wall = runs[2]["wall_rate_per_s"] / runs[1]["wall_rate_per_s"]
    # What an otherwise idle machine would allow, from the steady-state CPU accounting: two
    # cores shared by all processes, and the main process (reading, writing, fsync,
    # checkpoints) is serial. An estimate, reported as such, beside the measurement.
    c1, c2 = runs[1]["steady_cpu_us_per_record"], runs[2]["steady_cpu_us_per_record"]
    main2 = runs[2]["steady_cpu_main_us_per_record"]
    cores = m["usable_cores"] or 2
    est = (min(cores / c2, 1 / main2 if main2 else float("inf")) / (1 / c1)) if c1 and c2 else None

    big_run = run(big, n_big, big_jobs, work)
    g = growth(big_run, mark)
    print(f"--jobs {big_jobs}, {n_big:,} records: wall {big_run['wall_s']:.1f} s, steady "
          f"{big_run['steady_rate_per_s']:,.0f}/s; RSS at {mark:,}: {g.get('rss_total_at_mark_mb', 0):.0f} MiB, "
          f"peak after {g.get('peak_total_after_mb', 0):.0f} MiB, growth {g.get('growth_total_mb', 0):+.1f} MiB "
          f"(main process {g.get('growth_main_mb', 0):+.1f} MiB)", flush=True)
    load_end = os.getloadavg()

    for r in (*(r for p in pairs for r in p.values()), big_run):  # keep the JSON readable: thin the samples
        step = max(1, len(r["samples"]) // 400)
        r["samples"] = r["samples"][::step]
    data = {"name": NAME, "quick": quick, "machine": m, "load_average_mid": load_mid, "load_average_end": load_end,
            "input_records": n_big, "comparison_records": n_cmp, "growth": g, "growth_target_mb": GROWTH_TARGET_MB,
            "scaling_steady": scaling, "scaling_wall": scaling_wall, "scaling_target": SCALING_TARGET,
            "scaling_cpu_bound_estimate": est, "ceiling_before": ceil_before, "ceiling_after": ceil_after,
            "round_ratios": ratios, "rounds": [{"jobs1": p[1], "jobs2": p[2]} for p in pairs], "big": big_run}
    write_json(NAME, data)
    shutil.rmtree(work, ignore_errors=True)

    def mb(x: float | None) -> str:
        return "" if x is None else f"{x:,.0f}"

    def num(x: float | None, fmt: str = "{:,.0f}") -> str:
        return "" if x is None else fmt.format(x)

    labelled = [(f"round {i + 1}, --jobs {j}", p[j]) for i, p in enumerate(pairs) for j in (1, 2)]
    rows = [[label, f"{r['records']:,}", num(r["steady_rate_per_s"]), num(r["wall_rate_per_s"]),
             f"{r['wall_s']:.1f}", num(r["first_progress_s"], "{:.1f}"), num(r["cpu_us_per_record"]),
             num(r["steady_cpu_us_per_record"]), num(r["steady_cpu_main_us_per_record"]),
             num(r["steady_sys_us_per_record"], "{:.1f}"), num(r["steady_minor_faults_per_record"], "{:.2f}"),
             num(r["steady_cores_used"], "{:.2f}"), num(r["other_work_cores"], "{:.2f}"),
             num(100 * r["machine_idle_share"] if r["machine_idle_share"] is not None else None, "{:.0f}%"),
             mb(r["peak_rss_main_mb"]), mb(r["peak_rss_total_mb"])]
            for label, r in (*labelled, (f"--jobs {big_jobs}", big_run))]
    md = [f"## Batch re-triage: memory over {n_big:,} streamed tickets, 1 vs 2 processes{', quick' if quick else ''}",
          "", machine_line(m) + " Load average after the 1-vs-2 runs "
          f"{', '.join(f'{x:.2f}' for x in load_mid)}; at the "
          f"end {', '.join(f'{x:.2f}' for x in load_end)}.", "",
          f"**Memory growth from {mark:,} to {n_big:,} records: {g.get('growth_total_mb', float('nan')):+.1f} MiB** "
          f"for the whole process tree, {g.get('growth_main_mb', float('nan')):+.1f} MiB for the main process "
          f"(target ≤ {GROWTH_TARGET_MB} MB: {verdict(g.get('growth_total_mb', 1e9), GROWTH_TARGET_MB, False)}); "
          f"RSS at {mark:,}: {g.get('rss_total_at_mark_mb', 0):,.0f} MiB (tree), peak after: "
          f"{g.get('peak_total_after_mb', 0):,.0f} MiB. Trend (median RSS over the last tenth of the run minus "
          f"median just after {mark:,}): {g.get('trend_growth_total_mb', float('nan')):+.1f} MiB tree, "
          f"{g.get('trend_growth_main_mb', float('nan')):+.1f} MiB main process.", "",
          f"**2 processes / 1 process = {scaling:.2f}×** steady-state, the median of {rounds} rounds "
          f"({', '.join(f'{x:.2f}×' for x in ratios)}; {scaling_wall:.2f}× by wall clock in the median round) on "
          f"{m['usable_cores']} cores (target ≥ {SCALING_TARGET}×: {verdict(scaling, SCALING_TARGET)})"
          + (f"; from the steady-state CPU accounting, an otherwise idle machine would allow about {est:.2f}× "
             "(an estimate, not a measurement)" if est else "") + ". For scale, the machine itself: two pure-Python "
          f"CPU loops got {ceil_before['throughput_ratio']:.2f}× one loop just before these runs and "
          f"{ceil_after['throughput_ratio']:.2f}× just after (machine idle "
          f"{100 * ceil_before['machine_idle_share']:.0f}% / {100 * ceil_after['machine_idle_share']:.0f}% meanwhile).",
          "",
          table(["run", "records", "steady records/s", "wall records/s", "wall s", "first checkpoint s",
                 "CPU µs/record, whole run", "CPU µs/record, steady", "of which main process",
                 "of which system", "page faults/record, steady",
                 "cores used, steady", "cores taken by other work", "machine idle", "peak RSS main MiB",
                 "peak RSS tree MiB"], rows), "",
          f"- Categories given (no model in the loop), 30% of records with `previous.*` fields, JSONL in and out, "
          f"checkpoint every 2,000-record chunk (the default). Every record decided: "
          f"{big_run['decided']:,} decisions, {big_run['errors']} errors, {big_run['output_lines']:,} output lines.",
          "- Steady rate = records between the first checkpoint at ≥ 10% and the last one, over that time (process "
          "and worker start-up excluded); RSS and CPU sampled from /proc every 0.2 s for the process and its children.",
          "- CPU µs/record summed over all processes shows the cost of parallelism apart from contention: other "
          "work on the machine slows wall-clock figures but not this one. \"Cores used\" = steady rate × CPU per "
          "record: below the usable cores, the run was starved of CPU (other work) or waiting (I/O, fsync). "
          "\"Cores taken by other work\" and \"machine idle\" come from /proc/stat over the run: with no idle time "
          "left, a second process cannot show its worth, and the scaling target cannot be judged on that run.",
          "- System time and minor page faults per record (steady, whole tree) show a heap given back to the kernel "
          "after every chunk and faulted in again; the processes `retriage` owns (the command and its workers) "
          "are tuned against that and leave their start-up objects out of the collector's passes "
          "(`triage.process.tune_for_streaming`)."]
    update_section(NAME, "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
