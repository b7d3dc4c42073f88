"""Multi-customer incidents: correlation.yaml, the durable_rules ruleset, the streaming API, the CLI."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RULES
from triage import Triage
from triage.correlation import CorrelationSpec, Correlator, load_correlation
from triage.correlation.engine import CorrelationEngine
from triage.errors import RuleFileError

BASE = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)  # a Wednesday, EMEA shift
ELIGIBLE = ("service_down", "degraded_performance")
WINDOW = timedelta(minutes=15)
LATENESS = timedelta(minutes=5)


def tk(tid: str, at: float | timedelta, account: str | None, location: str | None = "FRA5",
       category: str = "service_down", service: str | None = None, **extra) -> dict:
    """A ticket `at` minutes (or a timedelta) after BASE."""
    when = BASE + (at if isinstance(at, timedelta) else timedelta(minutes=at))
    return {"id": tid, "created_at": when.isoformat().replace("+00:00", "Z"), "category": category,
            "customer": {"account_id": account}, "service": {"location": location, "service_id": service},
            **extra}


@pytest.fixture(scope="module")
def triage():
    t = Triage(rules=RULES, model=False)
    yield t
    t.close()


@pytest.fixture
def correlator(triage):
    c = Correlator(triage)
    yield c
    c.close()


def run_stream(correlator: Correlator, tickets: list[dict]) -> tuple[dict, list[list]]:
    """Feed in order; the final decision per ticket id and every feed's output."""
    final, outputs = {}, []
    for t in tickets:
        out = correlator.feed(t)
        assert out[0].ticket_id == t["id"]  # the ticket's own decision comes first
        outputs.append(out)
        for d in out:
            final[d.ticket_id] = d
    return final, outputs


def incident_ids(final: dict) -> dict[str, str | None]:
    return {tid: d.incident_id for tid, d in final.items()}


# --- correlation.yaml ----------------------------------------------------------------

def test_reference_policy_is_the_shipped_correlation_rule():
    spec = load_correlation(RULES)
    assert spec == CorrelationSpec(window=WINDOW, threshold=3, categories=ELIGIBLE,
                                   keys=("location", "service_id"), account="account_id", lateness=LATENESS,
                                   file=spec.file, description=spec.description)
    assert CorrelationSpec.load(RULES / "correlation.yaml") == spec


def rules_with(tmp_path: Path, text: str | None) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(RULES, d)
    if text is None:
        (d / "correlation.yaml").unlink()
    else:
        (d / "correlation.yaml").write_text(text)
    return d


GOOD = """window: 15m
threshold: 3
categories: [service_down, degraded_performance]
keys: [location, service_id]
lateness: 5m
"""


@pytest.mark.parametrize("old, new, line, words", [
    ("[service_down, degraded_performance]", "[service_down, degraded_performance,\n  servce_down]", 4,
     ["'servce_down' is not a value of category", "did you mean 'service_down'"]),
    ("keys: [location, service_id]", "keys:\n  - locaton\n  - service_id", 5, ["unknown fact 'locaton'", "location"]),
    ("keys: [location, service_id]", "keys: [location, affected_customers]", 4, ["'affected_customers' is not a string fact (int)"]),
    ("window: 15m", "window: 15x", 1, ["window", "not a duration"]),
    ("window: 15m", "window: 0m", 1, ["window", "positive"]),
    ("threshold: 3", "threshold: 1", 2, ["threshold", "greater than or equal to 2"]),
    ("lateness: 5m", "lateness: 5m\nlatenes: 1m", 6, ["unknown key 'latenes'"]),
    ("keys: [location, service_id]", "keys: [location, location]", 4, ["listed twice"]),
    ("threshold: 3", "threshold: 3\naccount: location", 3, ["also a key"]),
])
def test_correlation_file_errors_name_file_and_line(tmp_path, old, new, line, words):
    d = rules_with(tmp_path, GOOD.replace(old, new))
    with pytest.raises(RuleFileError) as exc:
        load_correlation(d)
    err = exc.value
    assert err.file == str(d / "correlation.yaml") and err.line == line, str(err)
    for w in words:
        assert w in str(err), str(err)


