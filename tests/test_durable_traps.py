"""Each known durable_rules trap (shared/design.md), held off and tested."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import RULES
from strategies import tickets
from test_rule_files import folder
from triage import Triage
from triage.facts import load_rules


def test_no_background_threads_are_started():
    before = threading.active_count()
    t = Triage(rules=RULES, model=False)
    t.route({"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "billing"})
    assert threading.active_count() == before
    t.close()


def test_one_session_and_every_fact_retracted():
    """More tickets than the 1,024-session limit, and nothing left behind in the session."""
    t = Triage(rules=RULES, model=False)
    t.ruleset.use_cache = False
    for i in range(3000):
        t.route({"id": f"x{i}", "created_at": "2026-11-25T08:00:00Z", "category": "service_down",
                 "affected_customers": 1 + i % 7})
    engine = t.ruleset.engine
    for d in engine.decisions.values():
        if d.handle is not None:
            assert engine.host.get_ruleset(d.name).get_facts("0") == []
    t.close()


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_absence_tests_do_not_match_the_session_state(tmp_path, evaluator):
    """The session's state is itself a message; a bare null test must not fire on it."""
    d = folder(tmp_path, {"t.yaml": "decision: t\nhit_policy: collect\naggregate: count\n"
                                    "rules:\n  - {id: a, when: {reported_severity: null}, then: 1}\n"})
    rs = load_rules(d)
    assert rs.evaluate({"reported_severity": None}, evaluator)["t"].value == 1
    assert rs.evaluate({"reported_severity": 2}, evaluator)["t"].value == 0


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_no_type_coercion(tmp_path, evaluator):
    d = folder(tmp_path, {"t.yaml": """
decision: t
hit_policy: collect
rules:
  - {id: five, when: {extra.code: 5}, then: five}
  - {id: text-five, when: {extra.code: "5"}, then: text-five}
  - {id: "false", when: {extra.flag: false}, then: "false"}
  - {id: zero, when: {extra.flag: 0}, then: zero}
  - {id: less, when: {extra.code: {"<": 6}}, then: less}
"""})
    rs = load_rules(d)
    assert rs.evaluate({"extra.code": 5}, evaluator)["t"].value == ["five", "less"]
    assert rs.evaluate({"extra.code": "5"}, evaluator)["t"].value == ["text-five"]
    assert rs.evaluate({"extra.flag": False}, evaluator)["t"].value == ["false"]
    assert rs.evaluate({"extra.flag": 0}, evaluator)["t"].value == ["zero"]


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_small_and_large_floats_do_not_break_the_engine(tmp_path, evaluator):
    """json.dumps(1e-05) is '1e-05', which durable_rules rejects: numbers go as scaled integers."""
    d = folder(tmp_path, {"t.yaml": "decision: t\nrules:\n  - {id: low, when: {confidence: {'<': 0.5}}, then: low}\n"
                                    "  - {id: big, when: {extra.n: {'>': 1000000}}, then: big}\ndefault: other\n"})
    rs = load_rules(d)
    assert rs.evaluate({"confidence": 1e-05}, evaluator)["t"].value == "low"
    assert rs.evaluate({"confidence": 0.9, "extra.n": 1e20}, evaluator)["t"].value == "big"
    assert rs.evaluate({"confidence": 0.9, "extra.n": 1e-9}, evaluator)["t"].value == "other"


def test_route_with_tiny_confidence_and_odd_extras():
    t = Triage(rules=RULES, model=False)
    d = t.route({"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "billing",
                 "score": 1e-05, "big": 1e300, "nested": {"a": {"b": {"c": {"d": {"e": 1}}}}},
                 **{f"f{i}": i for i in range(400)}})
    assert d.priority == "P4"


REGEX_CASES = ["FRA-DC1", "fra-dc1", "FRA-DC12", "LON-EQ4", "", "FRA.DC1", "FRAXDC1", "a\nb", "Ünï"]


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_regex_dialect_subset_agrees(tmp_path, evaluator):
    d = folder(tmp_path, {"t.yaml": """
decision: t
hit_policy: collect
rules:
  - {id: fra, unanalysable: true, when: {location: {matches: "FRA-DC[0-9]"}}, then: fra}
  - {id: any-dc, unanalysable: true, when: {location: {matches: "[A-Z]+-(DC|EQ)[0-9]+"}}, then: dc}
  - {id: dot, unanalysable: true, when: {location: {matches: "FRA[.]DC1"}}, then: dot}
  - {id: wild, unanalysable: true, when: {location: {matches: "a.b"}}, then: wild}
"""})
    rs = load_rules(d)
    expected = {"FRA-DC1": ["fra", "dc"], "FRA-DC12": ["dc"], "LON-EQ4": ["dc"], "FRA.DC1": ["dot"],
                "a\nb": []}
    for value in REGEX_CASES:
        got = rs.evaluate({"location": value}, evaluator)["t"].value
        assert got == expected.get(value, []), value


@given(st.lists(tickets(), min_size=1, max_size=20))
def test_cached_and_uncached_decisions_are_identical(tickets_):
    cached = Triage(rules=RULES, model=False)
    uncached = Triage(rules=RULES, model=False)
    uncached.ruleset.use_cache = False
    for t in tickets_:
        assert cached.route(t) == uncached.route(t)
    cached.close()
    uncached.close()


def test_eight_threads_give_the_serial_results():
    import random

    from test_cli_route import random_tickets

    tickets_ = random_tickets(2000, seed=3)
    serial_engine = Triage(rules=RULES, model=False)
    serial_engine.ruleset.use_cache = False
    serial = [serial_engine.route(t) for t in tickets_]
    shared = Triage(rules=RULES, model=False)
    shared.ruleset.use_cache = False  # every call goes through the engine and its lock
    order = list(range(len(tickets_)))
    random.Random(1).shuffle(order)
    with ThreadPoolExecutor(8) as pool:
        results = dict(zip(order, pool.map(lambda i: shared.route(tickets_[i]), order)))
    assert [results[i] for i in range(len(tickets_))] == serial


def test_two_rule_sets_in_one_process_do_not_collide(tmp_path):
    other = Path(tmp_path) / "other"
    import shutil

    shutil.copytree(RULES, other)
    (other / "tier.yaml").write_text((other / "tier.yaml").read_text().replace("default: CSS", "default: NSS"))
    a, b = Triage(rules=RULES, model=False), Triage(rules=other, model=False)
    t = {"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": "billing"}
    assert (a.route(t).tier, b.route(t).tier) == ("CSS", "NSS")
