"""Rule tests (`*.test.yaml`): the runner, `triage test`, coverage, and the pytest plugin."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import policy_reference
from conftest import RULES
from triage.cli import cli
from triage.ruletests.runner import find_test_files, load_test_file, merge

SHIPPED_TESTS = find_test_files(RULES)


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(RULES, d)
    return d


def run_test(*args: str):
    return CliRunner().invoke(cli, ["test", *args])


def test_shipped_rule_tests_pass_and_cover_every_row():
    res = run_test(str(RULES), "--coverage", "--fail-under", "100")
    assert res.exit_code == 0, res.stdout
    lines = res.stdout.splitlines()
    cases = [ln for ln in lines if ln.endswith("ms)")]
    assert cases and all(": PASS (" in ln for ln in cases)
    assert f"{len(cases)} passed, 0 failed" in lines
    assert any("rows and defaults (100.0%)" in ln for ln in lines)


def test_shipped_tests_cover_the_shift_boundaries():
    times = {c.case.ticket.get("created_at", c.defaults.get("created_at", ""))[11:16]
             for f in SHIPPED_TESTS for c in load_test_file(f) if c.case.ticket is not None}
    assert {"06:59", "07:00", "14:59", "15:00", "22:59", "23:00"} <= times


def _ticket_cases():
    for f in SHIPPED_TESTS:
        for c in load_test_file(f):
            if c.case.ticket is not None:
                yield pytest.param(c, id=f"{f.name}:{c.name}")


@pytest.mark.parametrize("case", list(_ticket_cases()))
def test_expectations_agree_with_the_independent_policy_implementation(case):
    """The hand-written expectations are acceptance truth: hold them to tests/policy_reference.py too."""
    ticket = merge(case.defaults, case.case.ticket)
    ticket.setdefault("created_at", "2026-11-23T09:00:00Z")
    ref = policy_reference.decide(ticket)
    for key, expected in case.case.expect.given().items():
        if key not in ref:
            continue
        got = ref[key]
        if key == "response_due":
            got = got.strftime("%Y-%m-%dT%H:%M:%SZ")
        if key == "handoff" and got is not None:
            got = {"at": got["at"].strftime("%Y-%m-%dT%H:%M:%SZ"), "to": got["to"]}
        assert expected == got, f"{key}: the test expects {expected}, the reference policy gives {got}"


def test_failing_case_prints_fail_with_expected_and_actual(rules):
    path = rules / "tests" / "tier.test.yaml"
    path.write_text(path.read_text().replace("expect: {tier: OpsEng, queue: OpsEng-EMEA}",
                                             "expect: {tier: NSS, queue: OpsEng-EMEA}", 1))
    res = run_test(str(rules))
    assert res.exit_code == 1
    out = res.stdout
    assert "#1 escalated twice goes to OpsEng: FAIL" in out
    assert "    tier: expected NSS, got OpsEng (decided by tier/last-escalation)" in out
    assert "1 failed" in out.splitlines()[-1]


def test_decided_by_is_checked(rules):
    path = rules / "tests" / "tier.test.yaml"
    path.write_text(path.read_text().replace("decided_by: {tier: last-escalation}", "decided_by: {tier: network-work}", 1))
    res = run_test(str(rules))
    assert res.exit_code == 1
    assert "tier: expected to be decided by tier/network-work, was decided by tier/last-escalation" in res.stdout


def test_uncovered_rows_are_listed_and_fail_under(rules):
    (rules / "tests" / "third_party.test.yaml").unlink()
    res = run_test(str(rules), "--coverage")
    assert res.exit_code == 0  # coverage alone does not fail
    assert "[cloud-provider] not reached by any case" in res.stdout
    assert "third_party.yaml:6 [cloud-provider]" in res.stdout
    res = run_test(str(rules), "--fail-under", "100")
    assert res.exit_code == 1 and "below --fail-under 100%" in res.stdout


def test_a_single_file_and_the_rules_option(rules, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(rules / "tests" / "queue.test.yaml", elsewhere / "q.test.yaml")
    assert run_test(str(elsewhere / "q.test.yaml")).exit_code == 1  # no rule folder above it
    res = run_test(str(elsewhere / "q.test.yaml"), "--rules", str(rules))
    assert res.exit_code == 0 and "5 passed, 0 failed" in res.stdout


def test_facts_cases_and_their_errors(rules):
    (rules / "tests" / "facts.test.yaml").write_text(yaml.safe_dump({"cases": [
        {"name": "ok", "facts": {"tier": "NSS", "category": "hardware_fault"}, "expect": {"third_party": "datacentre-operator"}},
        {"name": "typo", "facts": {"catgory": "billing"}, "expect": {"priority": "P4"}},
        {"name": "outside", "facts": {"category": "weather"}, "expect": {"priority": "P4"}},
        {"name": "schedule", "facts": {"category": "billing"}, "expect": {"response_due": "2026-11-23T10:00:00Z"}},
    ]}))
    res = run_test(str(rules / "tests" / "facts.test.yaml"))
    out = res.stdout
    assert res.exit_code == 1
    assert "ok: PASS" in out
    assert "unknown fact 'catgory'; did you mean 'category'?" in out
    assert "category: 'weather' is outside its domain" in out
    assert "a facts case tests the rules only" in out
    assert "1 passed, 3 failed" in out


def test_invalid_test_files_are_reported_not_raised(rules):
    (rules / "tests" / "bad.test.yaml").write_text("cases:\n  - name: x\n    tickt: {category: billing}\n    expect: {}\n")
    (rules / "tests" / "broken.test.yaml").write_text("cases: [\n")
    (rules / "tests" / "dup.test.yaml").write_text(
        "cases:\n  - {name: a, ticket: {category: billing}, expect: {priority: P4}}\n"
        "  - {name: a, ticket: {category: billing}, expect: {priority: P4}}\n")
    res = run_test(str(rules))
    assert res.exit_code == 1
    out = res.stdout
    assert re.search(r"bad.test.yaml:\d+: \[x\] ERROR: .*unknown key 'tickt'", out), out
    assert "broken.test.yaml" in out and "invalid YAML" in out
    assert "dup.test.yaml:3: [a] ERROR: duplicate case name" in out


def test_a_ticket_case_without_category_is_an_error(rules):
    (rules / "tests" / "nocat.test.yaml").write_text(
        "cases:\n  - {name: text only, ticket: {subject: port down}, expect: {priority: P2}}\n")
    res = run_test(str(rules / "tests" / "nocat.test.yaml"))
    assert res.exit_code == 1 and "text only: ERROR" in res.stdout and "give the category" in res.stdout


def test_unquoted_yaml_timestamps_are_accepted(rules):
    (rules / "tests" / "ts.test.yaml").write_text(
        "cases:\n  - name: unquoted\n    ticket: {category: service_down, created_at: 2026-11-23T06:59:00Z}\n"
        "    expect: {region: APAC, response_due: 2026-11-23T07:59:00Z, handoff: {at: 2026-11-23T07:00:00Z, to: EMEA}}\n")
    res = run_test(str(rules / "tests" / "ts.test.yaml"))
    assert res.exit_code == 0, res.stdout


def test_broken_rules_exit_2_and_no_tests_exit_1(rules, tmp_path):
    (rules / "tier.yaml").write_text("decision: tier\nrules: [\n")
    res = run_test(str(rules))
    assert res.exit_code == 2 and "invalid YAML" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_test(str(empty)).exit_code == 1
    assert run_test(str(tmp_path / "missing")).exit_code == 2


def test_importing_the_pytest_plugin_is_cheap():
    code = ("import sys, triage.pytest_plugin; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('durable', 'sklearn', 'durable_rules_engine')]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_pytest_collects_rule_tests_with_readable_failures(rules):
    path = rules / "tests" / "tier.test.yaml"
    path.write_text(path.read_text().replace("expect: {tier: OpsEng, queue: OpsEng-EMEA}",
                                             "expect: {tier: NSS, queue: OpsEng-EMEA}", 1))
    proc = subprocess.run([sys.executable, "-m", "pytest", str(rules), "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(rules)], capture_output=True, text=True, timeout=300, cwd=rules)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    n_cases = sum(len(load_test_file(f)) for f in find_test_files(rules))
    assert f"1 failed, {n_cases - 1} passed" in out
    assert "tier.test.yaml::#1 escalated twice goes to OpsEng" in out
    assert "tier: expected NSS, got OpsEng (decided by tier/last-escalation)" in out
    assert "Traceback" not in out


def test_rule_tests_run_through_the_triage_object(rules):
    """A case routes exactly like `Triage.route` does."""
    from triage import Triage

    t = Triage(rules=rules, model=False)
    [case] = [c for c in load_test_file(rules / "tests" / "response.test.yaml") if "Friday evening" in c.name][:1]
    d = t.route(merge(case.defaults, {"id": "x", **case.case.ticket}))
    assert datetime.fromisoformat(d.response_due.replace("Z", "+00:00")).weekday() == 0  # Monday
    t.close()
