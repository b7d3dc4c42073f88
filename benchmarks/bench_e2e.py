"""End to end: `route_many` and `triage route` against classifier-only plus pure-Python rules.

For the same generated tickets, side by side in one run:
- in process: `Triage.route_many(dicts)` vs the baseline `model.classify` (same model,
  same 512-ticket chunks) + the plain-Python policy of `_floor.PlainPolicy` (facts, the
  generated first-match rules, hand-over and response deadline), on free text and with
  categories given; `classify` alone is shown for scale;
- the command line: `triage route FILE > out` in a subprocess, its start-up (the same
  command on a one-ticket file, median of several) subtracted, vs the baseline reading
  the same JSON Lines and writing decisions as JSON Lines in process;
- for reference, a plain scikit-learn word+char TF-IDF LinearSVC on a subset of the texts.
The baseline's decisions are checked equal to the project's. Then cProfile of the
project's paths, by function and by stage. Target (issue 7): project >= 0.8x baseline.

    python benchmarks/bench_e2e.py [--quick]
"""
from __future__ import annotations

import cProfile
import gc
import os
import shutil
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

from _floor import PlainPolicy, plain_route_many  # noqa: E402
from _model import get_model, sklearn_reference  # noqa: E402
from _results import (ROOT, argv_quick, machine, machine_line, print_machine, ratio_rounds, side_by_side,  # noqa: E402
                      table, top_costs, update_section, verdict, write_json)
from _tickets import given_tickets, jsonl, load_corpus, text_tickets  # noqa: E402

NAME = "e2e"
TARGET = 0.8
CHUNK = 512

# (label, file suffix, function) of the stages the end-to-end path goes through.
STAGES = [
    ("JSON parse (orjson.loads)", "", "<built-in method orjson.loads>"),
    ("ticket validation (parse_ticket, pydantic)", "triage/ticket.py", "parse_ticket"),
    ("ticket reading (read_fast, the batch path's reader)", "triage/fastticket.py", "read_fast"),
    ("classification (model.classify)", "", "classify"),
    ("facts (ticket_facts)", "triage/facts.py", "ticket_facts"),
    ("rules (RuleSet.evaluate)", "triage/rules/ruleset.py", "evaluate"),
    ("rules (RuleSet.decide, cell cache)", "triage/rules/ruleset.py", "decide"),
    ("decision dict (Triage._decision_dict)", "triage/router.py", "_decision_dict"),
    ("schedule: on_shift", "triage/schedule.py", "on_shift"),
    ("schedule: response_due", "triage/schedule.py", "response_due"),
    ("schedule: handoff", "triage/schedule.py", "handoff"),
    ("schedule: iso()", "triage/schedule.py", "iso"),
    ("Decision.model_construct", "pydantic/main.py", "model_construct"),
    ("Decision.from_dict", "triage/decision.py", "from_dict"),
    ("orjson.dumps", "", "<built-in method orjson.dumps>"),
    ("Decision.to_json", "triage/decision.py", "to_json"),
    ("Decision.to_dict", "triage/decision.py", "to_dict"),
]


def triage_cmd() -> list[str]:
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage"]


def run_cli(args: list[str], infile: Path, outfile: Path) -> float:
    with open(outfile, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.run(triage_cmd() + ["route", str(infile)] + args, stdout=out, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"triage route failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return dt


def plain_jsonl(policy: PlainPolicy, classify, infile: Path, outfile: Path) -> int:
    """The baseline's command-line equivalent: JSON Lines in, JSON Lines out, in process."""
    tickets = [orjson.loads(line) for line in infile.read_bytes().splitlines() if line.strip()]
    out = plain_route_many(policy, tickets, classify, CHUNK)
    outfile.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in out))
    return len(out)


