"""DMN hit policies on every evaluator, and the checker agreeing with the engine.

Each policy is decided three ways that must agree: durable_rules (`evaluate`), the
interpreter (`evaluate(..., "python")`) and the cell cache (`decide`). The checker is
held to the engine cell by cell: it reports an error of evaluation (`gap`,
`unique-overlap`, `any-conflict`) exactly when some cell of the inputs makes the engine
raise, and never calls a multiple-hit table's no match a gap.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.analysis.checker import check_folder
from triage.analysis.space import decision_spaces
from triage.rules.interpreter import matching_rows
from triage.facts import load_rules as load_ruleset
from triage.rules.ruleset import RuleEvaluationError, no_match

FACTS = """facts:
  n: {type: int, min: 0, max: 10}
  level: {type: enum, values: [low, mid, high], nullable: true}
  flag: {type: bool}
"""
# Rows matching n=7, level=high in order: B, A, B, C.
ROWS = """rules:
  - {id: r1, when: {n: {">=": 5}}, then: B}
  - {id: r2, when: {n: {">=": 3}}, then: A}
  - {id: r3, when: {level: high}, then: B}
  - {id: r4, when: {n: 7}, then: C}
"""
ERROR = RuleEvaluationError


def table(tmp_path: Path, head: str, rows: str = ROWS, tail: str = "", name: str = "t") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "facts.yaml").write_text(FACTS)
    (d / "x.yaml").write_text(f"decision: x\n{head}\n{rows}{tail}")
    return d


def outcome(rs: Any, facts: dict[str, Any], how: str) -> Any:
    """The decision's value (or the error class) by one evaluator: durable, python or cache."""
    f = dict(facts)
    try:
        if how == "cache":
            rs.decide(f)
            return f["x"]
        return rs.evaluate(f, how)["x"].value
    except RuleEvaluationError:
        return ERROR


def all_three(rs: Any, facts: dict[str, Any]) -> Any:
    got = {how: outcome(rs, facts, how) for how in ("durable", "python", "cache")}
    assert len({repr(v) for v in got.values()}) == 1, got
    return got["durable"]


HIT = {"n": 7, "level": "high", "flag": True}
NONE = {"n": 0, "level": "low", "flag": False}
ONE = {"n": 1, "level": "high", "flag": False}  # only r3


@pytest.mark.parametrize("head, hit, none, one", [
    ("hit_policy: first", "B", ERROR, "B"),
    ("hit_policy: unique", ERROR, ERROR, "B"),
    ("hit_policy: priority\nvalues: [C, A, B]", "C", ERROR, "B"),
    ("hit_policy: any", ERROR, ERROR, "B"),
    ("hit_policy: collect", ["B", "A", "B", "C"], [], ["B"]),
    ("hit_policy: collect\naggregate: list", ["B", "A", "B", "C"], [], ["B"]),
    ("hit_policy: collect\naggregate: set", ["B", "A", "C"], [], ["B"]),
    ("hit_policy: collect\naggregate: count", 4, 0, 1),
    ("hit_policy: collect\naggregate: min\nvalues: [A, B, C]", "A", None, "B"),
    ("hit_policy: collect\naggregate: max\nvalues: [A, B, C]", "C", None, "B"),
    ("hit_policy: rule_order", ["B", "A", "B", "C"], [], ["B"]),
    ("hit_policy: output_order\nvalues: [C, A, B]", ["C", "A", "B", "B"], [], ["B"]),
])
def test_each_policy_on_durable_rules_the_interpreter_and_the_cache(tmp_path, head, hit, none, one):
    rs = load_ruleset(table(tmp_path, head))
    for _ in range(2):  # the second round is answered from the cell cache
        assert all_three(rs, HIT) == hit
        assert all_three(rs, NONE) == none
        assert all_three(rs, ONE) == one
    rs.close()


def test_collect_sum_and_any_that_agrees(tmp_path):
    rows = ("rules:\n  - {id: a, when: {n: {'>=': 5}}, then: 2.5}\n  - {id: b, when: {n: {'>=': 3}}, then: 1}\n"
            "  - {id: c, when: {flag: true}, then: 0.1}\n")
    rs = load_ruleset(table(tmp_path, "hit_policy: collect\naggregate: sum", rows))
    assert all_three(rs, {"n": 7, "flag": True}) == 3.6
    assert all_three(rs, {"n": 0, "flag": False}) == 0
    agree = ("rules:\n  - {id: a, when: {n: {'>=': 5}}, then: big}\n  - {id: b, when: {n: {'>=': 7}}, then: big}\n"
             "  - {id: c, when: {n: {'<': 5}}, then: small}\n")
    rs2 = load_ruleset(table(tmp_path, "hit_policy: any", agree, name="any"))
    assert all_three(rs2, {"n": 8}) == "big"
    res = rs2.evaluate({"n": 8})["x"]
    assert res.cited == ["x/a", "x/b"]  # every agreeing row is cited
    assert [f.code for f in check_folder(rs2.folder).findings if f.severity == "error"] == []


