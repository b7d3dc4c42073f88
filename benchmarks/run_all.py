"""Run every benchmark (`benchmarks/bench_*.py`), each in its own interpreter.

    python benchmarks/run_all.py [--quick] [--only NAME ...]

Each benchmark prints its figures, writes `benchmarks/results/NAME.json` and replaces
its own section of `benchmarks/RESULTS.md`. A benchmark that fails is reported and the
others still run; the exit status is 1 if any failed.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Cheap, self-contained ones first; the long streaming run last.
ORDER = ["startup", "rules", "latency", "e2e", "clinc150", "serve", "retriage", "sweep"]


def discover() -> list[Path]:
    found = {p.stem[len("bench_"):]: p for p in HERE.glob("bench_*.py")}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    return [found[n] for n in names]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs, for CI-like runs")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these (e.g. rules e2e)")
    args = ap.parse_args()
    scripts = discover()
    if args.only:
        scripts = [p for p in scripts if p.stem[len("bench_"):] in args.only]
    failed, times = [], {}
    for script in scripts:
        name = script.stem[len("bench_"):]
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)] + (["--quick"] if args.quick else []), cwd=HERE.parent)
        times[name] = time.perf_counter() - t0
        if rc != 0:
            failed.append(name)
            print(f"!!! {name} failed with exit status {rc}", flush=True)
    print("\n" + ", ".join(f"{n} {t:.0f} s" for n, t in times.items()))
    print(f"results: {HERE / 'RESULTS.md'}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
