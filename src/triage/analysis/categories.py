"""The model's labels against the categories the rules mention.

A label no rule mentions sends its tickets to every decision's default, which is
rarely meant; a category the rules mention that the model never emits can only
arrive as a given category. Both are warnings. A label outside the rule set's
category enumeration is an error: the analysis (and `explain`) assume the enumeration.
`unknown` is not a label: the router sets it below the model's threshold.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from triage.analysis.findings import Finding
from triage.rules.interpreter import leaves
from triage.rules.ir import Cmp
from triage.rules.layout import FACTS_FILE
from triage.rules.yamlio import LineDict, LineList, load_yaml

UNKNOWN = "unknown"


def mentioned_categories(ruleset: Any) -> dict[str, tuple[str, int | None, str]]:
    """Each category a row compares with -> (file, line, rule id) of its first mention."""
    out: dict[str, tuple[str, int | None, str]] = {}
    for d in ruleset.decisions:
        for r in d.rows:
            for leaf in leaves(r.cond):
                if isinstance(leaf, Cmp) and leaf.field == "category" and isinstance(leaf.value, str):
                    out.setdefault(leaf.value, (r.file, r.line, r.id))
    return out


def _facts_lines(folder: Path) -> dict[str, int]:
    """The line of each category value in facts.yaml, to point warnings at it."""
    path = folder / FACTS_FILE
    try:
        raw = load_yaml(path) if path.is_file() else None
        values = raw["facts"]["category"]["values"]
    except Exception:  # an unreadable facts.yaml is reported by the loader
        return {}
    if isinstance(values, LineList):
        return {v: ln for v, ln in zip(values, values.item_lines) if isinstance(v, str)}
    return {}


def check_categories(ruleset: Any, labels: Sequence[str], model_where: str) -> list[Finding]:
    out: list[Finding] = []
    mentioned = mentioned_categories(ruleset)
    declared = ruleset.categories
    lines = _facts_lines(ruleset.folder)
    facts_file = str(ruleset.folder / FACTS_FILE)
    for label in labels:
        if label == UNKNOWN:
            continue
        if declared is not None and label not in declared:
            out.append(Finding("error", "category-undeclared", f"the model ({model_where}) emits {label!r}, which "
                               f"is not a value of `category` in {FACTS_FILE}", file=facts_file,
                               line=getattr(_category_node(ruleset.folder), "line", None)))
        elif label not in mentioned:
            out.append(Finding("warning", "category-unhandled", f"the model emits {label!r} but no rule mentions "
                               "it: its tickets take every decision's default",
                               file=facts_file if label in lines else model_where, line=lines.get(label),
                               example={"category": label}))
    for cat, (file, line, rule_id) in sorted(mentioned.items()):
        if cat != UNKNOWN and cat not in labels:
            out.append(Finding("warning", "category-never-emitted", f"rules mention category {cat!r} but the "
                               f"model ({model_where}) never emits it: only a given category reaches it",
                               file=file, line=line, rule_id=rule_id))
    return out


def _category_node(folder: Path) -> LineDict | None:
    try:
        raw = load_yaml(folder / FACTS_FILE)
        node = raw["facts"]["category"]
        return node if isinstance(node, LineDict) else None
    except Exception:
        return None
