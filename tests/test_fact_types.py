"""Dates, datetimes and durations; one fact compared with another; facts of a rule set's own.

Temporal facts are integers everywhere (days, seconds), so rows stay on durable_rules and
the checker splits them at the rows' cut points like any number. A comparison of two
facts runs on durable_rules as a comparison of two properties of one message; the cell
cache keys such rows by the exact values of both sides, and the checker calls them
unanalysable, never wrong. Own facts are read from the ticket's extra fields by the
path `facts.yaml` declares, in `RuleSet.derive_facts`.
"""
from __future__ import annotations

import random
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RULES
from triage.analysis.checker import check_folder
from triage.errors import RuleSetErrors, TicketError
from triage.rules.domains import temporal_text, temporal_value
from triage.facts import load_rules as load_ruleset

FACTS = """facts:
  due: {type: date, from: extra.contract.end}
  opened: {type: datetime, nullable: true}
  wait: {type: duration, nullable: true}
  size: {type: int, min: 0, max: 100, nullable: true}
  limit: {type: int, min: 0, max: 100, from: extra.limits.customers, nullable: true}
"""


def folder(tmp_path: Path, decision: str, facts: str = FACTS, name: str = "r") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "facts.yaml").write_text(facts)
    (d / "x.yaml").write_text(decision)
    return d


def both(rs: Any, facts: dict[str, Any]) -> Any:
    f = rs.derive_facts(dict(facts))
    a = rs.evaluate(dict(f))["x"].value
    b = rs.evaluate(dict(f), "python")["x"].value
    c = dict(f)
    rs.decide(c)
    assert a == b == c["x"], (a, b, c["x"])
    return a


@pytest.mark.parametrize("kind, text, value", [
    ("date", "2026-12-24", 20811), ("date", date(1970, 1, 2), 1),
    ("datetime", "2026-12-24T11:00:00Z", 1798110000), ("datetime", "2026-12-24T12:00:00+01:00", 1798110000),
    ("datetime", datetime(1970, 1, 1, 0, 1, tzinfo=timezone.utc), 60), ("datetime", "1970-01-01T00:00:05", 5),
    ("duration", "4h", 14400), ("duration", "90m", 5400), ("duration", "1d2h", 93600), ("duration", "P1DT2H", 93600),
    ("duration", "PT30S", 30), ("duration", "-2h", -7200), ("duration", timedelta(minutes=3), 180),
    ("time", "11:00", 39600), ("time", "11:00:05Z", 39605), ("time", "01:00:00+02:00", 82800),
])
def test_temporal_literals(kind, text, value):
    assert temporal_value(kind, text) == value
    assert temporal_value(kind, temporal_text(kind, value)) == value


@pytest.mark.parametrize("kind, text", [("date", "2026-02-30"), ("date", "24.12.2026"), ("datetime", "noon"),
                                        ("time", 660), ("time", "25:00"),
                                        ("duration", "4 hours"), ("duration", "P"), ("date", True), ("duration", 5.5)])
def test_temporal_literals_refused(kind, text):
    with pytest.raises(ValueError, match=f"not a {kind}"):
        temporal_value(kind, text)


DATES = """decision: x
hit_policy: first
rules:
  - {id: overdue, when: {due: {"<": 2026-12-24}}, then: overdue}
  - {id: christmas, when: {due: "2026-12-24"}, then: today}
  - {id: waited, when: {wait: {">=": 4h}, opened: {"<": "2026-12-24T11:00:00Z"}}, then: waited}
  - {id: soon, when: {due: {">": 2026-12-24, "<=": 2027-01-31}}, then: soon}
default: later
"""