def test_broken_yaml_and_no_file(tmp_path):
    d = rules_with(tmp_path, "window: [15m\n")
    with pytest.raises(RuleFileError) as exc:
        load_correlation(d)
    assert exc.value.file.endswith("correlation.yaml") and exc.value.line is not None
    d2 = rules_with(tmp_path / "x", None)
    assert load_correlation(d2) is None  # a rule folder without the file has no correlation
    t = Triage(rules=d2, model=False)
    with pytest.raises(RuleFileError, match="no correlation rule"):
        Correlator(t)
    t.close()


def test_every_problem_is_listed(tmp_path):
    d = rules_with(tmp_path, "window: 1x\nthreshold: 0\ncategories: []\nkeys: [nope]\n")
    with pytest.raises(RuleFileError) as exc:
        load_correlation(d)
    assert len(exc.value.problems) >= 3
    assert [p.line for p in exc.value.problems] == sorted(p.line for p in exc.value.problems)


# --- the streaming API ---------------------------------------------------------------

def test_three_accounts_form_one_incident_and_earlier_tickets_are_revised(correlator):
    final, outs = run_stream(correlator, [tk("A", 0, "acc-1"), tk("B", 5, "acc-2"), tk("C", 12, "acc-3")])
    assert [len(o) for o in outs] == [1, 1, 3]
    assert [d.ticket_id for d in outs[2]] == ["C", "A", "B"]
    assert outs[0][0].incident_id is None and outs[0][0].tier == "CSS" and outs[0][0].priority == "P2"
    ids = {d.incident_id for d in final.values()}
    assert len(ids) == 1 and ids.pop().startswith("INC-")
    for d in final.values():
        assert (d.priority, d.tier, d.queue) == ("P1", "NSS", "NSS-EMEA")  # service_down, 3 affected


@pytest.mark.parametrize("last, formed", [
    (timedelta(minutes=15), True),                         # exactly 15 minutes apart: within
    (timedelta(minutes=15, milliseconds=1), False),        # just beyond
])
def test_window_edges_are_inclusive(correlator, last, formed):
    final, _ = run_stream(correlator, [tk("A", 0, "a"), tk("B", 7, "b"), tk("C", last, "c")])
    assert all((d.incident_id is not None) == formed for d in final.values())


def test_same_account_three_times_is_no_incident(correlator):
    final, _ = run_stream(correlator, [tk(f"S{i}", i, "same") for i in range(5)])
    assert all(d.incident_id is None and d.tier == "CSS" for d in final.values())


def test_different_locations_are_no_incident_but_the_same_service_is(correlator):
    final, _ = run_stream(correlator, [tk("A", 0, "a", "FRA1"), tk("B", 1, "b", "LON1"), tk("C", 2, "c", "SYD1")])
    assert all(d.incident_id is None for d in final.values())
    final, _ = run_stream(correlator, [tk("D", 30, "a", "FRA1", service="ix-9"), tk("E", 31, "b", "LON1", service="ix-9"),
                                       tk("F", 32, "c", None, service="IX-9 ")])
    assert len({d.incident_id for d in final.values()}) == 1 and final["D"].incident_id


def test_other_categories_do_not_count(correlator):
    final, _ = run_stream(correlator, [tk("A", 0, "a", category="billing"), tk("B", 1, "b", category="billing"),
                                       tk("C", 2, "c", category="billing"), tk("D", 3, "d"), tk("E", 4, "e"),
                                       tk("F", 5, "f", category="bgp_routing")])
    assert all(d.incident_id is None for d in final.values())
    assert final["A"].priority == "P4" and final["D"].tier == "CSS"


def test_tickets_without_account_or_key_do_not_count(correlator):
    final, _ = run_stream(correlator, [tk("A", 0, None), tk("B", 1, "b"), tk("C", 2, "c"), tk("D", 3, "d", None)])
    assert all(d.incident_id is None for d in final.values())


