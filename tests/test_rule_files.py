"""Rule files: validation with file/line/rule id, hit policies, templates, ordering, versions."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import RULES
from triage import RuleSetErrors, Triage
from triage.facts import load_rules
from triage.errors import RuleEvaluationError

SCHEDULE = (RULES / "schedule.yaml").read_text()
FACTS = (RULES / "facts.yaml").read_text()


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "facts.yaml").write_text(FACTS)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def errors_of(path: Path) -> list:
    with pytest.raises(RuleSetErrors) as exc:
        load_rules(path)
    return exc.value.errors


def test_misspelled_category_names_file_line_and_rule(tmp_path):
    d = folder(tmp_path, {"tier.yaml": "decision: tier\nrules:\n  - id: a\n    when: {category: servce_down}\n"
                                       "    then: NSS\ndefault: CSS\n"})
    [err] = errors_of(d)
    assert err.file.endswith("tier.yaml") and err.line == 4 and err.rule_id == "a"
    assert "did you mean 'service_down'" in str(err)


@pytest.mark.parametrize("text, line, words", [
    ("decision: tier\nrules:\n  - id: a\n    when: {categry: billing}\n    then: NSS\n", 4, "unknown field 'categry'"),
    ("decision: tier\nrules:\n  - id: a\n    when: {affected_customers: {'=>': 2}}\n    then: NSS\n", 4, "unknown operator"),
    ("decision: tier\nrules:\n  - id: a\n    then: NSS\n  - id: a\n    then: CSS\n", 5, "duplicate rule id"),
    ("decision: tier\nrules:\n  - id: a\n    when: {customer_tier: {'<': 2}}\n    then: NSS\n", 4, "enumeration, not a number"),
    ("decision: tier\nrules:\n  - id: a\n    when: {escalation_level: 'high'}\n    then: NSS\n", 4, "integer"),
    ("decision: tier\nrules:\n  - id: a\n    then: '{tierr}-x'\n", 4, "unknown field 'tierr'"),
    ("decision: tier\nrules:\n  - id: a\n    then: '{tier'\n", 4, "bad template"),
    ("decision: tier\nrules:\n  - id: a\n    when: {location: {matches: 'FRA.*'}}\n    then: NSS\n", 4, "unanalysable"),
    ("decision: tier\nrules:\n  - id: a\n    unanalysable: true\n    when: {location: {matches: 'FRA\\\\d'}}\n    then: NSS\n", 5, "backslash"),
    ("decision: tier\nrules:\n  - id: a\n    when: {category: billing\n", None, "invalid YAML"),
    ("decision: tier\nhit_policy: sometimes\nrules: []\n", 2, "hit_policy"),
    ("decision: tier\nrules:\n  - id: a\n    then: NSS\n    colour: red\n", 5, "unknown key 'colour'"),
    ("decision: tier\nvalues: [CSS, NSS]\nrules:\n  - id: a\n    then: NSs\n", 5, "did you mean 'NSS'"),
    ("", None, "empty file"),
])
def test_bad_rule_files_are_reported_with_place_and_reason(tmp_path, text, line, words):
    d = folder(tmp_path, {"tier.yaml": text})
    errs = errors_of(d)
    assert any(words in str(e) for e in errs), [str(e) for e in errs]
    assert all(e.file and e.file.endswith("tier.yaml") for e in errs)
    if line is not None:
        assert any(e.line == line for e in errs), [str(e) for e in errs]


def test_cycles_are_refused(tmp_path):
    d = folder(tmp_path, {
        "a.yaml": "decision: a\nrules:\n  - id: x\n    when: {b: 'y'}\n    then: 'y'\ndefault: 'n'\n",
        "b.yaml": "decision: b\nrules:\n  - id: x\n    then: '{a}'\n",
    })
    errs = errors_of(d)
    assert any("decision cycle" in str(e) and "a -> b -> a" in str(e) or "b -> a -> b" in str(e) for e in errs)


def test_decisions_are_ordered_by_dependency(tmp_path):
    d = folder(tmp_path, {
        "a_last.yaml": "decision: a_last\nrules:\n  - id: x\n    then: '{z_first}!'\n",
        "z_first.yaml": "decision: z_first\nrules:\n  - id: x\n    then: 'z'\n",
    })
    assert load_rules(d).decision_names == ("z_first", "a_last")


def _eval(d: Path, facts: dict, evaluator: str):
    rs = load_rules(d)
    return rs.evaluate(dict(facts), evaluator)


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_hit_policies(tmp_path, evaluator):
    d = folder(tmp_path, {
        "u.yaml": "decision: u\nhit_policy: unique\nrules:\n  - {id: low, when: {affected_customers: {'<': 3}}, then: few}\n"
                  "  - {id: high, when: {affected_customers: {'>=': 2}}, then: many}\n",
        "p.yaml": "decision: p\nhit_policy: priority\nvalues: [P1, P2, P3]\nrules:\n"
                  "  - {id: a, when: {channel: email}, then: P3}\n  - {id: b, when: {affected_customers: {'>': 1}}, then: P1}\n"
                  "  - {id: c, then: P2}\n",
        "c.yaml": "decision: c\nhit_policy: collect\nrules:\n  - {id: a, when: {channel: email}, then: mail}\n"
                  "  - {id: b, when: {affected_customers: {'>': 1}}, then: many}\n  - {id: c, when: {channel: phone}, then: phone}\n"
                  "default: nothing\n",
        "n.yaml": "decision: n\nhit_policy: collect\naggregate: count\nrules:\n  - {id: a, when: {channel: email}, then: 1}\n"
                  "  - {id: b, when: {affected_customers: {'>': 1}}, then: 1}\n",
    })
    r = _eval(d, {"channel": "email", "affected_customers": 1}, evaluator)
    assert (r["u"].value, r["u"].cited) == ("few", ["u/low"])
    assert (r["p"].value, r["p"].cited) == ("P2", ["p/c"])
    assert (r["c"].value, r["c"].cited) == (["mail"], ["c/a"])
    assert r["n"].value == 1
    r = _eval(d, {"channel": "phone", "affected_customers": 5}, evaluator)
    assert r["p"].value == "P1" and r["c"].value == ["many", "phone"] and r["n"].value == 1
    with pytest.raises(RuleEvaluationError, match="unique"):
        _eval(d, {"channel": "email", "affected_customers": 2}, evaluator)


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_no_row_and_no_default_is_an_evaluation_error(tmp_path, evaluator):
    d = folder(tmp_path, {"t.yaml": "decision: t\nrules:\n  - {id: a, when: {channel: email}, then: x}\n"})
    assert _eval(d, {"channel": "email"}, evaluator)["t"].value == "x"
    with pytest.raises(RuleEvaluationError, match="no row matched"):
        _eval(d, {"channel": "phone"}, evaluator)


@pytest.mark.parametrize("evaluator", ["durable", "python"])
def test_conditions_any_all_not_null_and_templates(tmp_path, evaluator):
    d = folder(tmp_path, {"t.yaml": """