def test_dates_datetimes_and_durations_decide_alike_everywhere(tmp_path):
    rs = load_ruleset(folder(tmp_path, DATES))
    base = {"extra.contract.end": "2027-03-01"}
    assert both(rs, {"extra.contract.end": "2026-12-23"}) == "overdue"
    assert both(rs, {"extra.contract.end": "2026-12-24"}) == "today"
    assert both(rs, {**base, "extra.wait": "5h", "extra.opened": "2026-12-24T10:59:59Z"}) == "waited"
    assert both(rs, {**base, "extra.wait": "3h59m", "extra.opened": "2026-12-24T10:00:00Z"}) == "later"
    assert both(rs, {**base, "extra.wait": "4h", "extra.opened": "2026-12-24T11:00:00Z"}) == "later"
    assert both(rs, {"extra.contract.end": "2027-01-31"}) == "soon"
    assert both(rs, base) == "later"
    assert rs.engine.decisions["x"].json_definition  # every row compiled to durable_rules


def test_date_outputs_are_their_iso_text(tmp_path):
    rows = ("decision: x\nrules:\n  - {id: a, when: {due: {'<': 2026-12-24}}, then: 2026-12-31}\n"
            "default: 2027-01-31T10:00:00Z\n")
    rs = load_ruleset(folder(tmp_path, rows, "facts:\n  due: {type: date}\n"))
    assert both(rs, {"due": "2026-12-01"}) == "2026-12-31"
    assert both(rs, {"due": "2027-12-01"}) == "2027-01-31T10:00:00Z"


def test_the_checker_splits_dates_at_the_rows_days(tmp_path):
    """Between consecutive days there is no date: `<= 23rd` and `>= 24th` leave no gap."""
    rows = ("decision: x\nhit_policy: unique\nrules:\n  - {id: a, when: {due: {'<=': 2026-12-23}}, then: a}\n"
            "  - {id: b, when: {due: {'>=': 2026-12-24}}, then: b}\n")
    report = check_folder(folder(tmp_path, rows, "facts:\n  due: {type: date}\n"))
    assert [f.code for f in report.findings if f.severity == "error"] == []
    gappy = rows.replace("2026-12-24", "2026-12-25")
    report = check_folder(folder(tmp_path, gappy, "facts:\n  due: {type: date}\n", name="gap"))
    gaps = [f for f in report.findings if f.code == "gap"]
    assert gaps and gaps[0].example == {"due": "2026-12-24"}  # shown as a date, not as its integer


@pytest.mark.parametrize("when, message", [
    ('{due: {"<": 5}}', "due is a date: 5 is not a date"),
    ('{due: "24/12/2026"}', "not a date"),
    ('{wait: {">": "4 hours"}}', "not a duration"),
    ('{size: {">=": {fact: nope}}}', "unknown field 'nope'"),
    ('{due: {">": {fact: size}}}', "cannot be compared with size"),
    ('{size: {">=": {fact: size}}}', "compares the field with itself"),
])
def test_bad_literals_name_file_line_and_rule(tmp_path, when, message):
    d = folder(tmp_path, f"decision: x\nrules:\n  - id: bad\n    when: {when}\n    then: a\ndefault: b\n")
    with pytest.raises(RuleSetErrors) as exc:
        load_ruleset(d)
    err = exc.value.errors[0]
    assert message in err.reason and err.rule_id == "bad" and err.line == 4 and err.file.endswith("x.yaml")


REFS = """decision: x
hit_policy: first
rules:
  - {id: over, when: {size: {">": {fact: limit}}}, then: over}
  - {id: at, when: {size: {fact: limit}}, then: at}
  - {id: flagged, when: {not: {extra.a: {"<=": {fact: extra.b}}}}, then: "not-le"}
default: under
"""


def test_fact_to_fact_comparisons_run_on_durable_rules(tmp_path):
    rs = load_ruleset(folder(tmp_path, REFS))
    due = {"extra.contract.end": "2027-01-01", "extra.a": 1, "extra.b": 1}
    assert both(rs, {**due, "extra.size": 5, "extra.limits.customers": 3}) == "over"
    assert both(rs, {**due, "extra.size": 3, "extra.limits.customers": 3}) == "at"
    assert both(rs, {**due, "extra.size": 2, "extra.limits.customers": 3}) == "under"
    # `not (a <= b)` holds when a side has no number: the typed semantics of every comparison.
    assert both(rs, {**due, "extra.a": "5", "extra.b": 3}) == "not-le"
    assert both(rs, {**due, "extra.a": 2, "extra.b": 3}) == "under"
    assert both(rs, {**due, "extra.a": 4, "extra.b": 3}) == "not-le"
    assert both(rs, {**due, "extra.a": "x", "extra.b": "x"}) == "not-le"  # strings are not ordered


