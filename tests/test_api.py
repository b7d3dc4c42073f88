"""The embedding API: Triage from defaults or paths, route, route_many, errors."""
from __future__ import annotations

import pytest

from conftest import RULES
from test_cli_route import random_tickets
from triage import Decision, NoModelError, TicketError, Triage


def test_route_many_keeps_order_and_matches_route(triage_given):
    tickets = random_tickets(1200, seed=11)
    many = list(triage_given.route_many(tickets, chunk_size=100))
    assert [d.ticket_id for d in many] == [t["id"] for t in tickets]
    assert many == [triage_given.route(t) for t in tickets]


def test_route_many_yields_errors_in_place(triage_given):
    tickets = random_tickets(3)
    tickets.insert(1, {"id": "bad", "created_at": "2026-11-25T08:00:00Z", "category": "nope"})
    out = list(triage_given.route_many(tickets, errors="yield"))
    assert isinstance(out[1], TicketError) and out[1].ticket_id == "bad"
    assert all(isinstance(d, Decision) for i, d in enumerate(out) if i != 1)
    with pytest.raises(TicketError):
        list(triage_given.route_many(tickets))


def test_given_category_skips_the_model_and_says_so(triage_given):
    d = triage_given.route({"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "billing",
                            "subject": "port down"})
    assert (d.category, d.category_source, d.confidence, d.needs_review) == ("billing", "given", None, False)


def test_without_a_model_the_error_says_so():
    t = Triage(rules=RULES, model=False)
    with pytest.raises(NoModelError, match="no model is available"):
        t.route({"id": "x", "created_at": "2026-11-25T08:00:00Z", "subject": "port down"})


def test_unknown_category_is_refused_with_a_suggestion(triage_given):
    with pytest.raises(TicketError, match="did you mean 'hardware_fault'"):
        triage_given.route({"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "hardware_falt"})


def test_decision_json_has_the_contract_fields_in_order(triage_given):
    import json

    d = triage_given.route({"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "security",
                            "reported_severity": 1})
    assert list(json.loads(d.to_json())) == [
        "ticket_id", "category", "category_source", "confidence", "needs_review", "language", "priority", "tier", "region",
        "queue", "handoff", "third_party", "response_due", "resolution_due", "incident_id", "rules", "ruleset_version",
        "model_version"]
    assert d.priority == "P1" and d.handoff is not None


def test_user_decisions_appear_under_outputs(tmp_path):
    import shutil

    shutil.copytree(RULES, tmp_path / "r")
    (tmp_path / "r" / "sla_badge.yaml").write_text(
        "decision: sla_badge\nrules:\n  - {id: red, when: {priority: P1}, then: red}\ndefault: green\n")
    d = Triage(rules=tmp_path / "r", model=False).route(
        {"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "billing", "affected_customers": 6})
    assert d.outputs == {"sla_badge": "red"} and d.rules["sla_badge"] == ["sla_badge/red"]
    assert d.to_dict()["outputs"] == {"sla_badge": "red"}