@pytest.mark.parametrize("policy", ["first", "unique", "any", "priority"])
def test_single_hit_tables_may_answer_null_by_default(tmp_path, policy):
    """`default: null` answers no match with null, even when `values` does not list null."""
    head = f"hit_policy: {policy}\nvalues: [C, A, B]"
    d = table(tmp_path, head, "rules:\n  - {id: r1, when: {n: {'>=': 5}}, then: B}\n", "default: null\n")
    rs = load_ruleset(d)
    assert all_three(rs, {"n": 1}) is None
    assert all_three(rs, {"n": 6}) == "B"
    assert [f.code for f in check_folder(d).findings if f.severity == "error"] == []


def test_decisions_sharing_a_field_with_different_cut_points_share_no_coarse_cell(tmp_path):
    """The cache computes a field's cell once for all decisions: cut at all their points."""
    d = table(tmp_path, "hit_policy: first", "rules:\n  - {id: big, when: {n: {'>=': 5}}, then: big}\n",
              "default: small\n")
    (d / "y.yaml").write_text("decision: y\nrules:\n  - {id: low, when: {n: {'<': 3}}, then: low}\n"
                              "  - {id: mid, when: {n: {'<': 7}}, then: mid}\ndefault: high\n")
    rs = load_ruleset(d)
    for n, want in [(0, "low"), (4, "mid"), (8, "high"), (2, "low"), (6, "mid")]:
        for given in (frozenset(), frozenset({"x"})):  # `decide` and `decide_given` (rule tests)
            facts = {"n": n, "x": "small"}
            rs.decide(facts, given=given)
            assert facts["y"] == want == rs.evaluate({"n": n})["y"].value, (n, given)
    rs.close()


# --- no match: the checker and the engine agree, cell by cell ---------------------------

POLICIES = [
    ("hit_policy: first", ""), ("hit_policy: unique", ""), ("hit_policy: any", ""),
    ("hit_policy: priority\nvalues: [A, B]", ""),
    ("hit_policy: first", "default: null\n"), ("hit_policy: unique", "default: A\n"),
    ("hit_policy: priority\nvalues: [A, B]", "default: null\n"), ("hit_policy: any", "default: null\n"),
    ("hit_policy: collect", ""), ("hit_policy: collect\naggregate: set", ""),
    ("hit_policy: collect\naggregate: count", ""), ("hit_policy: collect\naggregate: min", ""),
    ("hit_policy: collect\naggregate: max\nvalues: [A, B]", ""), ("hit_policy: rule_order", ""),
    ("hit_policy: output_order\nvalues: [B, A]", ""), ("hit_policy: collect", "default: A\n"),
]
GAPPY = """rules:
  - {id: high-n, when: {n: {">": 6}, level: [mid, high]}, then: A}
  - {id: low-flag, when: {n: {"<=": 3}, flag: true}, then: B}
"""


def cells(rs: Any) -> list[dict[str, Any]]:
    """One input of every cell the checker distinguishes (its representatives)."""
    d = rs.decision("x")
    spaces = decision_spaces(d, rs.domains, {})
    names = sorted(spaces)
    return [dict(zip(names, vals)) for vals in itertools.product(*(spaces[n].values for n in names))]


@pytest.mark.parametrize("head, tail", POLICIES)
def test_no_match_means_the_same_to_the_checker_and_the_engine(tmp_path, head, tail):
    d = table(tmp_path, head, GAPPY, tail)
    rs = load_ruleset(d)
    dec = rs.decision("x")
    empty = [c for c in cells(rs) if not matching_rows(dec, c)]
    assert empty  # the table has holes: n in 4..6, or flag false with n <= 3, ...
    multi = dec.hit_policy in ("collect", "rule_order", "output_order")
    for c in empty:
        got = all_three(rs, c)
        if dec.has_default:
            want = dec.default
            if multi and dec.aggregate in (None, "list", "set"):
                want = [] if want is None else [want]
            assert got == want, c
        elif multi:
            want = {"count": 0, "sum": 0, "min": None, "max": None}.get(dec.aggregate or "list", [])
            assert got == want and no_match(dec) == want, c
        else:
            assert got is ERROR, c
    gaps = [f for f in check_folder(d).findings if f.code == "gap"]
    assert bool(gaps) == (not multi and not dec.has_default)
    rs.close()


