"""SLA clocks at `now`: the policy's examples, input errors, an independent reference on random
cases, and the properties the policy implies (monotone in `now`, pauses never add, due = target)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import policy_reference as ref
from conftest import RULES, utc
from triage.clocks import STATUSES, sla_at
from triage.errors import ScheduleError, TicketError
from triage.schedule import Schedule



def test_the_formats_example(sched):
    # P2 created 08:30 in EMEA, answered at its due time 09:30, checked at 12:00.
    s = sla_at(sched, created_at=utc("2026-11-25 08:30"), priority="P2", region="EMEA", now=utc("2026-11-25 12:00"),
               status="open", first_response_at=utc("2026-11-25 09:30"))
    assert s.to_dict() == {
        "response": {"due": "2026-11-25T09:30:00Z", "used_pct": 100, "met": True, "breached": False,
                     "at_risk": False},
        "resolution": {"due": "2026-11-25T16:30:00Z", "used_pct": 43, "met": False, "breached": False,
                       "at_risk": False, "paused": False}}
    assert s.facts() == {"status": "open", "age_minutes": 210, "responded": True, "response_used": 100,
                         "resolution_used": 43}


def test_worked_example_p1_reaches_half_its_resolution_at_16_40(sched):
    created = utc("2026-11-25 14:40")
    s = sla_at(sched, created_at=created, priority="P1", region="EMEA", now=utc("2026-11-25 16:40"))
    assert s.resolution.used_pct == 50 and not s.resolution.at_risk
    assert s.response.breached and not s.response.met and s.response.used_pct == 800
    assert sched.next_shift_end(created).at == utc("2026-11-25 15:00")


def test_a_late_response_is_met_and_breached(sched):
    s = sla_at(sched, created_at=utc("2026-11-25 08:00"), priority="P1", region="EMEA", now=utc("2026-11-25 09:00"),
               first_response_at=utc("2026-11-25 08:15:00.000001"))
    assert s.response.met and s.response.breached and s.response.used_pct == 100


def test_pending_customer_pauses_resolution_and_hides_its_due(sched):
    hist = [{"at": "2026-11-25T09:00:00Z", "status": "open"},
            {"at": "2026-11-25T10:00:00Z", "status": "pending_customer"}]
    s = sla_at(sched, created_at=utc("2026-11-25 09:00"), priority="P2", region="EMEA", now=utc("2026-11-25 20:00"),
               status_history=hist)
    assert s.resolution.paused and s.resolution.due is None and s.resolution.used_pct == 12  # 1 h of 8
    assert s.status == "pending_customer" and s.status_since == utc("2026-11-25 10:00")
    assert s.response.breached  # the response clock never pauses
    # pending_third_party does not pause: the operator answers for its third parties.
    hist[1]["status"] = "pending_third_party"
    s = sla_at(sched, created_at=utc("2026-11-25 09:00"), priority="P2", region="EMEA", now=utc("2026-11-25 20:00"),
               status_history=hist)
    assert not s.resolution.paused and s.resolution.used_pct == 137 and s.resolution.breached
    assert s.resolution.due == utc("2026-11-25 17:00")


def test_resolution_due_after_a_pause_runs_on_from_now(sched):
    hist = [{"at": "2026-11-25T10:00:00Z", "status": "pending_customer"},
            {"at": "2026-11-25T11:00:00Z", "status": "open"}]
    s = sla_at(sched, created_at=utc("2026-11-25 09:00"), priority="P2", region="EMEA", now=utc("2026-11-25 12:00"),
               status_history=hist)
    assert s.resolution.due == utc("2026-11-25 18:00") and s.resolution.used_pct == 25


def test_a_resolved_case_keeps_its_final_clock(sched):
    hist = [{"at": "2026-11-27T10:00:00Z", "status": "resolved"}, {"at": "2026-11-30T09:00:00Z", "status": "closed"}]
    s = sla_at(sched, created_at=utc("2026-11-26 14:00"), priority="P4", region="EMEA", now=utc("2026-12-09 00:00"),
               status_history=hist)
    # Thu 14-15 (1 h) + Fri 07-10 (3 h) of 40 business hours.
    r = s.resolution
    assert r.met and not r.breached and r.used_pct == 10 and not r.at_risk
    assert r.due == sched.add_business_time(utc("2026-11-27 10:00"), timedelta(hours=36), "EMEA")
    assert s.status == "closed"


def test_business_clock_counts_only_business_time(sched):
    # A P3 opened Friday 14:00 in EMEA, checked Monday 08:00: Fri 1 h + Mon 1 h of 24.
    s = sla_at(sched, created_at=utc("2026-11-27 14:00"), priority="P3", region="EMEA", now=utc("2026-11-30 08:00"))
    assert s.response.used_pct == 50 and s.resolution.used_pct == 8
    assert s.response.due == utc("2026-11-30 10:00")  # 1 h Friday, 3 h Monday
    assert s.age_minutes == 3 * 24 * 60 - 6 * 60


def test_at_risk_from_75_until_100(sched):
    created = utc("2026-11-25 08:00")
    at = lambda m: sla_at(sched, created_at=created, priority="P1", region="EMEA",  # noqa: E731
                          now=created + timedelta(minutes=m)).resolution
    assert not at(179).at_risk and at(180).at_risk and at(239).at_risk
    assert not at(240).at_risk and at(240).breached and at(240).used_pct == 100


@pytest.mark.parametrize("kwargs, field", [
    ({"status": "waiting"}, "status"),
    ({"status_history": [{"at": "2026-11-25T10:00:00Z", "status": "stuck"}]}, "status_history[0].status"),
    ({"status_history": [{"at": "2026-11-25T11:00:00Z", "status": "open"},
                         {"at": "2026-11-25T10:00:00Z", "status": "resolved"}]}, "status_history[1].at"),
    ({"status_history": [{"at": "2026-11-25T07:00:00Z", "status": "open"}]}, "status_history[0].at"),
    ({"status_history": [{"at": "2026-11-25T10:00:00", "status": "open"}]}, "status_history[0].at"),
    ({"status_history": [{"at": "tomorrow", "status": "open"}]}, "status_history[0].at"),
    ({"status_history": [{"status": "open"}]}, "status_history[0]"),
    ({"first_response_at": utc("2026-11-25 07:59")}, "first_response_at"),
    ({"now": utc("2026-11-25 07:00")}, "now"),
])
def test_input_a_user_can_get_wrong_names_its_field(sched, kwargs, field):
    args = {"created_at": utc("2026-11-25 08:00"), "priority": "P2", "region": "EMEA",
            "now": utc("2026-11-25 12:00"), **kwargs}
    with pytest.raises(TicketError) as err:
        sla_at(sched, **args)
    assert [p for p, _ in err.value.problems] == [field]


def test_unknown_priority_or_region_is_a_schedule_error(sched):
    with pytest.raises(ScheduleError, match="no response target"):
        sla_at(sched, created_at=utc("2026-11-25 08:00"), priority="P9", region="EMEA", now=utc("2026-11-25 09:00"))
    with pytest.raises(ScheduleError, match="no shift for region"):
        sla_at(sched, created_at=utc("2026-11-25 08:00"), priority="P3", region="MARS", now=utc("2026-11-25 09:00"))


# -- random cases -------------------------------------------------------------------------

# Around holidays of all three regions, weekends and the DST changes of 2026.
STARTS = [utc(s) for s in ("2026-03-06 12:00", "2026-03-27 20:00", "2026-10-02 06:00", "2026-10-23 22:00",
                           "2026-10-30 14:00", "2026-11-25 13:00", "2026-12-23 21:00", "2026-12-31 06:00")]


@st.composite
def cases(draw) -> tuple[dict, datetime]:
    created = draw(st.sampled_from(STARTS)) + timedelta(minutes=draw(st.integers(0, 3 * 1440)),
                                                        seconds=draw(st.sampled_from([0, 0, 17])))
    t, history = created, []
    if draw(st.booleans()):
        history.append((created, draw(st.sampled_from(STATUSES))))
    for _ in range(draw(st.integers(0, 5))):
        t += timedelta(minutes=draw(st.integers(0, 2 * 1440)))
        history.append((t, draw(st.sampled_from(STATUSES))))
    first = draw(st.none() | st.integers(0, 3 * 1440).map(lambda m: created + timedelta(minutes=m)))
    case = {"created_at": created, "priority": draw(st.sampled_from(["P1", "P2", "P3", "P4"])),
            "region": draw(st.sampled_from(["APAC", "EMEA", "AMER"])), "first_response_at": first,
            "status_history": history}
    now = created + timedelta(minutes=draw(st.integers(0, 6 * 1440)), seconds=draw(st.sampled_from([0, 30])))
    return case, now


def _sla(sched: Schedule, case: dict, now: datetime):
    return sla_at(sched, created_at=case["created_at"], priority=case["priority"], region=case["region"], now=now,
                  first_response_at=case["first_response_at"],
                  status_history=[{"at": a, "status": s} for a, s in case["status_history"]])


@settings(max_examples=150, deadline=None)
@given(cases())
def test_equals_the_independent_reference(sched, case_now):
    case, now = case_now
    assert _sla(sched, case, now).to_dict() == ref.sla(case, now)


@settings(max_examples=100, deadline=None)
@given(cases(), st.integers(1, 3 * 1440))
def test_used_never_decreases_as_now_grows(sched, case_now, later):
    case, now = case_now
    a, b = _sla(sched, case, now), _sla(sched, case, now + timedelta(minutes=later))
    for x, y in ((a.response, b.response), (a.resolution, b.resolution)):
        assert x.used_pct <= y.used_pct and x.elapsed <= y.elapsed
        assert (x.met <= y.met) and (x.breached <= y.breached)  # once true, true for good


@settings(max_examples=100, deadline=None)
@given(cases(), st.integers(0, 3 * 1440), st.integers(1, 2 * 1440))
def test_a_pause_never_increases_used(sched, case_now, offset, length):
    case, now = case_now
    start = case["created_at"] + timedelta(minutes=offset)
    # Put the case in pending_customer for [start, end), then back to the status it had at end.
    hist = case["status_history"]
    end = start + timedelta(minutes=length)
    back = ([s for a, s in hist if a <= end] or ["new"])[-1]
    # The pause replaces the entries within it: it must not replace a resolution.
    assume(not any(start <= a < end and s in ("resolved", "closed") for a, s in hist))
    paused = ([e for e in hist if e[0] < start] + [(start, "pending_customer"), (end, back)]
              + [e for e in hist if e[0] >= end])
    plain = _sla(sched, case, now).resolution
    with_pause = _sla(sched, {**case, "status_history": paused}, now).resolution
    assert with_pause.used_pct <= plain.used_pct and with_pause.elapsed <= plain.elapsed


@settings(max_examples=100, deadline=None)
@given(cases())
def test_the_clock_has_run_its_target_exactly_at_due(sched, case_now):
    case, now = case_now
    s = _sla(sched, case, now)
    for kind, clock in (("response", s.response), ("resolution", s.resolution)):
        if clock.due is None or (kind == "resolution" and clock.met):
            continue  # paused; or stopped, its due where it would have run on from then
        # The same case, still unanswered and unresolved, at its due time: target run, not before.
        due = clock.due
        still = {**case, "first_response_at": None,
                 "status_history": [e for e in case["status_history"] if e[0] <= min(now, due)]}
        at_due = getattr(_sla(sched, still, due), kind)
        assert at_due.elapsed == clock.target and at_due.used_pct == 100
        if due > case["created_at"]:
            before = getattr(_sla(sched, still, due - timedelta(microseconds=1)), kind)
            assert before.elapsed < clock.target and before.used_pct < 100


@pytest.mark.parametrize("late, breached", [(timedelta(0), False), (timedelta(microseconds=1), True)])
def test_resolved_at_due_is_on_time_a_microsecond_later_is_not(sched, late, breached):
    created = utc("2026-11-25 08:00")
    hist = [{"at": created + timedelta(hours=4) + late, "status": "resolved"}]
    r = sla_at(sched, created_at=created, priority="P1", region="EMEA", now=utc("2026-11-26 00:00"),
               status_history=hist).resolution
    assert r.met and r.breached == breached and r.due == created + timedelta(hours=4)
    assert r.used_pct == 100 and not r.at_risk


def test_the_pausing_statuses_are_the_schedules(tmp_path):
    text = (RULES / "schedule.yaml").read_text().replace("paused_in: [pending_customer]",
                                                         "paused_in: [pending_customer, pending_third_party]")
    (tmp_path / "schedule.yaml").write_text(text)
    own = Schedule.load(tmp_path / "schedule.yaml")
    hist = [{"at": "2026-11-25T10:00:00Z", "status": "pending_third_party"}]
    r = sla_at(own, created_at=utc("2026-11-25 09:00"), priority="P2", region="EMEA", now=utc("2026-11-25 20:00"),
               status_history=hist).resolution
    assert r.paused and r.used_pct == 12 and r.due is None


def test_a_status_both_pausing_and_stopping_is_refused(tmp_path):
    text = (RULES / "schedule.yaml").read_text().replace("paused_in: [pending_customer]", "paused_in: [closed]")
    (tmp_path / "schedule.yaml").write_text(text)
    with pytest.raises(ScheduleError) as err:
        Schedule.load(tmp_path / "schedule.yaml")
    assert err.value.code == "schedule.conflicting-statuses" and "closed" in err.value.reason