def test_a_fourth_ticket_joins_and_every_member_is_re_decided(correlator):
    """degraded_performance: P2 with 2-4 affected customers, P1 from 5 (priority row 1)."""
    tickets = [tk(f"D{i}", 2 * i, f"acc-{i}", category="degraded_performance") for i in range(5)]
    final, outs = run_stream(correlator, tickets[:3])
    iid = final["D0"].incident_id
    assert iid and all((d.priority, d.tier, d.incident_id) == ("P2", "NSS", iid) for d in final.values())
    out4 = correlator.feed(tickets[3])
    assert [d.ticket_id for d in out4] == ["D3"] and out4[0].incident_id == iid  # joins; nothing else changes
    out5 = correlator.feed(tickets[4])
    assert [d.ticket_id for d in out5] == ["D4", "D0", "D1", "D2", "D3"]  # 5 accounts: all become P1
    assert all((d.priority, d.tier, d.incident_id) == ("P1", "NSS", iid) for d in out5)
    assert correlator.incidents() == {iid: ["D0", "D1", "D2", "D3", "D4"]}


def test_a_repeat_from_a_counted_account_joins_without_raising_the_count(correlator):
    tickets = [tk(f"D{i}", i, f"acc-{i % 3}", category="degraded_performance") for i in range(6)]
    final, outs = run_stream(correlator, tickets)
    assert len({d.incident_id for d in final.values()}) == 1 and final["D0"].incident_id
    assert all(d.priority == "P2" for d in final.values())  # still 3 customers, not 6


def test_two_incidents_at_once(correlator):
    tickets = []
    for i in range(3):
        tickets += [tk(f"F{i}", 2 * i, f"f-{i}", "FRA5"), tk(f"L{i}", 2 * i + 1, f"l-{i}", "LON2",
                                                             category="degraded_performance")]
    final, _ = run_stream(correlator, tickets)
    fra = {final[f"F{i}"].incident_id for i in range(3)}
    lon = {final[f"L{i}"].incident_id for i in range(3)}
    assert len(fra) == len(lon) == 1 and fra != lon and None not in fra | lon
    assert {final[f"L{i}"].priority for i in range(3)} == {"P2"}
    assert {final[f"F{i}"].priority for i in range(3)} == {"P1"}


def test_late_arrivals_within_the_lateness_are_correlated(correlator):
    final, outs = run_stream(correlator, [tk("A", 10, "a"), tk("B", 14, "b"), tk("C", 10.5, "c"),  # C 3.5 min late
                                          tk("D", 30, "x", "OTHER"), tk("E", 26, "y", "OTHER"),   # E 4 min late
                                          tk("F", 25, "z", "OTHER")])
    assert final["A"].incident_id and len({final[t].incident_id for t in "ABC"}) == 1
    assert final["D"].incident_id and len({final[t].incident_id for t in "DEF"}) == 1
    assert final["A"].incident_id != final["D"].incident_id and correlator.late == 0


def test_later_than_the_lateness_is_decided_but_not_correlated(correlator, triage):
    final, outs = run_stream(correlator, [tk("A", 20, "a"), tk("B", 21, "b"), tk("X", 40, "x", "ELSE"),
                                          tk("C", 22, "c")])  # 18 minutes behind the newest
    assert correlator.late == 1
    assert all(d.incident_id is None for d in final.values())
    assert final["C"] == triage.route(tk("C", 22, "c"))


def test_non_ascii_keys_and_accounts(correlator):
    """durable_rules mis-compares non-ASCII strings through joins; tokens keep them apart."""
    final, _ = run_stream(correlator, [tk("A", 0, "Kunde-Ä", "Zürich-Ü1"), tk("B", 1, "Kunde-Ö", "zürich-ü1"),
                                       tk("C", 2, "Kunde-Ü", "Zürich-Ü1")])
    assert final["A"].incident_id and len({d.incident_id for d in final.values()}) == 1
    final, _ = run_stream(correlator, [tk(f"S{i}", 30 + i, "Kunde-Ä", "Zürich-Ü1") for i in range(3)])
    assert all(d.incident_id is None for d in final.values())


