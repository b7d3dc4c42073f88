"""Follow-the-sun schedule from schedule.yaml: shifts, hand-over, business hours, errors."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RULES
from triage.errors import ScheduleError
from triage.schedule import Schedule, ScheduleSpec, iso, parse_duration


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sched() -> Schedule:
    return Schedule.load(RULES / "schedule.yaml")


@pytest.mark.parametrize("t, region", [("2026-11-23 06:59:59", "APAC"), ("2026-11-23 07:00", "EMEA"),
                                       ("2026-11-23 14:59", "EMEA"), ("2026-11-23 15:00", "AMER"),
                                       ("2026-11-23 22:59", "AMER"), ("2026-11-23 23:00", "APAC"),
                                       ("2026-11-24 00:00", "APAC")])
def test_on_shift_start_inclusive_end_exclusive(sched, t, region):
    assert sched.on_shift(utc(t)) == region


@pytest.mark.parametrize("t, at, to", [("2026-11-23 23:30", "2026-11-24 07:00", "EMEA"),
                                       ("2026-11-24 03:00", "2026-11-24 07:00", "EMEA"),
                                       ("2026-11-24 07:00", "2026-11-24 15:00", "AMER"),
                                       ("2026-11-24 22:59", "2026-11-24 23:00", "APAC")])
def test_handoff_at_end_of_current_shift_to_next_region(sched, t, at, to):
    assert sched.handoff(utc(t)) == (utc(at), to)


@pytest.mark.parametrize("t, prio, region, due", [
    ("2026-11-27 14:30", "P4", "EMEA", "2026-11-30 14:30"),   # Friday -> Monday
    ("2026-11-23 11:00", "P3", "EMEA", "2026-11-23 15:00"),   # ends exactly at shift end
    ("2026-11-23 15:00", "P3", "EMEA", "2026-11-24 11:00"),   # created at shift end: next day
    ("2026-11-28 10:00", "P3", "AMER", "2026-11-30 19:00"),   # Saturday -> Monday
    ("2026-11-27 23:30", "P3", "APAC", "2026-11-30 03:30"),   # Friday 23:30-24:00 then Monday 00:00
    ("2026-11-23 05:00", "P4", "APAC", "2026-11-24 05:00"),   # 2h Mon morning, 1h Mon 23:00, 5h Tue
    ("2026-11-23 08:00", "P1", "AMER", "2026-11-23 08:15"),   # 24/7
    ("2026-11-28 08:00", "P2", "EMEA", "2026-11-28 09:00"),
])
def test_response_due(sched, t, prio, region, due):
    assert sched.response_due(utc(t), prio, region) == utc(due)


def test_iso_format():
    assert iso(utc("2026-11-25 09:30")) == "2026-11-25T09:30:00Z"
    assert iso(utc("2026-11-25 09:30") + timedelta(microseconds=5)) == "2026-11-25T09:30:00.000005Z"


def test_durations():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    with pytest.raises(ValueError):
        parse_duration("soon")


@pytest.mark.parametrize("edit, words", [
    (("EMEA: {start: \"07:00\", end: \"15:00\"}", "EMEA: {start: \"07:00\", end: \"14:00\"}"), "no shift covers 14:00"),
    (("EMEA: {start: \"07:00\", end: \"15:00\"}", "EMEA: {start: \"06:00\", end: \"15:00\"}"), "overlap"),
    (("handover: [APAC, EMEA, AMER]", "handover: [APAC, EMEA]"), "handover"),
    (("P3: {within: 4h, clock: business}", "P3: {within: 4 hours, clock: business}"), "duration"),
    (("23:00", "25:00"), "HH:MM"),
])
def test_bad_schedules_are_refused_with_the_reason(tmp_path, edit, words):
    text = (RULES / "schedule.yaml").read_text().replace(*edit)
    p = tmp_path / "schedule.yaml"
    p.write_text(text)
    with pytest.raises(ScheduleError) as err:
        Schedule.load(p)
    assert words in str(err.value) and "schedule.yaml" in str(err.value)


def _walked(sched: Schedule, t: datetime, amount: timedelta, region: str) -> datetime:
    """Business time added one minute boundary at a time: slow and obviously right."""
    shift = next(s for s in sched.shifts if s.region == region)
    cur, remaining = t, amount
    while True:
        nxt = cur.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if cur.weekday() in sched.business_days and shift.contains(cur.hour * 60 + cur.minute):
            if remaining <= nxt - cur:
                return cur + remaining
            remaining -= nxt - cur
        cur = nxt


@st.composite
def schedules(draw) -> Schedule:
    """Three shifts of an hour or more tiling the day at any minutes (one may wrap midnight), any
    business days."""
    a = draw(st.integers(0, 1439))
    b = a + draw(st.integers(60, 600))
    c = b + draw(st.integers(60, 1440 - 60 - (b - a)))
    a, b, c = a % 1440, b % 1440, c % 1440
    hhmm = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    days = draw(st.lists(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]), min_size=1,
                         unique=True))
    spec = ScheduleSpec(shifts={"X": {"start": hhmm(a), "end": hhmm(b)}, "Y": {"start": hhmm(b), "end": hhmm(c)},
                                "Z": {"start": hhmm(c), "end": hhmm(a)}},
                        handover=["X", "Y", "Z"], business_days=days,
                        response={"P3": {"within": "1h", "clock": "business"}}, handoff_priorities=[])
    return Schedule.from_spec(spec)


@settings(max_examples=200, deadline=None)
@given(schedules(), st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),
       st.sampled_from(["X", "Y", "Z"]), st.integers(1, 12 * 60), st.integers(0, 59))
def test_business_time_equals_a_minute_by_minute_walk(sched, t, region, minutes, seconds):
    t = t.replace(tzinfo=timezone.utc)
    amount = timedelta(minutes=minutes, seconds=seconds)
    assert sched.add_business_time(t, amount, region) == _walked(sched, t, amount, region)
