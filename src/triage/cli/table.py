"""A readable table of decisions for people (`triage route --format table`).

Its columns are the decision fields marked with a table header in `triage.decision`,
then a column per rule-set decision of the user's own; only how a value is shown is
decided here.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from triage.decision import FIELDS, TABLE, TIME, column_meta


def _time(v: str) -> str:
    return v.replace("T", " ").rstrip("Z")


def _cell(name: str, d: dict[str, Any]) -> str:
    v = d.get(name)
    if name == "category":
        return v + (" (given)" if d["category_source"] == "given" else "") + (" [review]" if d["needs_review"] else "")
    if name == "handoff":
        return f"{v['to']} {v['at'][11:16]}" if v else ""
    if name == "rules":  # the deciding rows of the first two decisions, as "5 / 5"
        return " / ".join(c[0].split("/", 1)[1] for c in list(v.values())[:2] if c)
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def print_decisions(decisions: list[dict[str, Any]], triage: Any) -> None:
    table = Table(title=f"{len(decisions)} tickets routed  (rules {triage.ruleset_version[:19]}…"
                        f"  model {(triage.model_version or 'none')[:19]}…)", show_lines=False)
    shown = [f for f in FIELDS if f.metadata.get(TABLE)]
    times = {c for c, m in column_meta() if m.get(TIME)}
    own = list(triage.own_decisions)
    for f in shown:
        table.add_column(f.metadata[TABLE], overflow="fold")
    for name in own:
        table.add_column(name, overflow="fold")
    for d in decisions:
        cells = [_time(d[f.name]) if f.name in times and d.get(f.name) else _cell(f.name, d) for f in shown]
        outputs = d.get("outputs") or {}
        cells += ["" if outputs.get(n) is None else str(outputs[n]) for n in own]
        table.add_row(*cells)
    Console(width=200).print(table)
