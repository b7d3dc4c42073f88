"""Follow-the-sun schedule from schedule.yaml: shifts, hand-over, business hours, errors."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

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
    # Friday 23:30 UTC is Saturday in Brisbane: APAC's business time resumes with the shift
    # starting Sunday 23:00 UTC (Monday 09:00 local).
    ("2026-11-27 23:30", "P3", "APAC", "2026-11-30 03:00"),
    ("2026-11-29 23:30", "P3", "APAC", "2026-11-30 03:30"),   # Sunday 23:30 UTC is Monday in Brisbane
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


CALENDAR_EDITS = [
    # (text replaced, replacement, words in the reason, code, line of the replacement)
    ("{country: DE}", "{country: XX}", "unknown country 'XX'", "schedule.unknown-country"),
    ("{country: AU, subdivision: QLD}", "{country: AU, subdivision: QL}", "unknown subdivision 'QL' of AU",
     "schedule.unknown-subdivision"),
    ("time_zone: Europe/Berlin", "time_zone: Europe/Bonn", "unknown time zone 'Europe/Bonn'",
     "schedule.unknown-time-zone"),
    ("time_zone: Europe/Berlin", "time_zone: Europe/Berlin\n    closed: [2026-02-30]", "'2026-02-30' is not a valid date",
     "schedule.invalid-yaml"),
    ("time_zone: Europe/Berlin", "time_zone: Europe/Berlin\n    closed: [\"2026-1-3\"]", "not a date YYYY-MM-DD",
     "schedule.bad-date"),
    ("time_zone: Europe/Berlin", "time_zone: Europe/Berlin\n    closed: [2026-12-31]\n    reopened: [2026-12-31]",
     "2026-12-31 is listed in closed and reopened", "schedule.conflicting-dates"),
    ("time_zone: Europe/Berlin", "time_zone: Europe/Berlin\n    half_days: [{date: 2026-12-24, until: \"16:00\"}]",
     "until 16:00 is not within EMEA's shift", "schedule.bad-half-day"),
    ("  AMER:\n    time_zone", "  MARS:\n    time_zone", "calendar for 'MARS', which has no shift",
     "schedule.unknown-region"),
    ("AMER: {start: \"15:00\", end: \"23:00\"}", "AMER: {start: \"14:00\", end: \"23:00\"}", "overlap",
     "schedule.overlapping-shifts"),
]


@pytest.mark.parametrize("old, new, words, code", CALENDAR_EDITS)
def test_calendar_problems_name_file_line_and_code(tmp_path, old, new, words, code):
    text = (RULES / "schedule.yaml").read_text()
    assert old in text
    text = text.replace(old, new, 1)
    p = tmp_path / "schedule.yaml"
    p.write_text(text)
    with pytest.raises(ScheduleError) as err:
        Schedule.load(p)
    e = err.value
    assert words in e.reason and e.code == code and e.file == str(p)
    # The line reported is one of the lines the edit wrote.
    first = text[:text.index(new)].count("\n") + 1
    assert first <= e.line <= first + new.count("\n"), (e.line, first)
    assert str(e).startswith(f"{p}:{e.line}: ")


def test_shift_ends_between_lists_each_hand_over_in_order(sched):
    ends = sched.shift_ends_between(utc("2026-11-24 07:00"), utc("2026-11-25 07:00"))
    assert [(iso(e.at), e.ending, e.receiving) for e in ends] == [
        ("2026-11-24T15:00:00Z", "EMEA", "AMER"), ("2026-11-24T23:00:00Z", "AMER", "APAC"),
        ("2026-11-25T07:00:00Z", "APAC", "EMEA")]  # (a, b]: the end at a itself is not listed
    assert sched.shift_ends_between(utc("2026-11-24 07:01"), utc("2026-11-24 14:59")) == []


@pytest.mark.parametrize("t, at", [("2026-11-24 06:59:59.999999", "2026-11-24 07:00"),
                                   ("2026-11-24 07:00", "2026-11-24 15:00"),
                                   ("2026-11-24 23:30", "2026-11-25 07:00")])
def test_next_shift_end_is_strictly_after(sched, t, at):
    assert sched.next_shift_end(utc(t)).at == utc(at)


def test_handover_at_a_shift_end_names_both_regions(sched):
    e = sched.handover_at(utc("2026-11-25 15:00"))
    assert (e.ending, e.receiving) == ("EMEA", "AMER")


@pytest.mark.parametrize("t, near", [("2026-11-25 15:30", "2026-11-25T15:00:00Z and 2026-11-25T23:00:00Z"),
                                     ("2026-11-25 15:00:01", "2026-11-25T15:00:00Z and 2026-11-25T23:00:00Z"),
                                     ("2026-11-25 06:00", "2026-11-24T23:00:00Z and 2026-11-25T07:00:00Z")])
def test_handover_at_another_time_says_which_times_are_shift_ends(sched, t, near):
    with pytest.raises(ScheduleError) as err:
        sched.handover_at(utc(t))
    assert err.value.code == "schedule.not-a-shift-end"
    assert "07:00, 15:00, 23:00 UTC" in str(err.value) and near in str(err.value)


def test_resolution_due_of_a_new_ticket(sched):
    assert sched.resolution_due(utc("2026-11-25 14:40"), "P1", "EMEA") == utc("2026-11-25 18:40")
    # P4: 40 business hours = five EMEA shifts; Friday 14:00 -> the next Friday 14:00.
    assert sched.resolution_due(utc("2026-11-27 14:00"), "P4", "EMEA") == utc("2026-12-04 14:00")
    with pytest.raises(ScheduleError, match="no resolution target for priority 'P7'"):
        sched.resolution_due(utc("2026-11-25 14:40"), "P7", "EMEA")
