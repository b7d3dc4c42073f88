"""Why one ticket got its decision: the deciding row of each decision and, for every
earlier row, the first condition that failed with the actual value ("why not").

Built on `Triage.trace`: the production path (the same facts, the same cell cache),
plus the reference interpreter's `first_failure` for each row that did not decide;
`render_text` prints it for people, `explain` returns plain data for tools
(`triage explain --json`).
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from triage.analysis.describe import actual_text, describe, output_text, value_text
from triage.rules.interpreter import first_failure, matching_rows
from triage.rules.domains import TEMPORAL, temporal_text
from triage.rules.ir import DecisionIR, Row, Template
from triage.rules.spec import MULTI_HIT


def _where(file: str, line: int | None) -> str:
    try:
        shown = str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        shown = file
    return f"{shown}:{line}" if line else shown


def _row(d: DecisionIR, row: Row | None, facts: dict[str, Any]) -> dict[str, Any]:
    if row is None:
        out = d.default
        return {"rule_id": "default", "file": d.file, "line": d.default_line, "then": output_text(out),
                "value": out.render(facts) if isinstance(out, Template) else out}
    return {"rule_id": row.id, "file": row.file, "line": row.line, "then": output_text(row.then),
            "value": row.then.render(facts) if isinstance(row.then, Template) else row.then}


def _shown(facts: dict[str, Any], domains: dict[str, Any]) -> dict[str, Any]:
    """The facts with dates, datetimes and durations as written rather than their integers."""
    out = dict(facts)
    for name, dom in domains.items():
        if dom.type in TEMPORAL and isinstance(out.get(name), int):
            out[name] = temporal_text(dom.type, out[name])
    return out


def _why_not(row: Row, facts: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    leaf = first_failure(row.cond, facts)  # decided on the integers, shown as written
    if leaf is None:  # cannot happen for a row that did not match; kept total
        return {"rule_id": row.id, "file": row.file, "line": row.line, "failed": None, "actual": {}, "text": "matches"}
    from triage.analysis.describe import fields_of

    failed = describe(leaf)
    return {"rule_id": row.id, "file": row.file, "line": row.line, "failed": failed,
            "actual": {f: shown.get(f) for f in fields_of(leaf)},
            "text": f"{failed}: {actual_text(leaf, shown)}"}


def explain(triage: Any, traced: Any) -> dict[str, Any]:
    """The explanation of one traced decision (`Triage.trace`; `Triage.explain` calls this)."""
    facts, decision = traced.facts, traced.decision
    model = getattr(triage, "model", None)
    category = {
        "value": decision.category, "source": decision.category_source, "confidence": decision.confidence,
        "needs_review": decision.needs_review, "language": decision.language or _language(traced),
        "threshold": getattr(model, "threshold", None) if decision.category_source == "model" else None,
        "top": [{"category": c, "probability": round(float(p), 4)} for c, p in (traced.top or ())[:3]],
    }
    decisions = []
    shown = _shown(facts, triage.ruleset.domains)
    for d in triage.ruleset.decisions:
        rows = triage.ruleset.rows_of(d.name, decision.rules[d.name])
        matched = set(matching_rows(d, facts))
        deciders = [d.rows[i] for i in rows]
        if d.hit_policy == "first":
            stop = rows[0] if rows else len(d.rows)
            earlier = [r for r in d.rows[:stop]]
        else:
            earlier = [r for r in d.rows if r.index not in matched]
        # Multiple-hit policies answer no match themselves ([], 0, null): no row, no default.
        answered = not deciders and d.hit_policy in MULTI_HIT and not d.has_default
        entry: dict[str, Any] = {
            "decision": d.name, "value": facts[d.name], "hit_policy": d.hit_policy, "file": d.file,
            "decided_by": [_row(d, r, facts) for r in deciders] or ([] if answered else [_row(d, None, facts)]),
            "not_matched": [_why_not(r, facts, shown) for r in earlier],
        }
        if d.aggregate:
            entry["aggregate"] = d.aggregate
        if d.hit_policy == "priority":
            entry["outranked"] = [_row(d, d.rows[i], facts) for i in sorted(matched) if i not in rows]
        decisions.append(entry)
    sched = triage.schedule
    target = sched.response.get(decision.priority)
    resolution = sched.resolution.get(decision.priority)
    schedule = {
        "on_shift": facts.get("shift_region"),
        "handoff": None if decision.handoff is None else {"at": decision.handoff.at, "to": decision.handoff.to},
        "response_due": decision.response_due,
        "target": None if target is None else {"within": _duration(target[0]), "clock": target[1]},
        "resolution_due": decision.resolution_due,
        "resolution_target": None if resolution is None else {"within": _duration(resolution[0]),
                                                             "clock": resolution[1]},
    }
    if decision.as_of is not None:  # a case at `now`: its clocks, the facts they gave, the ladder's step
        schedule["case"] = {"as_of": decision.as_of, "status": facts["status"], "age_minutes": facts["age_minutes"],
                            "sla": decision.to_dict()["sla"], "escalated_to": decision.escalated_to,
                            "escalation_level": decision.escalation_level}
    return {"ticket_id": decision.ticket_id, "category": category, "decisions": decisions, "schedule": schedule,
            "ruleset_version": decision.ruleset_version, "model_version": decision.model_version,
            "decision": decision.to_dict()}


def _language(traced: Any) -> str:
    """The text's language for the explanation when no rule read it (the decision keeps null)."""
    from triage.model.language import identify

    return identify([traced.text])[0]


