"""Invariants of routing over generated tickets: complete, deterministic, monotone,
and the same on durable_rules as in the pure-Python interpreter."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from strategies import tickets

from triage.ticket import parse_ticket

PRIORITY_RANK = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}
TIER_RANK = {"CSS": 0, "NSS": 1, "OpsEng": 2}


def _rule_ids(triage):
    return {d.cite(r) for d in triage.ruleset.decisions for r in (*d.rows, None)}


@given(tickets())
def test_routing_is_complete_and_cites_existing_rules(triage_given, ticket):
    d = triage_given.route(ticket)
    assert d.priority in PRIORITY_RANK and d.tier in TIER_RANK
    assert d.region in ("APAC", "EMEA", "AMER")
    assert d.queue and isinstance(d.queue, str)
    known = _rule_ids(triage_given)
    for field in ("priority", "tier", "region", "queue", "third_party"):
        assert d.rules[field], field
        assert set(d.rules[field]) <= known


@given(tickets())
def test_routing_is_deterministic(triage_given, ticket):
    assert triage_given.route(ticket) == triage_given.route(dict(ticket))


def evaluated(triage, ticket: dict, evaluator: str) -> dict:
    """Every decision's value for `ticket` by one evaluator, uncached (the reference)."""
    t = parse_ticket(ticket)
    facts = triage.facts_of(t, t.category)
    return {n: r.value for n, r in triage.ruleset.evaluate(facts, evaluator).items()}


@given(tickets())
def test_durable_rules_and_interpreter_agree(triage_given, ticket):
    on_engine = evaluated(triage_given, ticket, "durable")
    assert on_engine == evaluated(triage_given, ticket, "python")
    routed = triage_given.trace(ticket).facts  # the one path: cell cache, facts of the fast reader
    assert {n: routed[n] for n in on_engine} == on_engine


@given(tickets(), st.integers(1, 20))
def test_more_affected_customers_never_lowers_priority(triage_given, ticket, more):
    base = triage_given.route(ticket)
    bigger = triage_given.route({**ticket, "affected_customers": ticket["affected_customers"] + more})
    assert PRIORITY_RANK[bigger.priority] <= PRIORITY_RANK[base.priority]


@given(tickets(), st.integers(1, 3))
def test_higher_escalation_never_lowers_tier(triage_given, ticket, more):
    base = triage_given.route(ticket)
    higher = triage_given.route({**ticket, "escalation_level": ticket["escalation_level"] + more})
    assert TIER_RANK[higher.tier] >= TIER_RANK[base.tier]