def test_incident_ids_are_deterministic(triage):
    tickets = [tk("A", 0, "a"), tk("B", 5, "b"), tk("C", 12, "c"), tk("D", 13, "d", "LON2"),
               tk("E", 14, "e", "LON2"), tk("F", 15, "f", "LON2")]
    runs = []
    for _ in range(2):
        c = Correlator(triage)
        runs.append(incident_ids(run_stream(c, tickets)[0]))
        c.close()
    assert runs[0] == runs[1] and len(set(runs[0].values())) == 2


def test_a_ticket_on_two_incidents_merges_them_into_the_older(correlator):
    final, _ = run_stream(correlator, [tk("A", 0, "a", "FRA5"), tk("B", 1, "b", "FRA5"), tk("C", 2, "c", "FRA5"),
                                       tk("D", 3, "d", "LON2", service="ix-1"), tk("E", 4, "e", "LON2", service="ix-1"),
                                       tk("F", 5, "f", "LON2", service="ix-1"),
                                       tk("G", 6, "g", "FRA5", service="ix-1")])
    assert len({d.incident_id for d in final.values()}) == 1
    assert final["G"].incident_id == final["A"].incident_id


def test_decide_hook_keeps_the_ticket_and_the_classification(triage):
    c = triage.classify_many([tk("A", 0, "a", category="degraded_performance")])[0]
    d = triage.decide(c, affected_customers=7, incident_id="INC-x")
    assert (d.priority, d.incident_id) == ("P1", "INC-x") and c.ticket.affected_customers == 1
    assert triage.decide(c) == triage.route(tk("A", 0, "a", category="degraded_performance"))


def test_feed_many_yields_errors_in_place(correlator):
    out = list(correlator.feed_many([tk("A", 0, "a"), {"id": "bad"}, tk("B", 1, "b")], errors="yield"))
    assert [type(o).__name__ for o in out] == ["list", "TicketError", "list"]


# --- the durable_rules ruleset ---------------------------------------------------------

KEYS = ["FRA5", "Zürich", "zürich", "LON2"]
ACCOUNTS = ["a", "b", "Ä", "ä"]
CATS = ["service_down", "degraded_performance", "billing"]


@settings(max_examples=60, deadline=None)
@given(events=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(ACCOUNTS), st.sampled_from(CATS),
                                 st.integers(0, 3600_000)), max_size=30),
       probes=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(ACCOUNTS), st.sampled_from(CATS),
                                 st.integers(0, 3600_000)), min_size=1, max_size=5))
def test_engine_joins_exactly_what_the_rule_says(events, probes):
    """The neighbours durable_rules reports equal a plain filter (guards the `$or` and
    non-ASCII join traps)."""
    eng = CorrelationEngine.acquire(ELIGIBLE)
    ids = {}
    for k, a, c, ts in events:
        fact = eng.add(k, a, c, ts)
        assert (fact is not None) == (c in ELIGIBLE)  # an ineligible event is not even stored
        if fact:
            ids[fact[0]] = (k, a, c, ts)
    w = 900_000
    for k, a, c, ts in probes:
        got = sorted(eng.neighbours(k, a, c, ts, w))
        want = sorted(i for i, (k2, a2, c2, t2) in ids.items()
                      if c in ELIGIBLE and k2 == k and a2 != a and ts - w <= t2 <= ts + w)
        assert got == want
    assert eng.live_facts() == len(ids)  # probes leave nothing behind
    eng.release()
    assert eng.live_facts() == 0


# --- properties over streams ------------------------------------------------------------

def created(t: dict) -> datetime:
    return datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))


