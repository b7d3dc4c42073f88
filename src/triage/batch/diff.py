"""Replay a backlog through two rule sets (or models) and measure what would change.

For each decision field: the transition matrix (old value -> new value, with counts),
sample ticket ids per changed transition, and per rule row how many tickets it
decides before and after (rows that gain or lose tickets).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.batch.records import Position, read_records
from triage.batch.work import parse_payload
from triage.decision import DIFF, TIME, marked, value_at
from triage.errors import TriageError


@dataclass
class DiffReport:
    """What changes between two routings; `fields` are the decision columns compared
    (marked DIFF in `triage.decision`), `times` those of them counted only as changed."""

    fields: list[str] = field(default_factory=lambda: marked(DIFF))
    times: frozenset[str] = field(default_factory=lambda: frozenset(marked(TIME)))
    samples_per_transition: int = 3
    records: int = 0
    compared: int = 0
    errors: Counter = field(default_factory=Counter)  # old-only / new-only / both
    transitions: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    samples: dict[tuple[str, Any, Any], list[str]] = field(default_factory=lambda: defaultdict(list))
    rows_old: Counter = field(default_factory=Counter)
    rows_new: Counter = field(default_factory=Counter)

    def add(self, ticket_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.compared += 1
        a = {f: value_at(old, f) for f in self.fields}
        b = {f: value_at(new, f) for f in self.fields}
        for f in self.fields:
            self.transitions[f][(a[f], b[f])] += 1
            if a[f] != b[f]:
                s = self.samples[(f, a[f], b[f])]
                if len(s) < self.samples_per_transition:
                    s.append(ticket_id)
        for rules in old["rules"].values():
            self.rows_old.update(rules)
        for rules in new["rules"].values():
            self.rows_new.update(rules)

    def changed(self, f: str) -> int:
        return sum(n for (a, b), n in self.transitions[f].items() if a != b)

    def to_dict(self) -> dict[str, Any]:
        fields = {}
        for f in self.fields:
            if f in self.times:
                fields[f] = {"changed": self.changed(f)}
                continue
            fields[f] = {
                "changed": self.changed(f),
                "transitions": [{"from": a, "to": b, "count": n, "samples": self.samples.get((f, a, b), [])}
                                for (a, b), n in sorted(self.transitions[f].items(), key=lambda kv: (-kv[1], str(kv[0])))
                                if a != b],
                "unchanged": {str(a): n for (a, b), n in self.transitions[f].items() if a == b},
            }
        rows = sorted(set(self.rows_old) | set(self.rows_new))
        return {"records": self.records, "compared": self.compared, "errors": dict(self.errors), "fields": fields,
                "rows": [{"rule": r, "old": self.rows_old[r], "new": self.rows_new[r],
                          "delta": self.rows_new[r] - self.rows_old[r]}
                         for r in rows if self.rows_new[r] != self.rows_old[r]]}

    def to_markdown(self, old_label: str, new_label: str) -> str:
        d = self.to_dict()
        out = [f"# Re-triage impact: {old_label} → {new_label}", "",
               f"{d['records']:,} records, {d['compared']:,} decided by both"
               + (f"; errors: {d['errors']}" if d["errors"] else "") + ".", "",
               "| field | changed | share |", "|---|---:|---:|"]
        for f, v in d["fields"].items():
            share = v["changed"] / d["compared"] if d["compared"] else 0
            out.append(f"| {f} | {v['changed']:,} | {share:.1%} |")
        for f, v in d["fields"].items():
            if not v.get("transitions"):
                continue
            out += ["", f"## {f}", "", "| from | to | tickets | samples |", "|---|---|---:|---|"]
            for t in v["transitions"]:
                out.append(f"| {t['from']} | {t['to']} | {t['count']:,} | {', '.join(map(str, t['samples']))} |")
        if d["rows"]:
            out += ["", "## Rows that gain or lose tickets", "", "| rule | old | new | change |", "|---|---:|---:|---:|"]
            for r in sorted(d["rows"], key=lambda r: -abs(r["delta"])):
                out.append(f"| {r['rule']} | {r['old']:,} | {r['new']:,} | {r['delta']:+,} |")
        return "\n".join(out) + "\n"


def diff(input_path: Path, old: Any, new: Any, chunk_size: int = 2000, samples: int = 3) -> DiffReport:
    """Route every record through `old` and `new` (`Triage` objects) and compare."""
    own = list(dict.fromkeys([*old.own_decisions, *new.own_decisions]))
    report = DiffReport(fields=marked(DIFF, own), samples_per_transition=samples)
    for chunk, _ in read_records(input_path, Position(), chunk_size):
        objs = [parse_payload(p) for _, p in chunk]
        report.records += len(objs)
        valid = [o for o in objs if not isinstance(o, TriageError)]
        report.errors["invalid input"] += len(objs) - len(valid)
        for obj, a, b in zip(valid, old.route_dicts(valid), new.route_dicts(valid)):
            a_err, b_err = isinstance(a, TriageError), isinstance(b, TriageError)
            if a_err or b_err:
                report.errors["both" if a_err and b_err else "old only" if a_err else "new only"] += 1
                continue
            report.add(a["ticket_id"], a, b)
    report.errors = Counter({k: v for k, v in report.errors.items() if v})
    return report
