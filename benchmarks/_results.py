"""Shared by every benchmark: describe the machine, time contenders side by side, and
write results (`results/NAME.json` and this benchmark's own section of RESULTS.md).

Sections of RESULTS.md are delimited by `<!-- bench:NAME -->` ... `<!-- /bench:NAME -->`;
a benchmark replaces only its own section (under a file lock, since benchmarks written
by different people may run at the same time) and leaves the rest of the file alone.
"""
from __future__ import annotations

import fcntl
import gc
import io
import pstats
import importlib.metadata
import os
import platform
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
HEADER = """# Benchmark results

Written by `make bench` (`benchmarks/run_all.py`); each section below belongs to one
benchmark script and is replaced only by it. Ratios are measured side by side in one
run (contenders interleaved round by round, median of the rounds), with the absolute
numbers beside them, because these machines are noisy: compare ratios, not absolutes,
across machines.
"""
LIBRARIES = ("triage", "durable_rules", "scikit-learn", "numpy", "scipy", "pydantic", "pydantic_core", "orjson",
             "joblib", "zen-engine", "psutil")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable, "memory_gib": mem,
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "libraries": versions}


def machine_line(m: dict[str, Any]) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    load = ", ".join(f"{x:.2f}" for x in m["load_average"]) if m.get("load_average") else "n/a"
    return (f"Machine: {m['cpu']}, {m['usable_cores']} usable of {m['cores']} cores, {m['memory_gib']} GiB, "
            f"Python {m['python']} ({m['platform']}); load average at start {load}. Libraries: {libs}.")


def print_machine(m: dict[str, Any]) -> None:
    print(machine_line(m), flush=True)


# --- timing ----------------------------------------------------------------------------


def side_by_side(contenders: dict[str, Callable[[], int]], rounds: int, warmup: int = 1,
                 log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run each contender once per round, in rotating order, and return per-contender
    median rate (items/s) over the rounds, with every round's figure, by wall clock and
    by this process's CPU time (which other work on a shared machine does not inflate).

    A contender is a callable doing its whole batch and returning how many items it did.
    Interleaving means a noisy neighbour slows every contender of that round, not one.
    """
    names = list(contenders)
    for _ in range(warmup):
        for n in names:
            contenders[n]()
    per: dict[str, list[tuple[int, float]]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            gc.collect()
            c0 = time.process_time()
            t0 = time.perf_counter()
            items = contenders[n]()
            dt = time.perf_counter() - t0
            cpu[n].append(time.process_time() - c0)
            per[n].append((items, dt))
        if log:
            log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {i / d:,.0f}/s" for n, (i, d) in
                                                           ((n, per[n][-1]) for n in names)))
    out = {}
    for n in names:
        rates = [i / d for i, d in per[n]]
        cpu_rates = [i / c if c > 0 else float("nan") for (i, _), c in zip(per[n], cpu[n])]
        out[n] = {"rate_per_s": statistics.median(rates), "rates_per_s": [round(x, 1) for x in rates],
                  "cpu_rate_per_s": statistics.median(cpu_rates), "cpu_rates_per_s": [round(x, 1) for x in cpu_rates],
                  "items_per_round": per[n][0][0], "seconds_per_round": [round(d, 4) for _, d in per[n]],
                  "cpu_seconds_per_round": [round(c, 4) for c in cpu[n]]}
    return out


def repeat_to(fn: Callable[[], int], min_seconds: float = 0.25) -> Callable[[], int]:
    """`fn` repeated enough times that one round lasts at least `min_seconds` (so that
    fast contenders are not timed on a few milliseconds); returns the items of all repeats."""
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    reps = max(1, int(min_seconds / dt + 0.999)) if dt > 0 else 1

    def run() -> int:
        return sum(fn() for _ in range(reps))

    return run


def ratio_rounds(a: dict[str, Any], b: dict[str, Any], key: str = "rates_per_s") -> float:
    """Median over rounds of the per-round ratio a/b (both measured in the same round).
    key="cpu_rates_per_s" compares CPU-time rates: robust to other work on the machine."""
    return statistics.median(x / y for x, y in zip(a[key], b[key]))


# --- writing -----------------------------------------------------------------------------


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY))
    os.replace(tmp, path)
    return path


@contextmanager
def _locked() -> Iterator[None]:
    # Outside the repository (nothing to commit), one per checkout.
    import hashlib
    import tempfile

    tag = hashlib.sha256(str(RESULTS_MD).encode()).hexdigest()[:12]
    lock = Path(tempfile.gettempdir()) / f"triage-bench-results-{tag}.lock"
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def update_section(name: str, markdown: str) -> None:
    """Replace (or append) the section `name` of RESULTS.md, leaving other sections alone."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    with _locked():
        text = RESULTS_MD.read_text() if RESULTS_MD.exists() else HEADER
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m: block, text, count=1)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        tmp = RESULTS_MD.with_suffix(".md.tmp")
        tmp.write_text(text)
        os.replace(tmp, RESULTS_MD)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; numbers right-aligned."""
    def cell(v: Any) -> str:
        return "" if v is None else str(v)
    align = ["---:" if rows and all(isinstance(r[i], (int, float)) or (isinstance(r[i], str) and
             re.fullmatch(r"[-+]?[\d,.]+[×%a-zµ /]*", r[i] or "")) for r in rows) else "---"
             for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "**not met**"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}/s"


def argv_quick() -> bool:
    return "--quick" in sys.argv[1:]


# --- profiles ------------------------------------------------------------------------------


def _short(file: str) -> str:
    for marker in ("/src/", "site-packages/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def top_costs(prof: Any, n_items: int, top: int = 15, key: str = "tottime") -> list[dict[str, Any]]:
    """A cProfile.Profile as rows per item (µs), sorted by own time (or cumulative)."""
    st = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _) in st.stats.items():
        rows.append({"function": f"{_short(file)}:{line}({func})", "calls_per_item": round(nc / n_items, 2),
                     "tottime_us_per_item": round(tt / n_items * 1e6, 3),
                     "cumtime_us_per_item": round(ct / n_items * 1e6, 3)})
    rows.sort(key=lambda r: -r["tottime_us_per_item" if key == "tottime" else "cumtime_us_per_item"])
    return rows[:top]
