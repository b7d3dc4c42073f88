"""`triage explain`: the deciding row first, then why each earlier row did not match."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from conftest import RULES
from triage.cli import cli

TICKET = {"id": "T-1", "category": "service_down", "created_at": "2026-11-27T22:59:00Z",
          "customer": {"tier": "enterprise"}}


def explain(ticket, *args: str):
    return CliRunner().invoke(cli, ["explain", "--rules", str(RULES), *args], input=json.dumps(ticket))


def test_human_output_deciding_row_first_then_why_not():
    res = explain(TICKET)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "ticket T-1: category service_down (category given)"
    i = lines.index("priority = P1")
    assert lines[i + 1].endswith("priority.yaml:11 [outage-multi-or-enterprise] -> P1")
    assert lines[i + 1].lstrip().startswith("decided by")
    assert lines[i + 2].strip() == "why not the earlier rows:"
    assert lines[i + 3].endswith("priority.yaml:7 [mass-impact] affected_customers >= 5: actual 1")
    j = lines.index("tier = CSS")
    assert lines[j + 1].endswith("tier.yaml:29 [default] -> CSS")
    why = lines[j + 3:j + 8]
    assert why[0].endswith("[last-escalation] escalation_level >= 2: actual 0")
    assert why[3].endswith("[multi-customer-incident] affected_customers >= 2: actual 1")
    assert why[4].endswith("[network-specialist] category in [bgp_routing, cloud_connectivity, hardware_fault, "
                           "security]: actual service_down")
    assert any(ln.endswith('-> "{tier}-{region}" = CSS-AMER') for ln in lines)
    assert lines[-1] == ("schedule: on shift AMER; hand-over at 2026-11-27T23:00:00Z to APAC; "
                         "response due 2026-11-27T23:14:00Z (P1: within 15m, 24/7); "
                         "resolution due 2026-11-28T02:59:00Z")


def test_decisions_are_explained_in_evaluation_order():
    from triage.facts import load_rules

    res = explain(TICKET, "--json")
    data = json.loads(res.stdout)
    assert [d["decision"] for d in data["decisions"]] == list(load_rules(RULES).decision_names)


def test_json_why_not_names_every_earlier_row_with_its_failed_condition():
    from triage.rules.interpreter import holds
    from triage.facts import load_rules

    t = dict(TICKET, category="maintenance", reported_severity=3, customer={"partner_id": "P-9"})
    data = json.loads(explain(t, "--json").stdout)
    by = {d["decision"]: d for d in data["decisions"]}
    p = by["priority"]
    assert p["value"] == "P4" and p["decided_by"] == [
        {"rule_id": "default", "file": p["file"], "line": 53, "then": "P4", "value": "P4"}]
    rs = load_rules(RULES)
    assert [n["rule_id"] for n in p["not_matched"]] == [r.id for r in rs.decision("priority").rows]
    sev = next(n for n in p["not_matched"] if n["rule_id"] == "maintenance-severe")
    assert sev["failed"] == "reported_severity <= 2" and sev["actual"] == {"reported_severity": 3}
    assert by["queue"]["value"] == "partner:P-9" and by["queue"]["not_matched"] == []
    assert by["queue"]["decided_by"][0]["then"] == '"partner:{partner_id}"'
    # every reported "why not" really fails on the ticket's facts
    facts = {"category": "maintenance", "reported_severity": 3, "affected_customers": 1, "customer_tier": "standard"}
    for n in p["not_matched"]:
        row = next(r for r in rs.decision("priority").rows if r.id == n["rule_id"])
        assert not holds(row.cond, facts)
    assert data["category"] == {"value": "maintenance", "source": "given", "confidence": None,
                                "needs_review": False, "threshold": None, "top": [], "language": "other"}
    assert data["decision"]["priority"] == "P4" and data["schedule"]["handoff"] is None


def test_model_top_three_and_threshold():
    from triage import Triage
    from triage.explain import render_text

    class Stub:
        version = "stub-1"
        threshold = 0.5
        labels = ["service_down", "degraded_performance", "bgp_routing", "billing"]

        def classify(self, texts):
            top = (("service_down", 0.42), ("degraded_performance", 0.31), ("bgp_routing", 0.2), ("billing", 0.07))
            return [SimpleNamespace(category="unknown", confidence=0.42, top=top) for _ in texts]

    t = Triage(rules=RULES, model=Stub())
    e = t.explain({"id": "T-9", "subject": "alles kaputt", "created_at": "2026-11-23T09:00:00Z"})
    assert e["category"]["threshold"] == 0.5 and e["category"]["needs_review"] is True
    assert [x["category"] for x in e["category"]["top"]] == ["service_down", "degraded_performance", "bgp_routing"]
    text = render_text(e)
    assert "ticket T-9: category unknown (model, confidence 0.42, threshold 0.50)  needs review" in text
    assert "  top: service_down 0.42, degraded_performance 0.31, bgp_routing 0.20" in text
    assert "[unclassified] -> P3" in text
    t.close()


def test_other_hit_policies_show_outranked_and_non_matching_rows(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "urgency.yaml").write_text(
        "decision: urgency\nhit_policy: priority\nvalues: [high, low]\nrules:\n"
        "  - {id: low-for-outages, when: {category: [service_down, security]}, then: low}\n"
        "  - {id: high-for-enterprise, when: {customer_tier: enterprise}, then: high}\n"
        "  - {id: high-for-many, when: {affected_customers: {'>=': 10}}, then: high}\n"
        "default: low\n")
    res = CliRunner().invoke(cli, ["explain", "--rules", str(rules)], input=json.dumps(TICKET))
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    i = lines.index("urgency = high  (hit policy priority)")
    assert lines[i + 1].endswith("[high-for-enterprise] -> high")
    assert lines[i + 2].strip().startswith("outranked") and lines[i + 2].endswith("[low-for-outages] -> low")
    assert lines[i + 3].strip() == "why not the other rows:"
    assert lines[i + 4].endswith("[high-for-many] affected_customers >= 10: actual 1")


@pytest.mark.parametrize("stdin, words", [
    ('{"id": "T", "category": "servce_down", "created_at": "2026-11-23T09:00:00Z"}', "did you mean 'service_down'"),
    ('{"id": "T", "category": "billing", "created_at": "2026-11-23"}', "created_at"),
    ('{"id": "a", "category": "billing", "created_at": "2026-11-23T09:00:00Z"}\n{"id": "b"}\n', "one ticket"),
    ("[1, 2]", "JSON object"),
    ("not json", "invalid JSON"),
    ("", "no ticket"),
])
def test_invalid_ticket_exits_2_with_the_reason(stdin, words):
    res = CliRunner().invoke(cli, ["explain", "--rules", str(RULES)], input=stdin)
    assert res.exit_code == 2 and words in res.stderr, (res.exit_code, res.output)
    res = CliRunner().invoke(cli, ["explain", "--rules", str(RULES), "--json"], input=stdin)
    assert res.exit_code == 2 and json.loads(res.stderr)["error"] == "invalid ticket"


def test_explain_reads_a_file(tmp_path: Path):
    f = tmp_path / "t.json"
    f.write_text(json.dumps(TICKET))
    res = CliRunner().invoke(cli, ["explain", str(f), "--rules", str(RULES), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["ticket_id"] == "T-1"
    res = CliRunner().invoke(cli, ["explain", str(tmp_path / "missing.json")])
    assert res.exit_code == 2


def test_explain_now_shows_the_clocks_and_the_ladders_step(tmp_path):
    from triage import Triage

    case = {"id": "INC-7", "category": "service_down", "customer": {"tier": "enterprise"},
            "created_at": "2026-11-25T14:40:00Z", "status": "open"}
    e = Triage(rules=RULES, model=False).explain(case, "2026-11-25T16:40:00Z")
    esc = next(d for d in e["decisions"] if d["decision"] == "escalation")
    assert esc["value"] == "NSS" and esc["decided_by"][0]["rule_id"] == "css-halfway"
    assert e["schedule"]["case"]["sla"]["resolution"]["used_pct"] == 50
    assert e["schedule"]["case"]["escalated_to"] == "NSS" and e["decision"]["queue"] == "NSS-AMER"
    f = tmp_path / "case.json"
    f.write_text(json.dumps(case))
    res = CliRunner().invoke(cli, ["explain", str(f), "--rules", str(RULES), "--now", "2026-11-25T16:40:00Z"])
    assert res.exit_code == 0, res.output
    assert "case at 2026-11-25T16:40:00Z: open, 120 minutes old; response 800% (breached), resolution 50% " \
           "(running)" in res.stdout
    bad = CliRunner().invoke(cli, ["explain", str(f), "--rules", str(RULES), "--now", "yesterday"])
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.output


def test_language_is_a_fact_a_decision_field_and_shown_by_explain(tmp_path):
    from triage import Triage

    de = {"id": "L-1", "created_at": "2026-11-25T08:00:00Z", "category": "billing",
          "subject": "Rechnung falsch", "body": "Guten Tag, unsere Rechnung für November ist leider doppelt."}
    en = {**de, "id": "L-2", "subject": "Wrong invoice", "body": "Hello, our November invoice was charged twice."}
    plain = Triage(rules=RULES, model=False)
    # no rule reading it: not identified (it costs more than routing), with or without a model
    assert plain.route(de).language is None and plain.trace(de).decision == plain.route(de)
    assert plain.explain(de)["category"]["language"] == "de"  # explain always shows it
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    (rules / "desk.yaml").write_text("decision: desk\nhit_policy: first\nrules:\n"
                                     "  - {id: german, when: {language: de}, then: DACH-desk}\ndefault: global-desk\n")
    reading = Triage(rules=rules, model=False)
    assert [(d.language, d.outputs["desk"]) for d in reading.route_many([de, en])] == \
        [("de", "DACH-desk"), ("en", "global-desk")]
