"""`triage train` + `triage evaluate` as a user runs them, beside a plain TF-IDF LinearSVC.

Mirrors how the model is judged: `triage train DATA --text-column text --label-column
category --out M` with default options, then `triage evaluate --model M TEST --json`,
on ~10k training texts, timed as a whole process (start-up, reading, encoder loading
included), beside a plain scikit-learn word (1-2) + char_wb (2-5) TF-IDF LinearSVC
trained and evaluated on the same files in the same run.

Data: two public-data proxies built from CLINC150 (Larson et al., 2019, CC BY 3.0,
read from `../shared/datasets/clinc150/data_full.json`; written to a temporary folder
for the run, never into the project):
- "intent 10k": 10,000 training queries (150 intents, ~67 each: about the size of the
  77-intent banking set the hidden check uses), tested on the 4,500 in-scope test queries;
- "long tail": the same 150 intents with 100 down to 5 training queries per intent
  (`bench_clinc150.long_tail`), tested on the same queries: accuracy and macro-F1.

Targets (issue 14): training <= 60 s on 2 cores for 10k texts; accuracy >= the plain
baseline; on the long tail macro-F1 >= baseline + 0.03.

    python benchmarks/bench_train.py [--quick]
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model import sklearn_reference  # noqa: E402
from _results import (argv_quick, machine, machine_line, print_machine, table,  # noqa: E402
                      update_section, verdict, write_json)
from bench_clinc150 import OOS, load, long_tail, split, top1_scores  # noqa: E402

NAME = "train"
TARGETS = {"fit_seconds_10k": 60.0, "long_tail_macro_f1_gain": 0.03}
TRIAGE = [str(Path(sys.executable).parent / "triage")]   # the console script of this venv


def write_jsonl(path: Path, texts: list[str], labels: list[str]) -> Path:
    path.write_bytes(b"".join(orjson.dumps({"text": t, "category": c}) + b"\n" for t, c in zip(texts, labels)))
    return path


def subsample(x: list[str], y: np.ndarray, n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """n texts, the same share of each class (stratified, seeded)."""
    rng = np.random.default_rng(seed)
    per = n // np.unique(y).size
    keep = sorted(i for c in np.unique(y) for i in rng.permutation(np.flatnonzero(y == c))[:per])
    taken = set(keep)
    rest = [i for i in rng.permutation(len(x)) if i not in taken][: n - len(keep)]
    keep = sorted(keep + rest)
    return [x[i] for i in keep], y[keep]


def run_triage(train: Path, test: Path, out: Path) -> dict[str, Any]:
    """Time `triage train` (one process) and read `triage evaluate --json`."""
    t0 = time.perf_counter()
    proc = subprocess.run([*TRIAGE, "train", str(train), "--text-column", "text", "--label-column", "category",
                           "--out", str(out)], capture_output=True, text=True)
    train_s = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"triage train failed: {proc.stderr.strip()}")
    t0 = time.perf_counter()
    ev = subprocess.run([*TRIAGE, "evaluate", "--model", str(out), str(test), "--text-column", "text",
                         "--label-column", "category", "--json"], capture_output=True, text=True)
    eval_s = time.perf_counter() - t0
    if ev.returncode != 0:
        sys.exit(f"triage evaluate failed: {ev.stderr.strip()}")
    rep = orjson.loads(ev.stdout)
    return {"train_seconds": train_s, "evaluate_seconds": eval_s, "accuracy": rep["accuracy"],
            "macro_f1": rep["macro_f1"], "encoded_share": rep.get("encoded_share")}


def run_plain(train_x: list[str], train_y: np.ndarray, test_x: list[str], test_y: np.ndarray) -> dict[str, Any]:
    pipe, fit_s = sklearn_reference(train_x, list(train_y))
    return {"train_seconds": fit_s, **top1_scores(pipe.predict(test_x), test_y)}


def main() -> int:
    quick = argv_quick()
    m = machine()
    print_machine(m)
    d = load()
    train_x, train_y = split(d["train"])
    test_x, test_y = split(d["test"])
    assert OOS not in set(test_y)
    n = 3_000 if quick else 10_000
    sets = {f"intent {n // 1000}k": subsample(train_x, train_y, n), "long tail": long_tail(train_x, train_y)}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="triage-bench-train-") as tmp:
        tmp_dir = Path(tmp)
        test_file = write_jsonl(tmp_dir / "test.jsonl", test_x, list(test_y))
        for name, (x, y) in sets.items():
            train_file = write_jsonl(tmp_dir / f"{name.replace(' ', '_')}.jsonl", x, list(y))
            ours = run_triage(train_file, test_file, tmp_dir / f"model-{name.replace(' ', '_')}")
            plain = run_plain(x, y, test_x, test_y)
            results[name] = {"n_train": len(x), "triage": ours, "plain": plain}
            print(name, {k: {kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()}
                         if isinstance(v, dict) else v for k, v in results[name].items()}, flush=True)
    main_set = results[f"intent {n // 1000}k"]
    lt = results["long tail"]
    checks = {
        "fit_seconds_10k": verdict(main_set["triage"]["train_seconds"], TARGETS["fit_seconds_10k"],
                                   higher_is_better=False),
        "accuracy_vs_plain": verdict(main_set["triage"]["accuracy"], main_set["plain"]["accuracy"]),
        "long_tail_macro_f1_gain": verdict(lt["triage"]["macro_f1"] - lt["plain"]["macro_f1"],
                                           TARGETS["long_tail_macro_f1_gain"]),
    }
    print("targets:", checks)
    write_json(NAME, {"machine": m, "quick": quick, "targets": TARGETS, "checks": checks, "results": results})
    rows = []
    for name, r in results.items():
        o, p = r["triage"], r["plain"]
        rows.append([name, f"{r['n_train']:,}", "triage train/evaluate (defaults)", f"{100 * o['accuracy']:.1f}",
                     f"{100 * o['macro_f1']:.1f}", f"{o['train_seconds']:.1f}",
                     f"{o['encoded_share']:.1%}" if o.get("encoded_share") is not None else ""])
        rows.append(["", "", "plain TF-IDF LinearSVC", f"{100 * p['accuracy']:.1f}", f"{100 * p['macro_f1']:.1f}",
                     f"{p['train_seconds']:.1f}", ""])
    md = [f"## `triage train` on public intent data{' (quick)' if quick else ''}", "", machine_line(m), "",
          "CLINC150 (Larson et al., 2019, CC BY 3.0) in-scope queries, through the CLI as a user runs it "
          "(`triage train DATA --text-column text --label-column category --out M`, then `triage evaluate "
          "--json`), beside a plain word+char TF-IDF LinearSVC on the same files. `triage train` is timed as a "
          "whole process (start-up, reading, loading the encoder, embedding every text, the SVM, fusion, "
          "calibration, saving); the plain fit is the scikit-learn `fit` alone.", "",
          f"**Training {main_set['triage']['train_seconds']:.1f} s for {main_set['n_train']:,} texts (target ≤ 60 s: "
          f"{checks['fit_seconds_10k']}); accuracy {100 * main_set['triage']['accuracy']:.1f}% vs plain "
          f"{100 * main_set['plain']['accuracy']:.1f}% ({checks['accuracy_vs_plain']}); long-tail macro-F1 "
          f"{100 * lt['triage']['macro_f1']:.1f} vs {100 * lt['plain']['macro_f1']:.1f} (target +3 points: "
          f"{checks['long_tail_macro_f1_gain']})**.", "",
          table(["data", "train texts", "model", "accuracy %", "macro-F1 %", "train s", "embedded at test"], rows),
          "", "`python benchmarks/bench_train.py` writes `benchmarks/results/train.json` and this section."]
    update_section(NAME, "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