def qualifying_members(tickets: list[dict]) -> set[str]:
    """Brute force: tickets inside some 15-minute window (inclusive) holding eligible
    tickets of >= 3 distinct accounts on the same location or service."""
    def ms(t):
        return int((created(t) - BASE).total_seconds() * 1000)

    out = set()
    w = int(WINDOW.total_seconds() * 1000)
    for key in ("location", "service_id"):
        groups: dict[str, list] = {}
        for t in tickets:
            v = t["service"].get(key)
            if t["category"] in ELIGIBLE and t["customer"]["account_id"] and v and v.strip():
                groups.setdefault(v.strip().casefold(), []).append(t)
        for group in groups.values():
            for s in group:
                inside = [u for u in group if ms(s) <= ms(u) <= ms(s) + w]
                if len({u["customer"]["account_id"] for u in inside}) >= 3:
                    out |= {u["id"] for u in inside}
    return out


@st.composite
def streams(draw):
    n = draw(st.integers(1, 28))
    tickets = []
    for i in range(n):
        at = timedelta(seconds=draw(st.integers(0, 50 * 60)))
        tickets.append(tk(f"T{i}", at, draw(st.sampled_from(["a", "b", "c", "d", None])),
                          draw(st.sampled_from(["FRA5", "fra5", "LON2", None])),
                          draw(st.sampled_from(["service_down", "degraded_performance", "billing"])),
                          draw(st.sampled_from([None, None, "ix-1", "vxc-2"]))))
    # Arrival order: created_at plus a delay of at most the lateness (never "too late").
    delays = [draw(st.integers(0, int(LATENESS.total_seconds()))) for _ in tickets]
    order = sorted(range(n), key=lambda i: (created(tickets[i]) + timedelta(seconds=delays[i]), i))
    return [tickets[i] for i in order]


@settings(max_examples=150, deadline=None)
@given(streams())
def test_incident_ids_exactly_where_three_accounts_share_a_window(stream):
    """No ticket carries an incident id unless >= 3 distinct accounts match within the
    window with it, and every such ticket does; members are decided as incidents."""
    t = Triage(rules=RULES, model=False)
    c = Correlator(t)
    final, _ = run_stream(c, stream)
    assert c.late == 0
    members = qualifying_members(stream)
    assert {tid for tid, d in final.items() if d.incident_id} == members
    for tid, d in final.items():
        if d.incident_id:
            assert d.tier == "NSS"
            assert d.priority == ("P1" if d.category == "service_down" else d.priority)
            assert d.priority in ("P1", "P2")
        else:
            ticket = next(x for x in stream if x["id"] == tid)
            assert d == t.route(ticket)
    c.close()
    t.close()


def test_memory_stays_bounded_over_a_long_stream(triage):
    """20,000 tickets over five days: the session holds only the last window + lateness."""
    rnd = random.Random(5)
    c = Correlator(triage)
    assert c.live_facts() == 0  # before the session exists
    step = timedelta(seconds=21.6)
    horizon = WINDOW + LATENESS
    times, peak_facts, peak_live = [], 0, 0
    incidents = 0
    for i in range(20_000):
        at = step * i
        times.append(at)
        cat = rnd.choice(["service_down", "service_down", "degraded_performance", "billing", "provisioning"])
        out = c.feed(tk(f"M{i}", at, f"acc-{rnd.randrange(400)}", f"LOC-{rnd.randrange(30)}", cat,
                        f"svc-{rnd.randrange(200)}"))
        incidents += bool(out[0].incident_id)
        peak_live = max(peak_live, c.live_tickets)
        if i % 1000 == 999:
            peak_facts = max(peak_facts, c.live_facts())
    in_horizon = int(horizon / step) + 2
    assert incidents > 0  # the stream did correlate
    assert peak_live <= in_horizon
    assert peak_facts <= 2 * in_horizon  # one event per key
    assert len(c.incidents()) <= in_horizon
    c.flush()
    assert c.live_facts() == 0 and c.live_tickets == 0 and c.incidents() == {}
    c.close()


# --- the judged scenario: API and CLI ----------------------------------------------------

