"""Each contract defined once: a decision of the user's own, reading a ticket field the
model gained (`service.carrier`), reaches every output without being named anywhere
else: JSONL, CSV and Parquet columns, the summary, the table and the diff."""
from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from triage.batch.diff import diff
from triage.batch.runner import Job, retriage
from triage.decision import columns, flatten
from triage.facts import STANDARD_DOMAINS, TICKET_FACTS
from triage.fastticket import read_fast
from triage.router import Triage

RULES = Path(__file__).resolve().parents[1] / "rules"

SERVICE_CLASS = """\
decision: service_class
hit_policy: first
values: [backbone, gold, standard]
rules:
  - id: on-a-backbone
    when: {not: {carrier: null}}
    then: backbone
  - id: enterprise
    when: {customer_tier: enterprise}
    then: gold
default: standard
"""

WATCHERS = """\
decision: watchers
hit_policy: collect
aggregate: list
rules:
  - id: carrier-desk
    when: {not: {carrier: null}}
    then: "carrier:{carrier}"
  - id: big-accounts
    when: {customer_tier: enterprise}
    then: key-accounts
"""


@pytest.fixture(scope="module")
def own_rules(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(RULES, d, ignore=shutil.ignore_patterns("tests"))
    (d / "service_class.yaml").write_text(SERVICE_CLASS)
    (d / "watchers.yaml").write_text(WATCHERS)
    return d


def _tickets(n: int) -> list[dict]:
    rnd = random.Random(7)
    cats = ["service_down", "degraded_performance", "bgp_routing", "billing", "maintenance"]
    return [{"id": f"T-{i}", "created_at": f"2026-11-{23 + i % 5:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
             "category": rnd.choice(cats),
             "customer": {"tier": rnd.choice(["standard", "premium", "enterprise"])},
             "service": {"carrier": rnd.choice([None, "zayo", "lumen", ""])},
             "affected_customers": rnd.choice([1, 1, 2, 6])} for i in range(n)]


def test_the_new_ticket_field_is_a_fact_with_a_domain_and_a_fast_check():
    assert [f.path for f in TICKET_FACTS if f.name == "carrier"] == [("service", "carrier")]
    assert STANDARD_DOMAINS["carrier"].nullable and STANDARD_DOMAINS["carrier"].type == "string"
    base = {"id": "T", "created_at": "2026-11-25T09:30:00Z", "category": "billing"}
    assert read_fast({**base, "service": {"carrier": 7}}) is None  # not a string: pydantic words it
    assert read_fast({**base, "service": {"carrier": "zayo"}}) is not None


def test_own_decisions_reach_every_output_format(own_rules, tmp_path):
    tickets = _tickets(3000)
    src = tmp_path / "backlog.jsonl"
    lines = [orjson.dumps(t) for t in tickets]
    lines[10:10] = [b"{not json", orjson.dumps({"id": "bad", "created_at": "yesterday", "category": "billing"})]
    src.write_bytes(b"\n".join(lines) + b"\n")

    got = {}
    for fmt in ("jsonl", "csv", "parquet"):
        out, rejected = tmp_path / f"out.{fmt}", tmp_path / f"rejected-{fmt}.txt"
        summary = retriage(Job(src, out, rejected, rules=str(own_rules), model=False), log=lambda m: None)
        assert summary.decided == 3000 and summary.errors == 2
        errors = [orjson.loads(x) for x in rejected.read_bytes().splitlines()]  # JSON Lines whatever the name
        assert [e["line"] for e in errors] == [11, 12]
        assert "outputs.service_class" in summary.counts and "outputs.watchers" in summary.counts
        if fmt == "jsonl":
            rows = [flatten(orjson.loads(x)) for x in out.read_bytes().splitlines()]
        elif fmt == "csv":
            with open(out, newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            rows = pq.read_table(out).to_pylist()
        got[fmt] = {r["ticket_id"]: (r["outputs.service_class"], r["outputs.watchers"], r["third_party"] or None)
                    for r in rows}
    assert got["jsonl"] == got["csv"] == got["parquet"]
    with Triage(own_rules, model=False) as tr:
        want = {d.ticket_id: (d.outputs["service_class"], orjson.dumps(d.outputs["watchers"]).decode(),
                              d.third_party) for d in tr.route_many(tickets)}
    assert got["jsonl"] == want
    assert {v[0] for v in want.values()} == {"backbone", "gold", "standard"}
    assert sum(1 for t in tickets if t["service"]["carrier"] == "") > 0  # blank reads as no carrier
    assert all(v[0] != "backbone" for t in tickets if not t["service"]["carrier"]
               for v in [want[t["id"]]])


def test_columns_table_and_diff_show_own_decisions(own_rules, tmp_path, capsys):
    from triage.cli.table import print_decisions

    with Triage(own_rules, model=False) as new, Triage(RULES, model=False) as old:
        assert columns(new.own_decisions)[-2:] == ["outputs.service_class", "outputs.watchers"]
        decisions = new.route_dicts(_tickets(5))
        print_decisions(decisions, new)
        printed = capsys.readouterr().out
        assert "service_class" in printed and "watchers" in printed
        src = tmp_path / "b.jsonl"
        src.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in _tickets(200)))
        report = diff(src, old, new).to_dict()
    changed = report["fields"]["outputs.service_class"]
    assert changed["changed"] == 200  # absent before, decided after
    assert {t["to"] for t in changed["transitions"]} == {"backbone", "gold", "standard"}