# --- the checker's errors of evaluation happen exactly when the engine fails a cell -----

LEAF = st.sampled_from([
    {"n": {">=": 5}}, {"n": {"<": 3}}, {"n": 7}, {"n": {"!=": 4}}, {"n": {">": 2, "<=": 8}},
    {"level": "high"}, {"level": ["low", "mid"]}, {"level": None}, {"flag": True}, {"flag": False},
])


REF = st.sampled_from([{"n": {">=": {"fact": "m"}}}, {"n": {"fact": "m"}}, {"m": {"<": {"fact": "n"}}}])


@st.composite
def conditions(draw, leaf: Any = LEAF) -> dict[str, Any]:
    kind = draw(st.sampled_from(["leaf", "leaf", "and", "any", "not"]))
    if kind == "leaf":
        return draw(leaf)
    if kind == "not":
        return {"not": draw(leaf)}
    items = draw(st.lists(leaf, min_size=2, max_size=3))
    return {"all" if kind == "and" else "any": items}


@st.composite
def tables(draw, refs: bool = False) -> str:
    import json

    policy = draw(st.sampled_from(["first", "unique", "priority", "any", "collect", "rule_order", "output_order"]))
    head = f"hit_policy: {policy}\nvalues: [A, B, C]"
    if policy == "collect":
        head += f"\naggregate: {draw(st.sampled_from(['list', 'set', 'count', 'min', 'max']))}"
    # A template's output is not known per cell, so `any` (agreement) gets literals only.
    outs = ["A", "B", "C"] + ([] if policy == "any" else ["{level}"])
    leaf = st.one_of(LEAF, REF) if refs else LEAF
    rows = draw(st.lists(st.tuples(conditions(leaf), st.sampled_from(outs)), min_size=1, max_size=4))
    text = "rules:\n" + "".join(f"  - {{id: r{i}, when: {json.dumps(c)}, then: {json.dumps(o)}}}\n"
                                for i, (c, o) in enumerate(rows))
    default = draw(st.sampled_from(["", "default: null\n", "default: B\n"]))
    return f"{head}\n{text}{default}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=tables())
def test_checker_errors_exactly_when_the_engine_fails_a_cell(tmp_path_factory, spec):
    d = tmp_path_factory.mktemp("t")
    (d / "facts.yaml").write_text(FACTS.replace("values: [low, mid, high]", "values: [A, B, C]"))
    (d / "x.yaml").write_text(f"decision: x\n{spec}".replace("high", "C").replace("low", "A").replace("mid", "B"))
    rs = load_ruleset(d)
    dec = rs.decision("x")
    failing = [c for c in cells(rs) if all_three(rs, c) is ERROR]
    # Why each failing cell fails: no row (a gap), or rows that clash (unique, any).
    holes = [c for c in failing if not matching_rows(dec, c)]
    clashes = [c for c in failing if len(matching_rows(dec, c)) > 1]
    assert len(holes) + len(clashes) == len(failing)
    errors = {f.code for f in check_folder(d).findings if f.severity == "error"}
    assert ("gap" in errors) == bool(holes), (errors, holes[:3])
    assert bool(errors & {"unique-overlap", "any-conflict"}) == bool(clashes), (errors, clashes[:3])
    rs.close()


def test_rule_tests_of_every_policy_pass_and_cover_every_row():
    """`tests/policies/`: one decision per hit policy, tested by `*.test.yaml` rule tests."""
    from click.testing import CliRunner

    from triage.cli import cli

    folder = Path(__file__).parent / "policies"
    res = CliRunner().invoke(cli, ["test", str(folder), "--coverage", "--fail-under", "100"])
    assert res.exit_code == 0, res.stdout
    assert [f.headline() for f in check_folder(folder).findings if f.severity == "error"] == []


