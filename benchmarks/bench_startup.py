"""`triage route` start-up on one ticket, and what its imports cost.

Wall-clock of the whole command on a one-ticket file (median of several runs, min and
max beside), for a ticket with its category given and, when a model folder is
available, for free text; next to `python -c pass` and `python -c "import triage"`
for scale. Then `python -X importtime` of the same command: the top offenders by
cumulative and by own import time, and a fresh interpreter's breakdown of building
`Triage` (rules, schedule, engine, model). Target (issue 7): < 1 s.

    python benchmarks/bench_startup.py [--quick]
"""
from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model import get_model  # noqa: E402
from _results import (ROOT, argv_quick, machine, machine_line, print_machine, table, update_section,  # noqa: E402
                      verdict, write_json)
from _tickets import given_tickets, jsonl, text_tickets  # noqa: E402

NAME = "startup"
TARGET_S = 1.0

BREAKDOWN = r"""
import json, sys, time
t = time.perf_counter
marks = {}
t0 = t()
import triage.router
marks["import triage.router"] = t() - t0
from triage.facts import load_rules
from triage.schedule import Schedule
s = t(); rs = load_rules(sys.argv[1]); marks["RuleSet.load (YAML, pydantic, IR)"] = t() - s
s = t(); sch = Schedule.load(rs.folder / "schedule.yaml"); marks["Schedule.load"] = t() - s
s = t(); rs.engine; marks["durable_rules engine (create rulesets)"] = t() - s
if sys.argv[2]:
    s = t()
    from triage.model import load_model
    marks["import triage.model"] = t() - s
    s = t(); m = load_model(sys.argv[2]); marks["load_model (hash check, joblib)"] = t() - s
else:
    m = False
s = t(); tr = triage.router.Triage(rules=rs, model=m, schedule=sch); marks["Triage(...) from loaded parts"] = t() - s
s = t(); tr.route({"id": "x", "created_at": "2026-01-05T10:00:00Z", "category": "billing"})
marks["first route() (given)"] = t() - s
print(json.dumps(marks))
"""


def triage_cmd() -> list[str]:
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage"]


def wall(cmd: list[str], reps: int) -> dict:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise RuntimeError(f"{cmd} failed: {p.stderr.decode()[-1500:]}")
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs_s": times}


def importtime(cmd: list[str]) -> dict:
    """Parse `-X importtime` output: top-level and per-module import costs."""
    p = subprocess.run([sys.executable, "-X", "importtime"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mods = []
    for line in p.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, rest = line.split(":", 1)
        self_us, cum_us, name = (x for x in rest.split("|"))
        depth = (len(name) - len(name.lstrip(" "))) // 2
        mods.append({"module": name.strip(), "self_ms": int(self_us) / 1000, "cum_ms": int(cum_us) / 1000,
                     "depth": depth})
    top = [x for x in mods if x["depth"] == 0]
    packages: dict[str, float] = {}
    for x in mods:
        root = x["module"].split(".")[0]
        packages[root] = packages.get(root, 0.0) + x["self_ms"]
    return {"total_ms": sum(x["cum_ms"] for x in top), "modules": len(mods),
            "top_level_by_cum": sorted(top, key=lambda x: -x["cum_ms"])[:12],
            "by_self": sorted(mods, key=lambda x: -x["self_ms"])[:12],
            "by_package_self_ms": dict(sorted(packages.items(), key=lambda kv: -kv[1])[:12])}


def main() -> int:
    quick = argv_quick()
    reps = 3 if quick else 7
    m = machine()
    print_machine(m)
    model, minfo = get_model()
    model_dir = minfo["dir"]
    model_args = ["--model", model_dir] if model_dir and minfo["kind"] != "default" else []
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-startup-"))
    one_given, one_text = tmp / "given.jsonl", tmp / "text.jsonl"
    one_given.write_bytes(jsonl(given_tickets(1, seed=31)))
    one_text.write_bytes(jsonl(text_tickets(1, seed=32)))

    cmds = {"python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import triage'": [sys.executable, "-c", "import triage"],
            "triage route, 1 ticket, category given": triage_cmd() + ["route", str(one_given)] + model_args}
    if model_dir:
        cmds["triage route, 1 ticket, free text"] = triage_cmd() + ["route", str(one_text)] + model_args
    wall(cmds["triage route, 1 ticket, category given"], 1)  # warm the page cache
    res = {k: wall(c, reps) for k, c in cmds.items()}
    for k, v in res.items():
        print(f"{k}: median {v['median_s']:.3f} s (min {v['min_s']:.3f}, max {v['max_s']:.3f})", flush=True)
    script_args = cmds["triage route, 1 ticket, free text" if model_dir else "triage route, 1 ticket, category given"]
    if script_args[0].endswith("triage"):
        it = importtime([script_args[0]] + script_args[1:])
    else:
        it = importtime(script_args[1:])
    br = subprocess.run([sys.executable, "-c", BREAKDOWN, str(ROOT / "rules"), model_dir or ""],
                        capture_output=True, text=True)
    breakdown = json.loads(br.stdout) if br.returncode == 0 else {"error": br.stderr[-1500:]}

    key = "triage route, 1 ticket, free text" if model_dir else "triage route, 1 ticket, category given"
    worst = max(res[k]["median_s"] for k in res if k.startswith("triage route"))
    data = {"name": NAME, "quick": quick, "machine": m, "model": minfo, "runs": reps, "wall": res,
            "importtime": it, "build_breakdown_s": breakdown, "target_s": TARGET_S, "target_met": worst < TARGET_S}
    write_json(NAME, data)
    shutil.rmtree(tmp, ignore_errors=True)
    rows = [[k, f"{v['median_s']:.3f}", f"{v['min_s']:.3f}", f"{v['max_s']:.3f}"] for k, v in res.items()]
    md = [f"## `triage route` start-up on one ticket{' (quick)' if quick else ''}", "", machine_line(m), "",
          f"Model: {minfo['description']}" + ("; passed as `--model`." if model_args else "."), "",
          f"**Slowest `triage route` on one ticket: {worst:.3f} s** (target < {TARGET_S} s: "
          f"{verdict(worst, TARGET_S, False)}); median of {reps} runs each.", "",
          table(["command", "median s", "min s", "max s"], rows), "",
          f"`python -X importtime` of `{key}`: {it['total_ms']:,.0f} ms of imports over {it['modules']} modules.", "",
          table(["top-level import", "cumulative ms", "own ms"],
                [[x["module"], f"{x['cum_ms']:.1f}", f"{x['self_ms']:.1f}"] for x in it["top_level_by_cum"][:10]]), "",
          "Own import time summed per top-level package: " +
          ", ".join(f"{k} {v:.0f} ms" for k, v in list(it["by_package_self_ms"].items())[:10]) + ".", "",
          "Building the router in a fresh interpreter (s):", "",
          table(["step", "seconds"], [[k, f"{v:.3f}"] for k, v in breakdown.items()] if "error" not in breakdown
                else [["error", breakdown["error"][:200]]])]
    update_section(NAME, "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