def judged_stream() -> list[dict]:
    return [
        # the real incident: three accounts, one location, 12 minutes
        tk("INC-1", 0, "ACC-100", "FRA5", "service_down", "port-1"),
        tk("INC-2", 6, "ACC-200", "FRA5", "degraded_performance", "vxc-2"),
        tk("INC-3", 12, "ACC-300", "FRA5", "service_down", "port-3"),
        # one account three times
        tk("ONE-1", 1, "ACC-900", "AMS1", "service_down", "port-9"),
        tk("ONE-2", 4, "ACC-900", "AMS1", "service_down", "port-9"),
        tk("ONE-3", 8, "ACC-900", "AMS1", "degraded_performance", "port-9"),
        # three accounts over 20 minutes
        tk("SLOW-1", 0, "ACC-401", "LON2", "service_down", "port-41"),
        tk("SLOW-2", 10, "ACC-402", "LON2", "service_down", "port-42"),
        tk("SLOW-3", 20, "ACC-403", "LON2", "service_down", "port-43"),
        # three locations
        tk("LOC-1", 2, "ACC-501", "SYD1", "service_down", "port-51"),
        tk("LOC-2", 3, "ACC-502", "SIN1", "service_down", "port-52"),
        tk("LOC-3", 4, "ACC-503", "TYO1", "service_down", "port-53"),
        # billing tickets at the incident's location and time
        tk("BILL-1", 2, "ACC-601", "FRA5", "billing"),
        tk("BILL-2", 5, "ACC-602", "FRA5", "billing"),
        tk("BILL-3", 9, "ACC-603", "FRA5", "billing"),
    ]


def check_judged(final: dict) -> None:
    iids = {tid: d.incident_id for tid, d in final.items()}
    assert len(final) == 15
    assert iids["INC-1"] and iids["INC-1"] == iids["INC-2"] == iids["INC-3"]
    assert all(v is None for tid, v in iids.items() if not tid.startswith("INC-")), iids
    # affected_customers = 3: service_down -> P1 (row 2), degraded_performance -> P2 (row 5); NSS (tier row 4)
    assert [(final[t].priority, final[t].tier, final[t].queue) for t in ("INC-1", "INC-2", "INC-3")] == [
        ("P1", "NSS", "NSS-EMEA"), ("P2", "NSS", "NSS-EMEA"), ("P1", "NSS", "NSS-EMEA")]
    assert final["SLOW-1"].tier == final["ONE-1"].tier == final["LOC-1"].tier == "CSS"


def sort_by_created(tickets: list[dict]) -> list[dict]:
    return sorted(tickets, key=created)


def test_judged_scenario_through_the_api(correlator):
    final, _ = run_stream(correlator, sort_by_created(judged_stream()))
    check_judged(final)


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def last_per_id(stdout: str) -> dict:
    from triage.decision import Decision

    final = {}
    for line in stdout.splitlines():
        d = json.loads(line)
        final[d["ticket_id"]] = Decision.from_dict(d)
    return final


def test_judged_scenario_through_route_correlate(tmp_path, correlator):
    tickets = judged_stream()
    random.Random(3).shuffle(tickets)  # the command orders by created_at itself
    f = tmp_path / "stream.jsonl"
    f.write_text("".join(json.dumps(t) + "\n" for t in tickets))
    proc = cli("route", "--correlate", str(f), "--rules", str(RULES))
    assert proc.returncode == 0, proc.stderr
    final = last_per_id(proc.stdout)
    check_judged(final)
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 15 + 2  # INC-1 and INC-2 revised once each, when INC-3 arrives
    at = [d["ticket_id"] for d in lines].index("INC-3")
    assert [d["ticket_id"] for d in lines[at:at + 3]] == ["INC-3", "INC-1", "INC-2"]
    api, _ = run_stream(correlator, sort_by_created(judged_stream()))
    def plain(ds):  # the command loads the shipped model; categories are given, so only its version differs
        return {k: {**d.to_dict(), "model_version": None} for k, d in ds.items()}

    assert plain(final) == plain(api)  # the same decisions, incident ids included
    piped = cli("route", "--correlate", "-", "--rules", str(RULES), stdin=f.read_text())
    assert piped.stdout == proc.stdout


