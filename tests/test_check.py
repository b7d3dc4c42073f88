"""`triage check`: planted faults in a copy of the shipped rules are found and named.

Each test copies the shipped rules, plants one fault, and requires `check` to exit 1
and name the planted row (file, line, rule id); the untouched copy passes with exit 0.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import RULES
from triage.cli import cli


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(RULES, d)
    return d


def run_check(folder: Path, *args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(cli, ["check", str(folder), "--json", "--no-model", *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, json.loads(res.stdout)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def append_row(path: Path, row: str) -> None:
    """Insert a row (YAML text, indented as a list item) just before the file's `default:`."""
    text = path.read_text()
    i = text.index("\ndefault:") + 1
    path.write_text(text[:i] + row + text[i:])


def errors(data: dict, code: str | None = None) -> list[dict]:
    return [f for f in data["findings"] if f["severity"] == "error" and (code is None or f["code"] == code)]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_shipped_rules_are_clean(rules):
    code, data = run_check(rules)
    assert code == 0, errors(data)
    assert data["ok"] is True and data["errors"] == 0 and data["warnings"] == 0


def test_shipped_rules_check_well_under_a_second():
    from triage.analysis import check_folder

    report = check_folder(RULES)
    assert report.ok
    assert report.stats["seconds"] < 0.5, report.stats


def test_duplicated_row_is_shadowed(rules):
    append_row(rules / "tier.yaml", "  - id: network-work-again\n    when: {category: network_change}\n    then: OpsEng\n")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert (f["code"], f["rule_id"]) == ("row-shadowed", "network-work-again")
    assert f["file"].endswith("tier.yaml") and f["line"] == line_of(rules / "tier.yaml", "network-work-again")
    assert "`network-work`" in f["message"] and f["example"]["category"] == "network_change"


def test_duplicated_row_with_the_same_id_is_a_duplicate_id(rules):
    append_row(rules / "priority.yaml", "  - id: outage\n    when: {category: service_down}\n    then: P2\n")
    code, data = run_check(rules)
    assert code == 1
    assert [(f["code"], f["rule_id"]) for f in errors(data)] == [("duplicate-id", "outage")]


def test_row_killed_jointly_by_two_earlier_rows(rules):
    # escalation >= 1 is covered by `escalated-once` (= 1) and `last-escalation` (>= 2)
    # together; neither alone covers it.
    append_row(rules / "tier.yaml", "  - id: any-escalation\n    when: {escalation_level: {\">=\": 1}}\n    then: NSS\n")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert (f["code"], f["rule_id"]) == ("row-covered-jointly", "any-escalation")
    assert "`last-escalation`" in f["message"] and "`escalated-once`" in f["message"]


def test_row_killed_jointly_in_the_middle_of_a_file(rules):
    # service_down is taken by the outage rows, hardware_fault by row #6: a row for both,
    # placed before the default, can never fire.
    edit(rules / "priority.yaml", "  - id: network-and-service-work",
         "  - id: outage-or-hardware\n    when: {category: [service_down, hardware_fault]}\n    then: P2\n"
         "  - id: network-and-service-work")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert (f["code"], f["rule_id"]) == ("row-covered-jointly", "outage-or-hardware")


def test_removed_default_leaves_a_gap(rules):
    edit(rules / "tier.yaml", 'default: CSS  # "#6 otherwise"\n', "")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["code"] == "gap" and f["file"].endswith("tier.yaml") and "default" in f["message"]
    # the example is an input that really reaches no row
    assert f["example"]["escalation_level"] == 0 and f["example_ticket"]["id"] == "example"


def test_removed_default_of_region_leaves_a_gap_for_p3_without_home_region(rules):
    edit(rules / "region.yaml", 'default: "{created_shift_region}"  # "#3 otherwise the region on shift at creation"\n', "")
    code, data = run_check(rules)
    [f] = errors(data)
    assert code == 1 and f["code"] == "gap"
    assert f["example"]["priority"] in ("P3", "P4") and f["example"]["home_region"] is None


def test_misspelled_category_names_the_row(rules):
    edit(rules / "tier.yaml", "when: {category: network_change}", "when: {category: network_chnage}")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert (f["code"], f["rule_id"], f["line"]) == ("value-outside-domain", "network-work",
                                                     line_of(rules / "tier.yaml", "network_chnage"))
    assert "did you mean 'network_change'" in f["message"]


