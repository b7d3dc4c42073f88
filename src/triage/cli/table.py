"""A readable table of decisions for people (`triage route --format table`)."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_decisions(decisions: list[dict[str, Any]], triage: Any) -> None:
    table = Table(title=f"{len(decisions)} tickets routed  (rules {triage.ruleset_version[:19]}…"
                        f"  model {(triage.model_version or 'none')[:19]}…)", show_lines=False)
    for col in ("ticket", "category", "conf", "prio", "tier", "region", "queue", "third party",
                "response due", "hand-over", "decided by (priority / tier)"):
        table.add_column(col, overflow="fold")
    for d in decisions:
        cat = d["category"] + (" (given)" if d["category_source"] == "given" else "")
        if d["needs_review"]:
            cat += " [review]"
        handoff = d["handoff"]
        table.add_row(
            d["ticket_id"], cat, "" if d["confidence"] is None else f"{d['confidence']:.2f}", d["priority"],
            d["tier"], d["region"], d["queue"], d["third_party"] or "",
            d["response_due"].replace("T", " ").rstrip("Z"),
            f"{handoff['to']} {handoff['at'][11:16]}" if handoff else "",
            f"{d['rules']['priority'][0].split('/', 1)[1]} / {d['rules']['tier'][0].split('/', 1)[1]}")
    Console(width=200).print(table)