def stage_breakdown(prof: cProfile.Profile, n: int) -> list[dict]:
    st = pstats.Stats(prof)
    total = max(v[3] for v in st.stats.values())
    rows = []
    for label, file, func in STAGES:
        ct = sum(v[3] for (f, _, fn), v in st.stats.items() if fn == func and (not file or f.endswith(file)))
        if ct:
            rows.append({"stage": label, "cum_us_per_ticket": round(ct / n * 1e6, 2), "share": round(ct / total, 3)})
    rows.append({"stage": "total (profiled)", "cum_us_per_ticket": round(total / n * 1e6, 2), "share": 1.0})
    return rows


def stage_costs(tr, policy: PlainPolicy, given: list[dict]) -> list[dict]:
    """CPU µs per ticket of each step of the given-category path, timed separately without a
    profiler (best of three passes), beside the whole plain baseline. Steps the checkout
    does not have (the router is being optimised while this is written) are left out."""
    from triage.facts import ticket_facts
    from triage.schedule import iso
    from triage.ticket import parse_ticket

    raw = [orjson.dumps(t) for t in given]
    tickets = [parse_ticket(t) for t in given]
    sched, rs = tr.schedule, tr.ruleset
    facts = [tr.facts_of(t, t.category) for t in tickets]
    decide = rs.decide
    for f in facts:
        decide(f)  # the facts now hold every decision's value
    dicts = tr.route_dicts(given)

    def steps():
        yield "orjson.loads (a JSON line)", lambda: [orjson.loads(r) for r in raw]
        yield "parse_ticket (pydantic validation)", lambda: [parse_ticket(t) for t in given]
        from triage.fastticket import read_fast
        yield "read_fast (validation + facts, the batch path)", lambda: [read_fast(t) for t in given]
        yield "facts of a pydantic ticket (Triage.facts_of)", lambda: [tr.facts_of(t, t.category) for t in tickets]
        yield "rules: the router's hot path (RuleSet.decide)", lambda: [decide(f) for f in facts]
        yield "Schedule.response_due", lambda: [sched.response_due(t.created_at, f["priority"], f["region"])
                                                for t, f in zip(tickets, facts)]
        yield "schedule.iso", lambda: [iso(t.created_at) for t in tickets]
        from triage.decision import Decision
        yield "Decision.from_dict", lambda: [Decision.from_dict(d) for d in dicts]
        yield "orjson.dumps (a decision dict)", lambda: [orjson.dumps(d) for d in dicts]
        yield "route_dicts (whole path, dicts out)", lambda: tr.route_dicts(given)
        yield "route_many (whole path, Decision objects out)", lambda: list(tr.route_many(given))
        yield "whole plain baseline (facts, rules, schedule, dict)", \
            lambda: [policy.route(t, t["category"], None, "given") for t in given]

    out = []
    it = steps()
    while True:
        try:
            label, fn = next(it)
        except StopIteration:
            break
        except Exception as exc:  # a step this checkout lacks
            print(f"stage costs: skipped a step ({type(exc).__name__}: {exc})")
            continue
        try:
            best = float("inf")
            for _ in range(3):
                c0 = time.process_time()
                fn()
                best = min(best, time.process_time() - c0)
        except Exception as exc:
            print(f"stage costs: {label} failed ({type(exc).__name__}: {exc})")
            continue
        out.append({"step": label, "cpu_us_per_ticket": round(best / len(given) * 1e6, 2)})
    return out


def profile(fn, n: int) -> tuple[list[dict], list[dict]]:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    return top_costs(prof, n, 15), stage_breakdown(prof, n)