def test_unknown_field_names_the_row(rules):
    edit(rules / "priority.yaml", "when: {category: security, reported_severity: 1}",
         "when: {category: security, reported_severty: 1}")
    code, data = run_check(rules)
    [f] = errors(data)
    assert code == 1 and (f["code"], f["rule_id"]) == ("unknown-field", "critical-security")
    assert "did you mean 'reported_severity'" in f["message"]


def test_cycle_between_two_decisions(rules):
    edit(rules / "tier.yaml", '    when: {escalation_level: {">=": 2}}', '    when: {escalation_level: {">=": 2}, region: EMEA}')
    edit(rules / "region.yaml", "when: {priority: [P1, P2]}", "when: {priority: [P1, P2], tier: NSS}")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["code"] == "decision-cycle" and f["rule_id"] in ("last-escalation", "urgent-on-shift")
    assert "region -> tier" in f["message"] or "tier -> region" in f["message"]


def test_unique_overlap_with_different_outcomes(rules):
    edit(rules / "third_party.yaml", "hit_policy: first", "hit_policy: unique")
    edit(rules / "third_party.yaml", "when: {tier: NSS, category: hardware_fault}",
         "when: {tier: NSS, category: [hardware_fault, cloud_connectivity]}")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert (f["code"], f["rule_id"]) == ("unique-overlap", "datacentre-operator")
    assert "`cloud-provider`" in f["message"]
    assert f["example"] == {"tier": "NSS", "category": "cloud_connectivity", "cloud_provider": f["example"]["cloud_provider"]}
    assert f["example"]["cloud_provider"] != "none"


def test_unique_without_overlap_is_clean(rules):
    edit(rules / "third_party.yaml", "hit_policy: first", "hit_policy: unique")
    code, data = run_check(rules)
    assert code == 0, errors(data)


def test_broken_yaml(rules):
    edit(rules / "queue.yaml", "    when:\n", "    when: {\n")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["code"] == "yaml-error" and f["file"].endswith("queue.yaml") and f["line"]


@pytest.mark.parametrize("old, new, code_, rule_id", [
    ('then: "partner:{partner_id}"', 'then: "partner:{partner id}"', "bad-template", "partner-first-level"),
    ('then: "partner:{partner_id}"', 'then: "partner:{partner_idd}"', "bad-template", "partner-first-level"),
    ("    when:\n      partner_managed", "    colour: red\n    when:\n      partner_managed", "unknown-key",
     "partner-first-level"),
    ('then: "partner:{partner_id}"', "then: [partner]", "schema-error", "partner-first-level"),
    ("affected_customers: {\"<\": 2}", "affected_customers: {\"<\": two}", "value-outside-domain", "partner-first-level"),
])
def test_loader_errors_are_findings(rules, old, new, code_, rule_id):
    edit(rules / "queue.yaml", old, new)
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert (f["code"], f["rule_id"]) == (code_, rule_id), f
    assert f["file"].endswith("queue.yaml") and f["line"]


def test_unsatisfiable_row_and_value_outside_the_domain(rules):
    append_row(rules / "priority.yaml", "  - id: severity-zero\n    when: {reported_severity: 0}\n    then: P1\n"
                                        "  - id: never\n    when: {affected_customers: {\">=\": 5, \"<\": 3}}\n    then: P1\n")
    code, data = run_check(rules)
    assert code == 1
    found = {(f["code"], f["rule_id"]) for f in errors(data)}
    assert found == {("row-unsatisfiable", "severity-zero"), ("value-outside-domain", "severity-zero"),
                     ("row-unsatisfiable", "never")}


def test_priority_hit_policy_reports_an_outranked_row(rules):
    (rules / "urgency.yaml").write_text(
        "decision: urgency\nhit_policy: priority\nvalues: [high, low]\nrules:\n"
        "  - {id: low-for-outages, when: {category: service_down}, then: low}\n"
        "  - {id: high-for-outages, when: {category: [service_down, security]}, then: high}\n"
        "default: low\n")
    code, data = run_check(rules)
    [f] = errors(data)
    assert code == 1 and (f["code"], f["rule_id"]) == ("row-outranked", "low-for-outages")
    assert "`high-for-outages`" in f["message"]


def test_collect_reports_only_rows_that_can_never_match(rules):
    (rules / "tags.yaml").write_text(
        "decision: tags\nhit_policy: collect\nrules:\n"
        "  - {id: outage, when: {category: service_down}, then: outage}\n"
        "  - {id: many, when: {affected_customers: {'>=': 2}}, then: many}\n"
        "  - {id: none, when: {affected_customers: {'<': 1}}, then: none}\n"
        "default: null\n")
    code, data = run_check(rules)
    assert code == 1
    assert [(f["code"], f["rule_id"]) for f in errors(data)] == [("row-unsatisfiable", "none")]