def test_fact_to_fact_rows_are_unanalysable_notes_never_errors(tmp_path):
    d = folder(tmp_path, REFS.replace("default: under\n", ""))
    report = check_folder(d)
    notes = [f for f in report.findings if f.code == "unanalysable"]
    assert {f.rule_id for f in notes} == {"over", "at", "flagged"}
    assert all(f.severity == "info" for f in notes)
    assert [f for f in report.findings if f.severity == "error"] == []
    assert any(f.code == "gap-possible" for f in report.findings)  # a warning: it may or may not be a gap


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.sampled_from([None, 1, "1"])),
                      min_size=1, max_size=25))
def test_the_cell_cache_never_reuses_a_cell_across_values_of_either_side(pairs):
    """Warm cache, many values of both sides: the cached answer is always the uncached one."""
    rs = _refs_ruleset()
    for size, limit, a in pairs:
        facts = rs.derive_facts({"extra.contract.end": "2027-01-01", "extra.size": size,
                                 "extra.limits.customers": limit, "extra.a": a, "extra.b": limit})
        cached = dict(facts)
        rs.decide(cached)
        assert cached["x"] == rs.evaluate(dict(facts))["x"].value == rs.evaluate(dict(facts), "python")["x"].value


_CACHE: dict[str, Any] = {}


def _refs_ruleset() -> Any:
    """One rule set for every example, so the cell cache stays warm across them."""
    if "rs" not in _CACHE:
        import tempfile

        d = Path(tempfile.mkdtemp())
        _CACHE["rs"] = load_ruleset(folder(d, REFS))
    return _CACHE["rs"]


# --- own facts read from tickets ----------------------------------------------------------

RENEWAL = """decision: renewal
hit_policy: first
rules:
  - {id: lapsed, when: {contract_end: {"<": 2026-11-23}}, then: lapsed}
  - {id: this-month, when: {contract_end: {"<": 2026-12-23}, seats: {">=": {fact: seats_used}}}, then: renew}
  - {id: short, when: {contract_end: {"<": 2026-12-23}}, then: upsell}
default: none
"""


@pytest.fixture()
def own_rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(RULES, d, ignore=shutil.ignore_patterns("tests"))
    facts = (d / "facts.yaml").read_text()
    (d / "facts.yaml").write_text(facts + "  contract_end: {type: date, from: extra.contract.end}\n"
                                          "  seats: {type: int, min: 0, max: 1000, from: extra.contract.seats, "
                                          "nullable: true}\n"
                                          "  seats_used: {type: int, min: 0, max: 1000, nullable: true}\n")
    (d / "renewal.yaml").write_text(RENEWAL)
    return d


def ticket(**extra: Any) -> dict[str, Any]:
    return {"id": "T-1", "created_at": "2026-11-23T09:00:00Z", "category": "billing", **extra}


@pytest.mark.parametrize("contract, used, want", [
    ({"end": "2026-11-01"}, None, "lapsed"), ({"end": "2026-12-01", "seats": 10}, 8, "renew"),
    ({"end": "2026-12-01", "seats": 10}, 12, "upsell"), ({"end": "2027-06-30"}, None, "none"),
])
def test_own_facts_route_from_the_tickets_extra_fields(own_rules, contract, used, want):
    from triage import Triage

    t = Triage(rules=own_rules, model=False)
    extra = {"contract": contract} | ({} if used is None else {"seats_used": used})
    assert t.route(ticket(**extra)).outputs["renewal"] == want  # the fast path
    traced = t.trace(ticket(**extra))  # the full reader
    assert traced.decision.outputs["renewal"] == want
    assert t.ruleset.evaluate(dict(traced.facts), "python")["renewal"].value == want
    t.close()


