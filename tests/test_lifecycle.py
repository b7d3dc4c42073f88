"""The case lifecycle: `Triage.sweep` against an independent implementation of the policy,
a case swept at its creation routed exactly as `route` routes it, the worked example of
the README, and `triage sweep` / `triage handover` from the command line."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_reference import sweep as reference_sweep
from strategies import tickets

from conftest import RULES

# Days with something to get wrong: Thanksgiving (US), Christmas and New Year (all three
# regions), Good Friday 2027 (AU, DE), the daylight-saving changes of Berlin and New York,
# weekends (Brisbane has no DST: its shift still moves across local dates).
DAYS = [datetime(2026, 11, 23), datetime(2026, 11, 26), datetime(2026, 12, 24), datetime(2026, 12, 31),
        datetime(2027, 3, 26), datetime(2026, 3, 27), datetime(2026, 10, 23), datetime(2026, 10, 30),
        datetime(2026, 3, 6)]
STATUSES = ["new", "open", "pending_customer", "pending_third_party", "resolved", "closed"]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def cases(draw) -> tuple[dict, list[datetime]]:
    """A ticket with case state, and a few evaluation times after its creation."""
    t = draw(tickets())
    day = draw(st.sampled_from(DAYS)).replace(tzinfo=timezone.utc)
    created = day + timedelta(hours=draw(st.sampled_from([6, 7, 14, 15, 22, 23, 0, 3, 10, 18])),
                              minutes=draw(st.sampled_from([0, 40, 59])))
    t["created_at"] = _iso(created)
    offsets = sorted(draw(st.lists(st.integers(1, 14 * 24 * 60), min_size=0, max_size=3)))
    history, at = [], created
    for m in offsets:
        at = created + timedelta(minutes=m)
        history.append({"at": _iso(at), "status": draw(st.sampled_from(STATUSES))})
    if history and draw(st.booleans()):
        t["status_history"] = history
        t["status"] = history[-1]["status"]
    else:
        t["status"] = draw(st.sampled_from(["new", "open", "pending_customer"]))
    if draw(st.booleans()):
        t["first_response_at"] = _iso(created + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60))))
    nows = [created + timedelta(minutes=m) for m in draw(st.lists(
        st.one_of(st.integers(0, 10 * 24 * 60), st.sampled_from([0, 15, 20, 60, 120, 180, 240, 480])),
        min_size=1, max_size=3))]
    return t, nows


def _fields(d: dict) -> dict:
    return {k: d[k] for k in ("priority", "tier", "region", "queue", "third_party", "response_due",
                              "resolution_due", "sla", "escalated_to", "escalation_level")}


def _handoff(d: dict) -> dict | None:
    return None if d["handoff"] is None else {"at": d["handoff"]["at"], "to": d["handoff"]["to"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_sweep_agrees_with_the_policy_on_every_field(triage_given, case):
    ticket, nows = case
    for now in nows:
        got = triage_given.sweep(ticket, now).to_dict()
        want = reference_sweep(ticket, now)
        want_handoff = None if want["handoff"] is None else {"at": _iso(want["handoff"]["at"]),
                                                              "to": want["handoff"]["to"]}
        assert _fields(got) == _fields(want), (ticket, now)
        assert _handoff(got) == want_handoff
        assert got["as_of"] == _iso(now) and got["rules"]["escalation"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_a_case_swept_at_its_creation_is_routed_as_route_routes_it(triage_given, case):
    ticket, _ = case
    routed = triage_given.route(ticket).to_dict()
    swept = triage_given.sweep(ticket, ticket["created_at"]).to_dict()
    assert {k: swept[k] for k in routed} == routed


def test_the_worked_example(triage_given):
    """README: a P1 opened in EMEA at 14:40, handed to AMER at 15:00, escalated at 16:40."""
    case = {"id": "INC-7", "category": "service_down", "customer": {"tier": "enterprise"},
            "created_at": "2026-11-25T14:40:00Z", "status": "open"}
    at_open = triage_given.sweep(case, "2026-11-25T14:40:00Z")
    assert (at_open.priority, at_open.tier, at_open.queue) == ("P1", "CSS", "CSS-EMEA")
    assert at_open.handoff.to == "AMER" and at_open.handoff.at == "2026-11-25T15:00:00Z"
    assert at_open.resolution_due == "2026-11-25T18:40:00Z"
    handed = triage_given.handover([case], "2026-11-25T15:00:00Z").to_dict()
    assert (handed["from"], handed["to"]) == ("EMEA", "AMER")
    assert [(c["ticket_id"], c["queue"]) for c in handed["cases"]] == [("INC-7", "CSS-AMER")]
    before = triage_given.sweep(case, "2026-11-25T16:39:59Z")
    assert before.escalated_to is None and before.sla.resolution.used_pct == 49
    at = triage_given.sweep(case, "2026-11-25T16:40:00Z")
    assert (at.escalated_to, at.escalation_level, at.tier, at.queue) == ("NSS", 1, "NSS", "NSS-AMER")
    assert at.rules["escalation"] == ["escalation/css-halfway"]
    # one step per evaluation: the NSS P1 goes on to OpsEng at 75 %, once it is recorded at level 1
    later = triage_given.sweep({**case, "escalation_level": 1}, "2026-11-25T17:40:00Z")
    assert (later.escalated_to, later.tier, later.escalation_level) == ("OpsEng", "OpsEng", 2)


def test_a_closed_case_keeps_its_final_clocks_and_is_not_escalated(triage_given):
    case = {"id": "C", "category": "service_down", "affected_customers": 2, "created_at": "2026-11-25T08:00:00Z",
            "first_response_at": "2026-11-25T08:30:00Z",
            "status_history": [{"at": "2026-11-25T09:00:00Z", "status": "pending_customer"},
                               {"at": "2026-11-25T13:00:00Z", "status": "open"},
                               {"at": "2026-11-25T14:00:00Z", "status": "closed"}]}
    d = triage_given.sweep(case, "2026-11-27T00:00:00Z")
    assert d.escalated_to is None and d.sla.resolution.met and not d.sla.resolution.breached
    assert d.sla.response.met and d.sla.response.breached  # P1: 15 minutes, answered after 30
    assert d.sla.resolution.used_pct == 50  # 1 h before the pause + 1 h after it, of 4 h
    paused = triage_given.sweep(case, "2026-11-25T10:00:00Z")
    assert paused.sla.resolution.paused and paused.resolution_due is None


def test_a_bad_case_history_is_a_ticket_error_naming_the_field(triage_given):
    from triage import TicketError

    case = {"id": "C", "category": "billing", "created_at": "2026-11-25T08:00:00Z",
            "status_history": [{"at": "2026-11-25T09:00:00Z", "status": "open"},
                               {"at": "2026-11-25T08:30:00Z", "status": "closed"}]}
    with pytest.raises(TicketError) as e:
        triage_given.sweep(case, "2026-11-26T00:00:00Z")
    assert e.value.ticket_id == "C" and e.value.problems[0][0] == "status_history[1].at"
    with pytest.raises(TicketError, match="status_history.0.status"):
        triage_given.sweep({**case, "status_history": [{"at": "2026-11-25T09:00:00Z", "status": "done"}]},
                           "2026-11-26T00:00:00Z")


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True, text=True, timeout=300, **kw)


def _backlog(tmp_path, n: int = 300) -> list[dict]:
    import random

    rnd = random.Random(11)
    out = []
    for i in range(n):
        created = datetime(2026, 11, 25, 6, tzinfo=timezone.utc) + timedelta(minutes=rnd.randrange(0, 20 * 60))
        out.append({"id": f"C-{i}", "category": rnd.choice(["service_down", "degraded_performance", "billing",
                                                             "bgp_routing", "provisioning"]),
                    "created_at": _iso(created), "status": rnd.choice(["open", "new", "pending_customer"]),
                    "affected_customers": rnd.choice([1, 1, 2]),
                    "customer": {"tier": rnd.choice(["standard", "enterprise"])}})
    return out


def test_triage_sweep_writes_every_format_alike_and_keeps_only_changes(tmp_path):
    cases_ = _backlog(tmp_path)
    src = tmp_path / "cases.jsonl"
    lines = [orjson.dumps(c) for c in cases_]
    lines.insert(5, b'{"id": "broken", "created_at": "2026-11-25T10:00:00Z", "category": "billing", '
                    b'"status_history": [{"at": "2026-11-24T10:00:00Z", "status": "open"}]}')
    src.write_bytes(b"\n".join(lines) + b"\n")
    now = "2026-11-26T03:00:00Z"
    got = {}
    for fmt in ("jsonl", "csv", "parquet"):
        out, err = tmp_path / f"swept.{fmt}", tmp_path / f"rejected-{fmt}.txt"
        proc = _cli("sweep", str(src), "--now", now, "--out", str(out), "--errors", str(err), "--rules", str(RULES),
                    "--summary-json", str(tmp_path / f"s-{fmt}.json"))
        assert proc.returncode == 1, proc.stderr  # one bad record
        errors = [json.loads(x) for x in err.read_text().splitlines()]
        assert [(e["line"], e["id"]) for e in errors] == [(6, "broken")] and "status_history" in errors[0]["reason"]
        if fmt == "jsonl":
            from triage.decision import flatten

            rows = [flatten(json.loads(x)) for x in out.read_text().splitlines()]
        elif fmt == "csv":
            with open(out, newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            rows = pq.read_table(out).to_pylist()
        got[fmt] = [(r["ticket_id"], r["queue"], str(r["sla.resolution.used_pct"]), str(r["escalated_to"] or ""),
                     str(r["sla.resolution.paused"]).lower()) for r in rows]
    assert got["jsonl"] == got["csv"] == got["parquet"] and len(got["jsonl"]) == len(cases_)
    summary = json.loads((tmp_path / "s-jsonl.json").read_text())
    assert summary["decided"] == len(cases_) and summary["by region/tier"]
    assert sum(c.get("escalated", 0) for c in summary["by region/tier"].values()) == \
        sum(1 for r in got["jsonl"] if r[3])

    # The next sweep writes only what changed since the record's `previous` (the last sweep's line).
    last = {json.loads(x)["ticket_id"]: json.loads(x) for x in (tmp_path / "swept.jsonl").read_text().splitlines()}
    again = tmp_path / "again.jsonl"
    again.write_bytes(b"".join(orjson.dumps({**c, "previous": last[c["id"]]}) + b"\n" for c in cases_))
    same = _cli("sweep", str(again), "--now", now, "--out", str(tmp_path / "same.jsonl"), "--errors",
                str(tmp_path / "e.txt"), "--changed-only", "--rules", str(RULES))
    assert same.returncode == 0 and (tmp_path / "same.jsonl").read_text() == ""
    later = _cli("sweep", str(again), "--now", "2026-11-26T09:00:00Z", "--out", str(tmp_path / "later.jsonl"),
                 "--errors", str(tmp_path / "e.txt"), "--changed-only", "--rules", str(RULES))
    changed = [json.loads(x) for x in (tmp_path / "later.jsonl").read_text().splitlines()]
    assert later.returncode == 0 and 0 < len(changed) < len(cases_)
    for d in changed:
        before = last[d["ticket_id"]]
        assert (d["tier"], d["queue"], d["region"], d["sla"]) != (before["tier"], before["queue"], before["region"],
                                                                  before["sla"]) or d["sla"] != before["sla"]


def test_triage_handover_lists_the_open_high_priority_cases_for_the_next_region(tmp_path, triage_given):
    cases_ = _backlog(tmp_path)
    src = tmp_path / "cases.jsonl"
    src.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in cases_))
    proc = _cli("handover", str(src), "--at", "2026-11-25T23:00:00Z", "--json", "--rules", str(RULES))
    assert proc.returncode == 0, proc.stderr
    packet = json.loads(proc.stdout)
    assert (packet["from"], packet["to"]) == ("AMER", "APAC")
    want = []
    for c in cases_:
        if c["created_at"] > "2026-11-25T23:00:00Z":
            continue
        d = triage_given.sweep(c, "2026-11-25T23:00:00Z")
        if d.priority in ("P1", "P2"):
            want.append((d.priority, d.resolution_due is None, d.resolution_due or "", d.ticket_id, d.queue))
    assert [(c["ticket_id"], c["queue"]) for c in packet["cases"]] == [(w[3], w[4]) for w in sorted(want)]
    assert all(c["queue"].endswith("-APAC") or c["queue"].startswith("partner:") for c in packet["cases"])
    md = _cli("handover", str(src), "--at", "2026-11-25T23:00:00Z", "--rules", str(RULES))
    assert md.returncode == 0 and md.stdout.startswith("# Hand-over AMER → APAC at 2026-11-25T23:00:00Z")
    bad = _cli("handover", str(src), "--at", "2026-11-25T22:00:00Z", "--rules", str(RULES))
    assert bad.returncode == 2 and "not a shift end" in bad.stderr and "schedule.not-a-shift-end" in bad.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_clocks_json_is_the_contracts(triage_given, case):
    """`Sla.to_dict` is built by hand for speed: it must stay `decision.Sla`'s JSON."""
    from triage.clocks import sla_at
    from triage.decision import Decision, plain

    ticket, nows = case
    d = triage_given.sweep(ticket, nows[0])
    s = sla_at(triage_given.schedule, created_at=d.sla and _time(ticket["created_at"]), priority=d.priority,
               region=d.region, now=nows[0], status=ticket.get("status"),
               status_history=ticket.get("status_history") or (), first_response_at=ticket.get("first_response_at"))
    assert s.to_dict() == plain(s.contract()) == d.to_dict()["sla"]
    assert Decision.from_dict(d.to_dict()) == d


def _time(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_priority_reading_the_clocks_is_refused_naming_the_file(tmp_path):
    import shutil

    from triage import RuleSetErrors, Triage

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    text = (rules / "priority.yaml").read_text()
    (rules / "priority.yaml").write_text(text.replace("rules:\n", "rules:\n  - id: late\n    when: "
                                                       "{resolution_used: {\">=\": 100}}\n    then: P1\n", 1))
    with pytest.raises(RuleSetErrors, match="priority.yaml.*cannot read response_used or resolution_used"):
        Triage(rules, model=False)