def test_unanalysable_rows_are_reported_and_treated_conservatively(rules):
    edit(rules / "tier.yaml", "  - id: escalated-once",
         "  - id: frankfurt\n    unanalysable: true\n    when: {location: {matches: 'FRA.*'}}\n    then: NSS\n"
         "  - id: escalated-once")
    code, data = run_check(rules)
    assert code == 0, errors(data)
    [f] = [f for f in data["findings"] if f["code"] == "unanalysable"]
    assert f["severity"] == "info" and f["rule_id"] == "frankfurt"
    # without a default, what falls past a `matches` row is only a possible gap (a warning)
    edit(rules / "tier.yaml", 'default: CSS  # "#6 otherwise"\n', "")
    code, data = run_check(rules)
    assert code == 1 and [f["code"] for f in errors(data)] == ["gap"]


def test_row_after_an_unanalysable_row_is_not_called_dead(rules):
    edit(rules / "tier.yaml", 'default: CSS  # "#6 otherwise"\n',
         "  - id: frankfurt\n    unanalysable: true\n    when: {location: {matches: 'FRA.*'}}\n    then: NSS\n"
         "  - id: rest\n    then: CSS\n")
    code, data = run_check(rules)
    assert code == 0, errors(data)
    assert [f["code"] for f in data["findings"] if f["severity"] == "warning"] == []


def test_default_never_used_is_a_warning(rules):
    append_row(rules / "queue.yaml", "  - id: everything-else\n    then: \"{tier}-{region}\"\n")
    code, data = run_check(rules)
    assert code == 0
    [f] = [f for f in data["findings"] if f["code"] == "default-unused"]
    assert f["severity"] == "warning" and f["rule_id"] == "default"


def test_engine_limits_are_warned_before_they_are_reached(rules):
    # 450 distinct tests below one node: near the 512 that hang durable_rules' create_ruleset.
    rows = "".join(f"  - {{id: c{i}, when: {{extra.code: 'C{i}'}}, then: x}}\n" for i in range(450))
    (rules / "codes.yaml").write_text(f"decision: codes\nrules:\n{rows}default: y\n")
    # 60 thresholds on one field: an input of 59 or more matches all of them (limit 64).
    rows = "".join(f"  - {{id: t{i}, when: {{extra.size: {{'>=': {i}}}}}, then: x}}\n" for i in range(60))
    (rules / "sizes.yaml").write_text(f"decision: sizes\nhit_policy: collect\nrules:\n{rows}default: y\n")
    code, data = run_check(rules)
    assert code == 0, errors(data)
    by_code = {(f["code"], f["file"].rsplit("/", 1)[-1]): f for f in data["findings"]}
    conditions = by_code[("limit-conditions", "codes.yaml")]
    assert conditions["severity"] == "warning" and "450" in conditions["message"]
    matches = by_code[("limit-matches", "sizes.yaml")]
    assert matches["severity"] == "warning" and "60" in matches["message"]


def test_engine_limits_beyond_are_errors(rules):
    rows = "".join(f"  - {{id: t{i}, when: {{extra.size: {{'>=': {i}}}}}, then: x}}\n" for i in range(70))
    (rules / "sizes.yaml").write_text(f"decision: sizes\nhit_policy: collect\nrules:\n{rows}default: y\n")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["code"] == "limit-matches" and "70" in f["message"] and f["example"]["extra.size"] >= 69


def test_human_output_one_line_per_finding_and_a_count(rules):
    append_row(rules / "tier.yaml", "  - id: any-escalation\n    when: {escalation_level: {\">=\": 1}}\n    then: NSS\n")
    res = CliRunner().invoke(cli, ["check", str(rules), "--no-model"])
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    line = line_of(rules / "tier.yaml", "any-escalation")
    assert lines[0].startswith(f"{rules / 'tier.yaml'}:{line} [any-escalation] error: can never fire")
    assert lines[1].startswith("    example: escalation_level=1")
    assert lines[-1].startswith(f"{rules}: 1 error, 0 warnings")