@pytest.mark.parametrize("contract, field, reason", [
    ({"end": "2026-13-01"}, "extra.contract.end", "not a date"),
    ({"end": 5.5}, "extra.contract.end", "not a date"),
    ({}, "extra.contract.end", "missing"),
    ({"end": "2026-12-01", "seats": "ten"}, "extra.contract.seats", "outside the domain of seats"),
])
def test_invalid_own_facts_are_ticket_errors_naming_the_field(own_rules, contract, field, reason):
    from triage import Triage

    t = Triage(rules=own_rules, model=False)
    for route in (t.route, t.trace):
        with pytest.raises(TicketError) as exc:
            route(ticket(contract=contract))
        assert exc.value.problems[0][0] == field and reason in exc.value.problems[0][1]
        assert exc.value.ticket_id == "T-1"
    t.close()


def test_explain_shows_dates_as_written(own_rules):
    from triage import Triage
    from triage.explain import render_text

    t = Triage(rules=own_rules, model=False)
    text = render_text(t.explain(ticket(contract={"end": "2027-06-30"})))
    assert "contract_end < 2026-11-23: actual 2027-06-30" in text
    t.close()


def test_own_fact_names_must_not_shadow_or_misname(tmp_path):
    bad = folder(tmp_path, DATES, FACTS + "  extra.x: {type: int, from: extra.y}\n  bad-name: {type: int}\n")
    with pytest.raises(RuleSetErrors) as exc:
        load_ruleset(bad)
    reasons = " | ".join(e.reason for e in exc.value.errors)
    assert "`from` is for facts of the rule set's own name" in reasons and "'bad-name' is not a fact name" in reasons


def test_random_dates_agree_on_both_evaluators(tmp_path):
    rs = load_ruleset(folder(tmp_path, DATES))
    rng = random.Random(7)
    for _ in range(300):
        day = date(2026, 12, 1) + timedelta(days=rng.randint(0, 80))
        opened = datetime(2026, 12, 24, 11, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(-3, 3))
        both(rs, {"extra.contract.end": day.isoformat(), "extra.opened": opened.isoformat(),
                  "extra.wait": f"{rng.randint(0, 8)}h{rng.randint(0, 59)}m"})


def test_check_examples_give_own_facts_as_the_ticket_fields_they_come_from(own_rules):
    (own_rules / "renewal.yaml").write_text(RENEWAL.replace("default: none\n", ""))
    report = check_folder(own_rules)
    [gap] = [f for f in report.findings if f.code == "gap"]
    assert gap.example["contract_end"] == "2026-12-23"  # the first day no row takes
    assert gap.example_ticket["contract"]["end"] == "2026-12-23"


def test_explain_lists_every_row_a_multiple_hit_decision_collected(own_rules):
    from triage import Triage
    from triage.explain import render_text

    (own_rules / "offers.yaml").write_text(
        "decision: offers\nhit_policy: rule_order\nrules:\n"
        "  - {id: renew-early, when: {contract_end: {'<': 2027-01-01}}, then: renew}\n"
        "  - {id: any-billing, when: {category: billing}, then: discount}\n"
        "  - {id: enterprise, when: {customer_tier: enterprise}, then: call}\n")
    t = Triage(rules=own_rules, model=False)
    e = t.explain(ticket(contract={"end": "2026-12-01"}))
    [offers] = [d for d in e["decisions"] if d["decision"] == "offers"]
    assert offers["value"] == ["renew", "discount"]
    assert [r["rule_id"] for r in offers["decided_by"]] == ["renew-early", "any-billing"]
    text = render_text(e)
    assert "offers = [renew, discount]  (hit policy rule_order)" in text
    assert "2 rows matched (in row order):" in text
    none = t.explain(ticket(contract={"end": "2027-06-01"}, category="security"))
    [offers] = [d for d in none["decisions"] if d["decision"] == "offers"]
    assert offers["value"] == [] and offers["decided_by"] == []
    assert "no row matched: hit policy rule_order answers []" in render_text(none)
    t.close()