def test_a_hole_in_the_rules_or_the_schedule_is_a_rule_set_error_naming_file_and_line(own_rules, tmp_path):
    from triage import RuleEvaluationError, RuleFileError, ScheduleError, TicketError

    rules = tmp_path / "rules"
    shutil.copytree(own_rules, rules)
    # region without a default: a P3 ticket without a home region reaches no row
    text = (rules / "region.yaml").read_text()
    (rules / "region.yaml").write_text(text[:text.index("default:")])
    # and a priority P5 the schedule has no target for
    prio = (rules / "priority.yaml").read_text()
    (rules / "priority.yaml").write_text(prio.replace("values: [P1, P2, P3, P4]", "values: [P1, P2, P3, P4, P5]")
                                         .replace("default: P4", "default: P5"))
    base = {"id": "T", "created_at": "2026-11-25T09:30:00Z"}
    with Triage(rules, model=False) as tr:
        with pytest.raises(RuleEvaluationError) as hole:
            tr.route({**base, "category": "provisioning"})
        assert not isinstance(hole.value, TicketError) and hole.value.file.endswith("region.yaml")
        assert hole.value.line and hole.value.code == "rules.no-answer"
        with pytest.raises(ScheduleError) as target:
            tr.route({**base, "category": "billing", "customer": {"home_region": "EMEA"}})
        assert isinstance(target.value, RuleFileError) and target.value.file.endswith("schedule.yaml")
        assert target.value.line and target.value.code == "schedule.no-target"
        out = tr.route_dicts([{**base, "category": "provisioning"}])  # in a batch: the record's error
        assert out[0].to_dict()["code"] == "rules.no-answer"


def test_importing_triage_changes_no_process_wide_setting():
    import subprocess
    import sys

    code = ("import csv, gc; limit = csv.field_size_limit(); frozen = gc.get_freeze_count(); "
            "import triage, triage.router, triage.batch.runner, triage.batch.records; "
            "assert csv.field_size_limit() == limit and gc.get_freeze_count() == frozen")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_retriage_leaves_its_callers_job_as_it_was(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in _tickets(20)))
    job = Job(src, tmp_path / "out.jsonl", tmp_path / "rejected.txt", rules=str(RULES), model=False)
    before = repr(job)
    retriage(job, log=lambda m: None)
    assert repr(job) == before