def test_missing_folder_exits_2(tmp_path):
    res = CliRunner().invoke(cli, ["check", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such folder" in res.stderr
    (tmp_path / "file.yaml").write_text("x: 1\n")
    assert CliRunner().invoke(cli, ["check", str(tmp_path / "file.yaml")]).exit_code == 2


def test_category_checks_against_the_model_labels(rules):
    from triage.analysis import check_folder

    labels = ["service_down", "billing", "weather"]
    report = check_folder(rules, labels=labels, model_where="m")
    got = {(f.code, f.severity): f for f in report.findings}
    assert got[("category-undeclared", "error")].message.count("'weather'") == 1
    never = {f.message.split("'")[1]: f for f in report.findings if f.code == "category-never-emitted"}
    assert never["network_change"].rule_id == "network-and-service-work"  # its first mention
    assert never["network_change"].severity == "warning" and "service_down" not in never
    # billing is mentioned by no rule: its tickets take every default
    assert any(f.code == "category-unhandled" and "'billing'" in f.message for f in report.findings)
    assert not any("'unknown'" in f.message for f in report.findings)


def test_no_model_is_a_note():
    from triage.analysis import check_folder

    report = check_folder(RULES)
    assert [f.code for f in report.findings] == ["no-model"]


def test_check_from_a_subprocess_never_shows_a_traceback(rules):
    (rules / "tier.yaml").write_text("decision: tier\nrules: [\n")
    proc = subprocess.run([sys.executable, "-m", "triage", "check", str(rules), "--no-model"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "tier.yaml" in proc.stdout and "yaml-error" not in proc.stdout  # codes only in JSON


def test_too_many_conditions_at_one_level_is_an_error(rules):
    rows = "".join(f"  - {{id: c{i}, when: {{extra.code: 'C{i}'}}, then: x}}\n" for i in range(520))
    (rules / "codes.yaml").write_text(f"decision: codes\nrules:\n{rows}default: y\n")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["code"] == "limit-conditions" and "520" in f["message"] and "hangs" in f["message"]


def test_many_inputs_near_the_property_limit(rules):
    flags = ", ".join(f"extra.f{i}: 1" for i in range(210))
    (rules / "wide.yaml").write_text(f"decision: wide\nrules:\n  - id: all-flags\n    when: {{{flags}}}\n"
                                     "    then: x\ndefault: y\n")
    code, data = run_check(rules)
    assert code == 0, errors(data)
    [f] = [f for f in data["findings"] if f["code"] == "limit-properties"]
    assert f["severity"] == "warning" and "213" in f["message"]


def test_an_any_whose_alternatives_all_hold_counts_each_of_them(rules):
    # durable_rules fires once per alternative that holds: 70 of them fail the engine.
    alternatives = ", ".join(f"{{extra.f{i}: 1}}" for i in range(70))
    (rules / "wide.yaml").write_text(f"decision: wide\nrules:\n  - id: any-flag\n    when: {{any: [{alternatives}]}}\n"
                                     "    then: x\ndefault: y\n")
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["code"] == "limit-matches" and "is 70" in f["message"]


def test_shipped_rules_against_the_shipped_model_have_no_errors():
    """With the default model, only warnings may remain (e.g. `billing`, which no rule names: the defaults take it)."""
    from triage.defaults import default_model_dir

    if default_model_dir() is None:
        pytest.skip("no default model built")
    res = CliRunner().invoke(cli, ["check", str(RULES), "--json"])
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["errors"] == 0, errors(data)
    assert not any(f["code"] in ("model-unreadable", "no-model") for f in data["findings"])


def test_correlation_file_is_checked(rules):
    text = (rules / "correlation.yaml").read_text()
    (rules / "correlation.yaml").write_text(text.replace("window: 15m", "window: 15 minutes"))
    code, data = run_check(rules)
    assert code == 1
    [f] = errors(data)
    assert f["file"].endswith("correlation.yaml") and f["line"] and "window" in f["message"]


@pytest.mark.parametrize("old, new, code", [
    ("{country: US}", "{country: UX}", "schedule-unknown-country"),
    ("time_zone: America/New_York", "time_zone: America/Gotham", "schedule-unknown-time-zone"),
    ('AMER: {start: "15:00", end: "23:00"}', 'AMER: {start: "14:00", end: "23:00"}', "schedule-overlapping-shifts"),
])
def test_schedule_problems_are_findings_with_file_and_line(rules, old, new, code):
    path = rules / "schedule.yaml"
    edit(path, old, new)
    exit_code, data = run_check(rules)
    assert exit_code == 1
    [f] = errors(data, code)
    assert f["file"] == str(path) and f["line"] == line_of(path, new)


def test_a_priority_without_a_resolution_target_is_found(rules):
    path = rules / "schedule.yaml"
    edit(path, "  P4: {within: 40h, clock: business}", "")
    exit_code, data = run_check(rules)
    assert exit_code == 1
    assert any("'P4'" in f["message"] and "resolution target" in f["message"]
               for f in errors(data, "schedule-missing-target"))