decision: t
rules:
  - id: nested
    when:
      all:
        - any: [{reported_severity: 1}, {customer_tier: enterprise}]
        - not: {home_region: [APAC, AMER]}
    then: "hot-{home_region}-{{literal}}"
  - id: no-severity
    when: {reported_severity: null, extra.vip: true}
    then: "vip"
  - id: ranges
    when: {affected_customers: {">": 2, "<=": 4}}
    then: "mid"
default: "none"
"""})
    assert _eval(d, {"reported_severity": 1, "home_region": "EMEA"}, evaluator)["t"].value == "hot-EMEA-{literal}"
    assert _eval(d, {"customer_tier": "enterprise", "home_region": None}, evaluator)["t"].value == "hot--{literal}"
    assert _eval(d, {"reported_severity": 1, "home_region": "APAC"}, evaluator)["t"].value == "none"
    assert _eval(d, {"extra.vip": True}, evaluator)["t"].value == "vip"
    assert _eval(d, {"extra.vip": 1}, evaluator)["t"].value == "none"  # 1 is not true
    assert _eval(d, {"affected_customers": 3}, evaluator)["t"].value == "mid"
    assert _eval(d, {"affected_customers": 5}, evaluator)["t"].value == "none"


def test_ruleset_version_is_a_content_hash(tmp_path):
    a = tmp_path / "a"
    shutil.copytree(RULES, a)
    v1 = load_rules(a).version
    assert v1 == load_rules(RULES).version and v1.startswith("sha256:")
    (a / "tests").mkdir(exist_ok=True)
    (a / "tests" / "x.test.yaml").write_text("cases: []\n")
    assert load_rules(a).version == v1  # tests do not change the rule set
    text = (a / "tier.yaml").read_text().replace("then: OpsEng", "then: NSS", 1)
    (a / "tier.yaml").write_text(text)
    assert load_rules(a).version != v1


def test_triage_refuses_rule_set_without_required_decisions(tmp_path):
    d = folder(tmp_path, {"priority.yaml": "decision: priority\nrules: []\ndefault: P4\n",
                          "schedule.yaml": SCHEDULE})
    with pytest.raises(RuleSetErrors, match="must decide tier, region, queue"):
        Triage(rules=d, model=False)
