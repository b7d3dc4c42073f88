"""`check_folder`: every check on one rule folder, as a `Report`.

The rule set is loaded first; if it does not load, its errors are the findings (the
loader reports every problem of every file at once). Then the schedule and the
decisions the router needs, each decision over its cells, durable_rules' limits, and
the model's labels against the rules.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from triage.analysis.categories import check_categories
from triage.analysis.decisions import analyse_decision
from triage.analysis.examples import example_ticket
from triage.analysis.explore import DEFAULT_BUDGET, Budget, BudgetExceeded
from triage.analysis.findings import Finding, Report, from_rule_errors
from triage.analysis.limits import check_limits
from triage.analysis.space import decision_space_domain, decision_spaces
from triage.errors import RuleSetErrors, ScheduleError
from triage.facts import load_rules
from triage.rules.domains import TEMPORAL, Domain, temporal_text, undeclared
from triage.rules.layout import SCHEDULE_FILE

REQUIRED_DECISIONS = ("priority", "tier", "region", "queue")


def decides_own_only(ruleset: Any) -> bool:
    """A folder of decisions of its own only (a translated DMN table): no schedule, none of
    the routing decisions. It is checked and tested (facts cases) but cannot route tickets."""
    return not (Path(ruleset.folder) / SCHEDULE_FILE).exists() and \
        not set(REQUIRED_DECISIONS) & set(ruleset.decision_names)


def check_folder(folder: str | Path, labels: Sequence[str] | None = None, model_where: str | None = None,
                 max_cells: int = DEFAULT_BUDGET) -> Report:
    """Check a rule folder. `labels`: the model's categories (None: no model, skipped)."""
    folder = Path(folder)
    t0 = time.perf_counter()
    report = Report(str(folder))
    F = report.findings
    try:
        ruleset = load_rules(folder)
    except RuleSetErrors as exc:
        F.extend(from_rule_errors(exc.errors))
        F.extend(_schedule_findings(folder, None))
        F.extend(_correlation_findings(folder))
        report.stats = {"seconds": round(time.perf_counter() - t0, 3), "loaded": False}
        return report

    schedule = None
    own_only = decides_own_only(ruleset)
    sched_findings = [] if own_only else _schedule_findings(folder, ruleset)
    F.extend(sched_findings)
    F.extend(_correlation_findings(folder))
    if own_only:
        F.append(Finding("info", "decisions-only", f"no {SCHEDULE_FILE} and none of {', '.join(REQUIRED_DECISIONS)}: "
                         "the folder's own decisions are checked and tested (facts cases), but it cannot "
                         "route tickets", file=str(folder)))
    elif not sched_findings:
        from triage.schedule import Schedule

        schedule = Schedule.load(folder / SCHEDULE_FILE)
    missing = [] if own_only else [d for d in REQUIRED_DECISIONS if d not in ruleset.decision_names]
    if missing:
        F.append(Finding("error", "missing-decision", f"the rule set must decide {', '.join(missing)} (one "
                         "file each) to route tickets", file=str(folder)))

    decision_domains: dict[str, tuple[Domain, Any]] = {}
    for d in ruleset.decisions:
        decision_domains[d.name] = decision_space_domain(d)

    def domain_of(name: str) -> Domain | None:
        if name in decision_domains:
            return decision_domains[name][0]
        if name in ruleset.domains:
            return ruleset.domains[name]
        return undeclared(name) if name.startswith("extra.") else None

    def ticket_of(facts: dict[str, Any]) -> dict[str, Any] | None:
        if schedule is None:
            return None
        on_shift = (lambda h: schedule.on_shift(_at_hour(h)))
        return example_ticket(_as_ticket_fields(facts, ruleset.domains), ruleset.categories, on_shift)

    cells = regions = rows = 0
    for d in ruleset.decisions:
        rows += len(d.rows)
        spaces = decision_spaces(d, ruleset.domains, decision_domains)
        budget = Budget(max_cells)
        try:
            st = analyse_decision(d, spaces, budget, ticket_of, domain_of)
            F.extend(st.findings)
            cells += st.cells
            regions += st.regions
        except BudgetExceeded:
            F.append(Finding("warning", "budget-exceeded", f"decision {d.name!r} has too many input cells to "
                             f"analyse within {max_cells} steps; its findings are incomplete (raise --max-cells, "
                             "or split the decision)", file=d.file))
        F.extend(check_limits(d, spaces, Budget(max_cells)))

    if own_only:
        pass  # no routing, so no model: its categories concern no decision here
    elif labels is None:
        F.append(Finding("info", "no-model", "no model: the checks of model categories against the rules were "
                         "skipped (give --model DIR)", file=str(folder)))
    else:
        F.extend(check_categories(ruleset, labels, model_where or "model"))
    # Cell counts are products over the inputs: past 64 bits they are shown as floats.
    report.stats = {"decisions": len(ruleset.decisions), "rows": rows,
                    "cells": cells if cells < 2**63 else float(cells), "regions": regions,
                    "seconds": round(time.perf_counter() - t0, 3), "loaded": True}
    return report


def _as_ticket_fields(facts: dict[str, Any], domains: dict[str, Domain]) -> dict[str, Any]:
    """Facts of the rule set's own under the extra fields they are read from, dates as text."""
    out = {}
    for name, v in facts.items():
        dom = domains.get(name)
        if dom is not None and dom.type in TEMPORAL and isinstance(v, int):
            v = temporal_text(dom.type, v)
        out[dom.source if dom is not None and dom.source else name] = v
    return out


def _at_hour(h: int) -> Any:
    from datetime import datetime, timezone

    return datetime(2026, 11, 23, h, tzinfo=timezone.utc)


def _correlation_findings(folder: Path) -> list[Finding]:
    """correlation.yaml (multi-customer incidents), when the folder has one, must be valid."""
    from triage.correlation.spec import load_correlation
    from triage.errors import CorrelationFileError

    try:
        load_correlation(folder)
    except CorrelationFileError as exc:
        return from_rule_errors(exc.problems)
    return []


def _schedule_findings(folder: Path, ruleset: Any) -> list[Finding]:
    """The schedule must load, and cover the priorities and regions the rules can decide."""
    from triage.schedule import Schedule

    path = folder / SCHEDULE_FILE
    try:
        sched = Schedule.load(path)
    except ScheduleError as exc:
        # The finding code is the error's, without its namespace (e.g. "schedule-unknown-country").
        return [Finding("error", exc.code.replace(".", "-"), exc.reason, file=str(path), line=exc.line)]
    if ruleset is None:
        return []
    out = []
    names = ruleset.decision_names
    for name, known, code, what in (
            (sched.priority_decision, sched.response, "schedule-missing-target", "response target"),
            (sched.priority_decision, sched.resolution, "schedule-missing-target", "resolution target"),
            (sched.region_decision, sched.regions, "schedule-missing-shift", "shift")):
        if name not in names:
            continue
        for v in _literal_outputs(ruleset.decision(name)):
            if v not in known:
                out.append(Finding("error", code, f"{name!r} can be {v!r} but {SCHEDULE_FILE} has no {what} "
                                   "for it", file=str(path)))
    return out


def _literal_outputs(d: Any) -> list[Any]:
    from triage.rules.ir import Template

    outs = list(d.values or ()) or [r.then for r in d.rows] + ([d.default] if d.has_default else [])
    return [o for o in dict.fromkeys(outs) if o is not None and not isinstance(o, Template)]