def test_a_row_may_answer_null(tmp_path):
    """DMN's `null` output entry: the row decides, with no value (outside `values` too)."""
    rows = "rules:\n  - {id: none, when: {n: {'<': 3}}, then: null}\n  - {id: b, when: {n: {'>=': 2}}, then: B}\n"
    rs = load_ruleset(table(tmp_path, "hit_policy: first\nvalues: [A, B]", rows, "default: A\n"))
    assert all_three(rs, {"n": 1}) is None
    assert rs.evaluate({"n": 1})["x"].cited == ["x/none"]
    assert all_three(rs, {"n": 5}) == "B"
    rs2 = load_ruleset(table(tmp_path, "hit_policy: rule_order", rows, name="ro"))
    assert all_three(rs2, {"n": 2}) == [None, "B"]


def test_rule_tests_may_expect_the_rules_to_fail(tmp_path):
    """`expect_error`: a `unique` clash or an `any` disagreement, tested as such."""
    from click.testing import CliRunner

    from triage.cli import cli

    d = table(tmp_path, "hit_policy: any")
    (d / "tests").mkdir()
    (d / "tests" / "x.test.yaml").write_text(
        "cases:\n"
        "  - {name: clash, facts: {n: 7, level: high, flag: true}, expect_error: match with different outputs}\n"
        "  - {name: agree, facts: {n: 1, level: high, flag: true}, expect: {x: B}}\n"
        "  - {name: wrong text, facts: {n: 7, level: high, flag: true}, expect_error: no row matched}\n"
        "  - {name: no error, facts: {n: 1, level: high, flag: true}, expect_error: different outputs}\n")
    res = CliRunner().invoke(cli, ["test", str(d)])
    assert "clash: PASS" in res.stdout and "agree: PASS" in res.stdout
    assert "wrong text: ERROR" in res.stdout and "expected an error with 'no row matched', got:" in res.stdout
    assert "no error: FAIL" in res.stdout and "but the rules decided" in res.stdout
    assert "2 passed, 2 failed" in res.stdout


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=tables(refs=True), extra=st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), max_size=6))
def test_with_fact_comparisons_the_checker_is_sound_and_the_evaluators_agree(tmp_path_factory, spec, extra):
    """Rows comparing n with m are unanalysable: the checker may say less, never something
    false; an error it reports is a cell the engine fails. The cache equals both engines."""
    d = tmp_path_factory.mktemp("t")
    (d / "facts.yaml").write_text(FACTS.replace("values: [low, mid, high]", "values: [A, B, C]")
                                  + "  m: {type: int, min: 0, max: 10, nullable: true}\n")
    (d / "x.yaml").write_text(f"decision: x\n{spec}".replace("high", "C").replace("low", "A").replace("mid", "B"))
    rs = load_ruleset(d)
    dec = rs.decision("x")
    inputs = cells(rs) + [{"n": n, "m": m, "level": "A", "flag": True} for n, m in extra]
    failing = [c for c in inputs if all_three(rs, c) is ERROR]
    holes = [c for c in failing if not matching_rows(dec, c)]
    clashes = [c for c in failing if len(matching_rows(dec, c)) > 1]
    errors = {f.code for f in check_folder(d).findings if f.severity == "error"}
    assert "gap" not in errors or holes, errors
    assert not errors & {"unique-overlap", "any-conflict"} or clashes, errors
    if not any(f.code == "unanalysable" for f in check_folder(d).findings):
        assert ("gap" in errors) == bool(holes)
    rs.close()


@pytest.mark.parametrize("agg, want", [("min", {"amount": 98.83, "required": False}),
                                       ("max", {"amount": 205.43, "required": True}),
                                       ("sum", {"amount": 454.47, "required": 0}),
                                       ("count", 3), ("list", None)])
def test_aggregates_of_named_outputs_take_each_output_on_its_own(tmp_path, agg, want):
    """As the DMN conformance suite's 0117-multi-min-collect expects (our table, its shape)."""
    rows = ("rules:\n  - {id: a, when: {n: {'>': 1}}, then: {amount: 98.83, required: true}}\n"
            "  - {id: b, when: {n: {'>': 2}}, then: {amount: 150.21, required: false}}\n"
            "  - {id: c, when: {n: {'>': 3}}, then: {amount: 205.43, required: true}}\n")
    rs = load_ruleset(table(tmp_path, f"hit_policy: collect\naggregate: {agg}", rows))
    got = all_three(rs, {"n": 4})
    if agg == "list":
        assert [o["amount"] for o in got] == [98.83, 150.21, 205.43]
    else:
        assert got == want
    assert all_three(rs, {"n": 0}) == no_match(rs.decision("x"))