def _duration(t: timedelta) -> str:
    mins = int(t.total_seconds() // 60)
    h, m = divmod(mins, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if m or not h else "")


def render_text(e: dict[str, Any]) -> str:
    c = e["category"]
    lines = []
    if c["source"] == "given":
        lines.append(f"ticket {e['ticket_id']}: category {c['value']} (category given)")
    else:
        thr = "" if c["threshold"] is None else f", threshold {c['threshold']:.2f}"
        conf = "" if c["confidence"] is None else f"confidence {c['confidence']:.2f}"
        lines.append(f"ticket {e['ticket_id']}: category {c['value']} (model, {conf}{thr})"
                     + ("  needs review" if c["needs_review"] else ""))
        if c["top"]:
            lines.append("  top: " + ", ".join(f"{t['category']} {t['probability']:.2f}" for t in c["top"]))
    if c.get("language"):
        lines.append(f"  language: {c['language']}")
    lines.append(f"rules {e['ruleset_version']}  model {e['model_version'] or 'none'}")
    for d in e["decisions"]:
        lines.append("")
        lines.append(f"{d['decision']} = {value_text(d['value'])}" + (
            f"  (hit policy {d['hit_policy']})" if d["hit_policy"] != "first" else ""))
        if not d["decided_by"]:
            lines.append(f"  no row matched: hit policy {d['hit_policy']} answers {value_text(d['value'])}")
        if len(d["decided_by"]) > 1:  # collect, rule_order, output_order, any: in the order used
            how = {"any": "the matching rows agree", "output_order": "in the order of `values`"}.get(
                d["hit_policy"], f"aggregate {d.get('aggregate') or 'list'}" if d["hit_policy"] == "collect"
                else "in row order")
            lines.append(f"  {len(d['decided_by'])} rows matched ({how}):")
        for r in d["decided_by"]:
            rendered = "" if r["then"] == value_text(r["value"]) else f" = {value_text(r['value'])}"
            lines.append(f"  decided by {_where(r['file'], r['line'])} [{r['rule_id']}] -> {r['then']}{rendered}")
        for r in d.get("outranked", ()):
            lines.append(f"  outranked  {_where(r['file'], r['line'])} [{r['rule_id']}] -> {r['then']}")
        if d["not_matched"]:
            lines.append("  why not " + ("the earlier rows:" if d["hit_policy"] == "first" else "the other rows:"))
            for r in d["not_matched"]:
                lines.append(f"    {_where(r['file'], r['line'])} [{r['rule_id']}] {r['text']}")
    s = e["schedule"]
    lines.append("")
    parts = [f"on shift {s['on_shift']}"]
    if s["handoff"]:
        parts.append(f"hand-over at {s['handoff']['at']} to {s['handoff']['to']}")
    t = s["target"]
    tgt = "" if t is None else f" ({e['decision']['priority']}: within {t['within']}, " + (
        "24/7)" if t["clock"] == "always" else "business hours)")
    parts.append(f"response due {s['response_due']}{tgt}")
    if s["resolution_due"] is not None:
        parts.append(f"resolution due {s['resolution_due']}")
    lines.append("schedule: " + "; ".join(parts))
    case = s.get("case")
    if case:
        sla = case["sla"]
        flags = lambda c: ", ".join(k.replace("_", " ") for k in ("met", "breached", "at_risk", "paused")  # noqa: E731
                                    if c.get(k)) or "running"
        lines.append(f"case at {case['as_of']}: {case['status']}, {case['age_minutes']} minutes old; "
                     f"response {sla['response']['used_pct']}% ({flags(sla['response'])}), "
                     f"resolution {sla['resolution']['used_pct']}% ({flags(sla['resolution'])})")
        if case["escalated_to"]:
            lines.append(f"escalated to {case['escalated_to']} (escalation level {case['escalation_level']}); "
                         "the decisions above are the case decided again at that level")
    return "\n".join(lines)