def main() -> int:
    quick = argv_quick()
    n_text, n_given, n_ref, rounds, cli_rounds = (2_000, 5_000, 500, 3, 2) if quick else (6_000, 20_000, 1_000, 5, 3)
    m = machine()
    print_machine(m)
    from triage.batch.work import decide_chunk
    from triage.process import tune_for_streaming
    from triage.router import Triage

    model, minfo = get_model()
    print(f"model: {minfo['description']}", flush=True)
    tr = Triage(rules=ROOT / "rules", model=model)
    policy = PlainPolicy(tr.ruleset, tr.schedule, model_version=tr.model_version)
    corpus = load_corpus()
    text = text_tickets(n_text, seed=11, corpus=corpus)
    given = given_tickets(n_given, seed=7)
    texts = [f"{t['subject']}\n{t['body']}" for t in text]

    # Agreement: the baseline decides exactly what the project decides.
    proj_text = [d.to_dict() for d in tr.route_many(text, chunk_size=CHUNK)]
    base_text = plain_route_many(policy, text, model.classify, CHUNK)
    proj_given = [d.to_dict() for d in tr.route_many(given, chunk_size=CHUNK)]
    base_given = plain_route_many(policy, given, None, CHUNK)
    disagree = {"free text": sum(a != b for a, b in zip(proj_text, base_text)),
                "given": sum(a != b for a, b in zip(proj_given, base_given))}
    print("baseline vs project, decisions that differ:", disagree, flush=True)
    del proj_text, base_text, proj_given, base_given

    def classify_only() -> int:
        for i in range(0, n_text, CHUNK):
            model.classify(texts[i:i + CHUNK])
        return n_text

    ref, ref_fit = sklearn_reference()
    ref_texts = texts[:n_ref]

    def sklearn_ref() -> int:
        for i in range(0, n_ref, CHUNK):
            ref.predict(ref_texts[i:i + CHUNK])
        return n_ref

    contenders = {
        "project route_many, free text": lambda: sum(1 for _ in tr.route_many(text, chunk_size=CHUNK)),
        "baseline classify + plain policy, free text":
            lambda: len(plain_route_many(policy, text, model.classify, CHUNK)),
        "classify only (same model)": classify_only,
        "plain sklearn word+char TF-IDF LinearSVC predict": sklearn_ref,
        "project route_many, given": lambda: sum(1 for _ in tr.route_many(given, chunk_size=CHUNK)),
        "baseline plain policy, given": lambda: len(plain_route_many(policy, given, None, CHUNK)),
    }
    # Long-lived inputs leave the collector's view, as in a streaming process whose heap is small,
    # and the heap is kept as `triage route` keeps it (process.py): the in-process baseline, and
    # the CLI's baseline below, run with the same process settings as the project's CLI.
    gc.collect()
    tune_for_streaming()
    # Everything was warmed by the agreement check above.
    res = side_by_side(contenders, rounds=rounds, warmup=0, log=print)
    r_text = ratio_rounds(res["project route_many, free text"], res["baseline classify + plain policy, free text"])
    r_given = ratio_rounds(res["project route_many, given"], res["baseline plain policy, given"])
    r_text_cpu = ratio_rounds(res["project route_many, free text"], res["baseline classify + plain policy, free text"],
                              "cpu_rates_per_s")
    r_given_cpu = ratio_rounds(res["project route_many, given"], res["baseline plain policy, given"], "cpu_rates_per_s")

    # The command line, start-up subtracted.
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-e2e-"))
    files = {"free text": tmp / "text.jsonl", "given": tmp / "given.jsonl"}
    files["free text"].write_bytes(jsonl(text))
    files["given"].write_bytes(jsonl(given))
    one = {"free text": tmp / "one-text.jsonl", "given": tmp / "one-given.jsonl"}
    one["free text"].write_bytes(jsonl(text[:1]))
    one["given"].write_bytes(jsonl(given[:1]))
    # The same model for both (a model found only through --model is also loaded for given
    # tickets, as the default model would be): model_version then matches the baseline's.
    model_args = ["--model", minfo["dir"]] if minfo["dir"] and minfo["kind"] != "default" else []
    cli_args = {"free text": model_args, "given": model_args}
    cli: dict = {}
    kinds = ["given"] + (["free text"] if minfo["dir"] else [])
    if not minfo["dir"]:
        print("triage route on free text: skipped (the model exists only in this process)")
    for kind in kinds:
        args = cli_args[kind]
        n = n_text if kind == "free text" else n_given
        startups, walls, bases = [], [], []
        run_cli(args, one[kind], tmp / "out1.jsonl")  # warm the file cache
        for r in range(cli_rounds):
            startups += [run_cli(args, one[kind], tmp / "out1.jsonl") for _ in range(2)]
            walls.append(run_cli(args, files[kind], tmp / f"cli-{kind}.jsonl"))
            t0 = time.perf_counter()
            plain_jsonl(policy, model.classify, files[kind], tmp / f"base-{kind}.jsonl")
            bases.append(time.perf_counter() - t0)
        startup = statistics.median(startups)
        cli_rates = [n / (w - startup) for w in walls]
        base_rates = [n / b for b in bases]
        out_lines = (tmp / f"cli-{kind}.jsonl").read_bytes().splitlines()
        base_lines = (tmp / f"base-{kind}.jsonl").read_bytes().splitlines()
        same = sum(a == b for a, b in zip(out_lines, base_lines))
        # models/default may be rebuilt by someone while this runs: say so rather than miscount.
        cli_models = {orjson.loads(x).get("model_version") for x in out_lines[:1] + out_lines[-1:]}
        if cli_models != {tr.model_version}:
            print(f"note: the CLI used model {cli_models}, this process {tr.model_version} (models/default changed?)")
        cli[kind] = {"tickets": n, "startup_s": startup, "startups_s": startups, "walls_s": walls,
                     "cli_rate_per_s": statistics.median(cli_rates),
                     "baseline_rate_per_s": statistics.median(base_rates),
                     "ratio": statistics.median(c / b for c, b in zip(cli_rates, base_rates)),
                     "identical_output_lines": same, "output_lines": len(out_lines), "args": args,
                     "cli_model_versions": sorted(v or "" for v in cli_models), "model_version": tr.model_version}
        print(f"triage route ({kind}): {cli[kind]['cli_rate_per_s']:,.0f}/s after {startup:.2f} s start-up; "
              f"baseline {cli[kind]['baseline_rate_per_s']:,.0f}/s; ratio {cli[kind]['ratio']:.3f}; "
              f"identical lines {same:,}/{len(out_lines):,}", flush=True)

    # Profiles of the project's paths.
    n_prof_text = min(n_text, 4_000)
    prof_text = profile(lambda: list(tr.route_many(text[:n_prof_text], chunk_size=CHUNK)), n_prof_text)
    n_prof_given = min(n_given, 20_000)
    prof_given = profile(lambda: list(tr.route_many(given[:n_prof_given], chunk_size=CHUNK)), n_prof_given)
    raw = [(i + 1, orjson.dumps(t)) for i, t in enumerate(given[:n_prof_given])]

    def cli_path() -> None:
        for i in range(0, len(raw), CHUNK):
            decide_chunk(None, None, raw[i:i + CHUNK], "line", tr)
    prof_cli = profile(cli_path, n_prof_given)

    stages = stage_costs(tr, policy, given[: min(n_given, 10_000)])
    data = {"name": NAME, "quick": quick, "stage_costs_given": stages, "machine": m, "model": minfo,
            "tickets_free_text": n_text,
            "tickets_given": n_given, "rounds": rounds, "results": res, "ratio_free_text": r_text,
            "ratio_given": r_given, "ratio_free_text_cpu": r_text_cpu, "ratio_given_cpu": r_given_cpu,
            "target": TARGET, "disagreements": disagree, "cli": cli,
            "sklearn_reference_fit_s": ref_fit,
            "profile": {"route_many_free_text": {"top": prof_text[0], "stages": prof_text[1]},
                        "route_many_given": {"top": prof_given[0], "stages": prof_given[1]},
                        "cli_decide_chunk_given": {"top": prof_cli[0], "stages": prof_cli[1]}}}
    write_json(NAME, data)
    shutil.rmtree(tmp, ignore_errors=True)

    def rate(k: str) -> str:
        return f"{res[k]['rate_per_s']:,.0f}"

    rows = [
        ["route_many, free text", rate("project route_many, free text"),
         rate("baseline classify + plain policy, free text"), f"{r_text:.3f}×", f"{r_text_cpu:.3f}×",
         verdict(r_text, TARGET)],
        ["route_many, categories given", rate("project route_many, given"), rate("baseline plain policy, given"),
         f"{r_given:.3f}×", f"{r_given_cpu:.3f}×", verdict(r_given, TARGET)],
    ]
    for kind in ("free text", "given"):
        if kind in cli:
            c = cli[kind]
            rows.append([f"`triage route`, {kind if kind == 'free text' else 'categories given'} "
                         f"(start-up {c['startup_s']:.2f} s subtracted)", f"{c['cli_rate_per_s']:,.0f}",
                         f"{c['baseline_rate_per_s']:,.0f}", f"{c['ratio']:.3f}×", "", verdict(c["ratio"], TARGET)])
        else:
            rows.append([f"`triage route`, {kind}", "not run", "", "", "", "model only in process"])
    md = [f"## End to end: route_many and `triage route` vs classifier + plain policy "
          f"({n_text:,} free-text, {n_given:,} given tickets{', quick' if quick else ''})", "",
          machine_line(m), "", f"Model: {minfo['description']}.", "",
          table(["path", "project tickets/s", "baseline tickets/s", "project / baseline", "same, by CPU time",
                 f"target ≥ {TARGET}×"], rows),
          "",
          f"Scale: `classify` alone {rate('classify only (same model)')}/s on the same texts; a plain scikit-learn "
          f"word (1-2) + char_wb (2-5) TF-IDF LinearSVC ({ref_fit:.1f} s to fit on the corpus) predicts "
          f"{rate('plain sklearn word+char TF-IDF LinearSVC predict')}/s.",
          "",
          f"- Baseline = the same model's `classify` on the same 512-ticket chunks + `_floor.PlainPolicy` (facts, the "
          f"generated first-match rules, hand-over, response deadline, a decision dict; for the CLI also orjson in "
          f"and out, in this process). The benchmark process runs with the settings `triage route` gives "
          f"itself (`process.tune_for_streaming`: heap kept, start-up objects frozen), so the baseline has them "
          f"too. Its decisions equal the project's: differing decisions {disagree}"
          + (", CLI output lines identical " + ", ".join(f"{k} {v['identical_output_lines']:,}/{v['output_lines']:,}"
                                                        for k, v in cli.items()) if cli else "") + ".",
          f"- In-process figures: median of {rounds} interleaved rounds, ratio = median of per-round ratios. "
          f"CLI: {cli_rounds} rounds, each the CLI run, two one-ticket start-up runs and the baseline.", "",
          "Where the project's time goes (cProfile; µs per ticket, cumulative, share of the profiled total):", "",
          table(["stage", "free text µs", "share", "given µs", "share", "CLI path (decide_chunk) given µs", "share"],
                _stage_rows(prof_text[1], prof_given[1], prof_cli[1])), "",
          "Steps of the given-category path timed separately (CPU µs per ticket, best of three, no profiler):", "",
          table(["step", "CPU µs/ticket"], [[x["step"], f"{x['cpu_us_per_ticket']:.2f}"] for x in stages]), "",
          "Top functions by own time, categories given (`route_many`):", "",
          table(["function", "calls/ticket", "own µs", "cum µs"],
                [[p["function"], p["calls_per_item"], p["tottime_us_per_item"], p["cumtime_us_per_item"]]
                 for p in prof_given[0][:12]])]
    update_section(NAME, "\n".join(md))
    print(f"route_many ratio free text {r_text:.3f}, given {r_given:.3f} (target {TARGET})")
    return 0


def _stage_rows(*profiles: list[dict]) -> list[list]:
    labels = [s[0] for s in STAGES] + ["total (profiled)"]
    out = []
    for label in labels:
        row = [label]
        found = False
        for p in profiles:
            hit = next((s for s in p if s["stage"] == label), None)
            row += [hit["cum_us_per_ticket"], f"{hit['share']:.0%}"] if hit else ["", ""]
            found |= hit is not None
        if found:
            out.append(row)
    return out


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