def test_route_correlate_reports_bad_lines_and_needs_a_correlation_rule(tmp_path):
    good = sort_by_created(judged_stream())
    text = "\n".join([json.dumps(good[0]), "{not json", json.dumps({"id": "X", "created_at": "2026-11-25T08:00:00"}),
                      *[json.dumps(t) for t in good[1:]]]) + "\n"
    proc = cli("route", "--correlate", "--rules", str(RULES), stdin=text)
    assert proc.returncode == 1
    check_judged(last_per_id(proc.stdout))
    assert [json.loads(x)["line"] for x in proc.stderr.splitlines()] == [2, 3]
    bare = rules_with(tmp_path, None)
    proc = cli("route", "--correlate", "--rules", str(bare), stdin=text)
    assert proc.returncode == 2 and "correlation.yaml" in proc.stderr and "Traceback" not in proc.stderr
    assert "the last line per ticket_id is final" in " ".join(cli("route", "--help").stdout.split()).lower()


def test_retriage_correlate(tmp_path):
    tickets = judged_stream()
    random.Random(4).shuffle(tickets)
    inp = tmp_path / "backlog.jsonl"
    inp.write_text("".join(json.dumps(t) + "\n" for t in tickets) + "{broken\n")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    base = ("retriage", str(inp), "--out", str(out), "--errors", str(err), "--rules", str(RULES), "-q", "--correlate")
    proc = cli(*base, "--summary-json", str(tmp_path / "s.json"))
    assert proc.returncode == 1, proc.stderr
    check_judged(last_per_id(out.read_text()))
    assert [json.loads(x)["line"] for x in err.read_text().splitlines()] == [16]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["records"], summary["decided"], summary["errors"]) == (16, 15, 1)
    assert summary["counts"]["tier"] == {"CSS": 12, "NSS": 3}  # final decisions only
    # CSV output too: the last row per ticket_id is final
    csv_out = tmp_path / "out.csv"
    assert cli("retriage", str(inp), "--out", str(csv_out), "--errors", str(err), "--rules", str(RULES), "-q",
               "--correlate").returncode == 1
    import csv

    rows = {r["ticket_id"]: r for r in csv.DictReader(csv_out.open())}
    assert rows["INC-1"]["incident_id"] and rows["INC-1"]["tier"] == "NSS" and not rows["SLOW-3"]["incident_id"]
    for extra in (["--resume"], ["--jobs", "2"], ["--dask", "local"]):
        refused = cli(*base, *extra)
        assert refused.returncode == 2 and "--correlate" in refused.stderr, refused.stderr


STRESS = """
import random, sys
from datetime import timedelta
sys.path.insert(0, sys.argv[2])
from test_correlation import RULES, tk
from triage import Triage
from triage.correlation import Correlator
rnd = random.Random(int(sys.argv[1]))
triage = Triage(rules=RULES, model=False)
for _ in range(1500):
    with Correlator(triage) as c:
        for i in range(rnd.randint(1, 28)):
            c.feed(tk(f"T{i}", timedelta(seconds=rnd.randint(0, 3000)), rnd.choice("abcd"),
                      rnd.choice(["FRA5", "LON2"]), rnd.choice(["service_down", "degraded_performance"]),
                      rnd.choice([None, "ix-1"])))
print("ok")
"""


@pytest.mark.parametrize("seed", [1, 6])  # both crashed with delete_ruleset
def test_many_correlators_one_after_another_do_not_crash(seed):
    """Two durable_rules crashes this design avoids, each of which killed this workload:
    two join rules in one ruleset, and `delete_ruleset` after facts were retracted."""
    proc = subprocess.run([sys.executable, "-c", STRESS, str(seed), str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stderr[-2000:])
