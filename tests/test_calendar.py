"""Business calendars: local dates, holidays, own dates, half days, DST; the bisected
computation against a minute-by-minute walk written from the policy's words."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RULES, UTC, utc
from triage.rules.yamlio import load_yaml
from triage.schedule import Schedule, ScheduleSpec



# -- the reference policy's calendars, by example ------------------------------------------

@pytest.mark.parametrize("t, prio, region, due, why", [
    ("2026-12-24 13:00", "P3", "EMEA", "2026-12-28 09:00", "2h Thu 24th; 25th, 26th holidays (DE), weekend"),
    ("2026-11-25 21:00", "P3", "AMER", "2026-11-27 17:00", "2h Wed; Thanksgiving (US) closed; 2h Fri"),
    ("2026-12-24 05:00", "P3", "APAC", "2026-12-29 01:00", "2h Thu; Fri 25th, Sat, Sun, Mon 28th (Boxing Day "
                                                           "observed, QLD) closed; shift from Mon 23:00 UTC is Tue"),
    ("2026-10-04 22:00", "P3", "APAC", "2026-10-06 03:00", "Sun 23:00 UTC starts Mon 5 Oct, King's Birthday (QLD)"),
    ("2026-10-02 12:00", "P4", "EMEA", "2026-10-05 12:00", "Sat 3 Oct is German Unity Day anyway: Fri 3h + Mon 5h"),
    ("2026-03-27 14:00", "P3", "EMEA", "2026-03-30 10:00", "DST in Berlin on Sun 29 Mar moves nothing"),
    ("2026-03-06 21:00", "P4", "AMER", "2026-03-09 21:00", "DST in New York on Sun 8 Mar moves nothing"),
    ("2026-11-28 10:00", "P4", "EMEA", "2026-11-30 15:00", "due as EMEA's Monday shift ends, not at the next start"),
])
def test_due_times_follow_local_dates_and_holidays(sched, t, prio, region, due, why):
    assert sched.response_due(utc(t), prio, region) == utc(due), why


def test_the_holidays_the_examples_rely_on_are_the_librarys():
    assert date(2026, 12, 28) in holidays.country_holidays("AU", subdiv="QLD")
    assert date(2026, 10, 5) in holidays.country_holidays("AU", subdiv="QLD")
    assert date(2026, 10, 5) not in holidays.country_holidays("AU")  # Queensland's, not national
    assert date(2026, 11, 26) in holidays.country_holidays("US")
    assert date(2026, 12, 24) not in holidays.country_holidays("DE")


def test_apac_shift_belongs_to_the_brisbane_date_at_its_start(sched):
    # Sunday 23:00 UTC is Monday 09:00 in Brisbane: business; Friday 23:00 UTC is Saturday: not.
    assert sched.business_elapsed("APAC", utc("2026-11-29 23:00"), utc("2026-11-30 07:00")) == timedelta(hours=8)
    assert sched.business_elapsed("APAC", utc("2026-11-27 23:00"), utc("2026-11-28 07:00")) == timedelta(0)
    # Monday morning UTC (00:00-07:00) is the tail of the shift that began Sunday 23:00 UTC.
    assert sched.business_elapsed("APAC", utc("2026-11-30 00:00"), utc("2026-11-30 07:00")) == timedelta(hours=7)


def _custom(calendar: dict, shifts=("23:30", "07:30", "15:30")) -> Schedule:
    a, b, c = shifts
    return Schedule.from_spec(ScheduleSpec.model_validate({
        "shifts": {"X": {"start": a, "end": b}, "Y": {"start": b, "end": c}, "Z": {"start": c, "end": a}},
        "handover": ["X", "Y", "Z"], "business_days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "calendars": {"X": calendar},
        "response": {"P3": {"within": "1h", "clock": "business"}}, "handoff_priorities": []}))


def test_daylight_saving_moves_the_local_date_not_the_shift():
    s = _custom({"time_zone": "Europe/London"})
    # Friday 23:30 UTC: 23:30 GMT on Friday in March (business), 00:30 BST on Saturday in April (not).
    assert s.business_elapsed("X", utc("2026-03-27 23:30"), utc("2026-03-28 07:30")) == timedelta(hours=8)
    assert s.business_elapsed("X", utc("2026-04-03 23:30"), utc("2026-04-04 07:30")) == timedelta(0)
    # Sunday 23:30 UTC in BST is Monday: business, 8 hours in UTC whatever the clocks did.
    assert s.business_elapsed("X", utc("2026-04-05 23:30"), utc("2026-04-06 07:30")) == timedelta(hours=8)
    # 2026-10-25: London back to GMT; the shift of Sunday 23:30 UTC is Sunday again.
    assert s.business_elapsed("X", utc("2026-10-25 23:30"), utc("2026-10-26 07:30")) == timedelta(0)


def test_own_dates_close_reopen_and_halve():
    s = _custom({"time_zone": "UTC", "closed": ["2026-11-30"], "reopened": [date(2026, 11, 28)],
                 "half_days": [{"date": date(2026, 12, 1), "until": "02:00"}]})
    # X's shift belonging to date D starts D 23:30 UTC (zone UTC).
    shift = lambda d: s.business_elapsed("X", utc(f"{d} 23:30"), utc(f"{d} 23:30") + timedelta(hours=8))  # noqa: E731
    assert shift("2026-11-27") == timedelta(hours=8)          # Friday
    assert shift("2026-11-28") == timedelta(hours=8)          # Saturday, re-opened
    assert shift("2026-11-29") == timedelta(0)                # Sunday
    assert shift("2026-11-30") == timedelta(0)                # Monday, closed
    assert shift("2026-12-01") == timedelta(hours=2, minutes=30)  # half day: 23:30 until 02:00 UTC
    # A half day's clock stops at `until` and resumes with the next open shift.
    assert s.add_business_time(utc("2026-12-02 01:00"), timedelta(hours=2), "X") == utc("2026-12-03 00:30")


def test_always_clock_is_plain_arithmetic(sched):
    a, b = utc("2026-12-24 13:00"), utc("2026-12-27 01:30")
    assert sched.elapsed("always", "EMEA", a, b) == b - a
    assert sched.add("always", "EMEA", a, timedelta(hours=4)) == a + timedelta(hours=4)
    assert sched.elapsed("business", "EMEA", b, a) == timedelta(0)


def test_long_spans_cross_many_cached_blocks(sched):
    # 2026 in EMEA: 261 weekdays less 7 weekday holidays (1 Jan, Good Friday, Easter Monday,
    # 1 May, Ascension, Whit Monday, Christmas; 3 Oct and 26 Dec fall on Saturdays), 8 h each.
    year = sched.business_elapsed("EMEA", utc("2026-01-01 00:00"), utc("2027-01-01 00:00"))
    weekday_holidays = [d for d in holidays.country_holidays("DE", years=2026) if d.weekday() < 5]
    assert len(weekday_holidays) == 7
    assert year == timedelta(hours=8 * (261 - 7))
    assert sched.add_business_time(utc("2026-01-01 00:00"), year, "EMEA") == utc("2026-12-31 15:00")


# -- the walk: slow and obviously right, written from the policy ------------------------------

def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


class Walk:
    """A region's business time decided one minute at a time, from the spec alone."""

    def __init__(self, spec: ScheduleSpec, region: str):
        shift = spec.shifts[region]
        self.start, self.end = _minutes(shift.start), _minutes(shift.end)
        cal = spec.calendars.get(region)
        self.zone = ZoneInfo(cal.time_zone) if cal else UTC
        self.hols = (holidays.country_holidays(cal.holidays.country, subdiv=cal.holidays.subdivision)
                     if cal and cal.holidays else {})
        self.closed = set(cal.closed) if cal else set()
        self.reopened = set(cal.reopened) if cal else set()
        self.half = {h.date: _minutes(h.until) for h in cal.half_days} if cal else {}
        self.days = {["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].index(d) for d in spec.business_days}

    def business(self, t: datetime) -> bool:
        """Is the minute starting at t (a minute boundary) business time?"""
        m = t.hour * 60 + t.minute
        inside = self.start <= m < self.end if self.start < self.end else (m >= self.start or m < self.end)
        if not inside:
            return False
        midnight = t.replace(hour=0, minute=0)
        shift_start = midnight + timedelta(minutes=self.start)
        if shift_start > t:
            shift_start -= timedelta(days=1)
        local = shift_start.astimezone(self.zone).date()
        if local in self.half:  # open until the first `until` time after the shift's start
            until = shift_start.replace(hour=0, minute=0) + timedelta(minutes=self.half[local])
            while until <= shift_start:
                until += timedelta(days=1)
            return t < until
        if local in self.reopened:
            return True
        return local.weekday() in self.days and local not in self.closed and local not in self.hols

    def steps(self, t: datetime):
        """[a, b) pieces up to each next minute boundary, with whether they are business time."""
        while True:
            nxt = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
            yield t, nxt, self.business(t.replace(second=0, microsecond=0))
            t = nxt

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        total = timedelta(0)
        for x, y, on in self.steps(a):
            if x >= b:
                return total
            if on:
                total += min(y, b) - x

    def add(self, t: datetime, amount: timedelta) -> datetime:
        if amount == timedelta(0):
            return t
        for x, y, on in self.steps(t):
            if on:
                if amount <= y - x:
                    return x + amount
                amount -= y - x


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Brisbane", "Europe/London", "Asia/Kolkata",
         "Pacific/Auckland", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
COUNTRIES = [None, ("AU", "QLD"), ("DE", None), ("US", None), ("GB", "SCT")]
# Span the DST changes of 2026 (Mar 8 and Nov 1 in New York, Mar 29 and Oct 25 in Europe,
# Apr 5 and Sep 27 in Auckland) and the turn of the year.
DAYS_2026 = st.dates(min_value=date(2026, 2, 20), max_value=date(2027, 1, 10))


@st.composite
def calendars(draw) -> tuple[ScheduleSpec, str]:
    """Three shifts tiling the day at any minutes (one may wrap), any business days, a random
    zone and country, random closed, re-opened and half days."""
    a = draw(st.integers(0, 1439))
    b = a + draw(st.integers(60, 600))
    c = b + draw(st.integers(60, 1440 - 60 - (b - a)))
    a, b, c = a % 1440, b % 1440, c % 1440
    hhmm = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    region = draw(st.sampled_from(["X", "Y", "Z"]))
    start, end = {"X": (a, b), "Y": (b, c), "Z": (c, a)}[region]
    length = (end - start) % 1440
    dates = draw(st.lists(DAYS_2026, unique=True, max_size=12))
    split = sorted(draw(st.lists(st.integers(0, len(dates)), min_size=2, max_size=2)))
    closed, reopened, half = dates[:split[0]], dates[split[0]:split[1]], dates[split[1]:]
    halves = [{"date": d, "until": hhmm((start + draw(st.integers(1, length))) % 1440)} for d in half]
    country = draw(st.sampled_from(COUNTRIES))
    cal = {"time_zone": draw(st.sampled_from(ZONES)), "closed": closed, "reopened": reopened, "half_days": halves}
    if country:
        cal["holidays"] = {"country": country[0], "subdivision": country[1]}
    spec = ScheduleSpec.model_validate({
        "shifts": {"X": {"start": hhmm(a), "end": hhmm(b)}, "Y": {"start": hhmm(b), "end": hhmm(c)},
                   "Z": {"start": hhmm(c), "end": hhmm(a)}},
        "handover": ["X", "Y", "Z"],
        "business_days": draw(st.lists(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
                                       min_size=1, unique=True)),
        "calendars": {region: cal},
        "response": {"P3": {"within": "1h", "clock": "business"}}, "handoff_priorities": []})
    return spec, region


instants = st.builds(lambda d, m, us: datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(minutes=m, microseconds=us),
                     DAYS_2026, st.integers(0, 1439), st.sampled_from([0, 0, 1, 30_000_000, 59_999_999]))


@settings(max_examples=80, deadline=None)
@given(calendars(), instants, st.integers(1, 8 * 60), st.sampled_from([0, 0, 1, 59_999_999]))
def test_add_business_time_equals_the_walk(cal, t, minutes, us):
    spec, region = cal
    amount = timedelta(minutes=minutes, microseconds=us)
    due = Schedule.from_spec(spec).add_business_time(t, amount, region)
    assert due == Walk(spec, region).add(t, amount)


@settings(max_examples=120, deadline=None)
@given(calendars(), instants, st.integers(0, 4 * 1440), st.sampled_from([0, 1, 59_999_999]))
def test_business_elapsed_equals_the_walk(cal, a, minutes, us):
    spec, region = cal
    b = a + timedelta(minutes=minutes, microseconds=us)
    s, walk = Schedule.from_spec(spec), Walk(spec, region)
    got = s.business_elapsed(region, a, b)
    assert got == walk.elapsed(a, b)
    # Adding what elapsed lands at or before b: at b exactly when b is business time.
    if got:
        back = s.add_business_time(a, got, region)
        assert back <= b and s.business_elapsed(region, a, back) == got


@settings(max_examples=60, deadline=None)
@given(calendars(), instants)
def test_no_business_time_outside_the_shift_or_on_closed_dates(cal, t):
    spec, region = cal
    s, walk = Schedule.from_spec(spec), Walk(spec, region)
    minute = t.replace(second=0, microsecond=0)
    counted = s.business_elapsed(region, minute, minute + timedelta(minutes=1))
    assert counted == (timedelta(minutes=1) if walk.business(minute) else timedelta(0))
    if counted:  # then the minute is inside the region's shift, on an open local date
        assert s.on_shift(minute) == region


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["APAC", "EMEA", "AMER"]), instants, st.integers(1, 16 * 60))
def test_reference_schedule_equals_the_walk(region, t, minutes):
    spec = ScheduleSpec.model_validate(load_yaml(RULES / "schedule.yaml"))
    amount = timedelta(minutes=minutes)
    assert Schedule.from_spec(spec).add_business_time(t, amount, region) == Walk(spec, region).add(t, amount)


def test_a_schedule_pickles_for_worker_processes(sched):
    import pickle

    t = utc("2026-12-24 13:00")
    due = sched.response_due(t, "P3", "EMEA")  # fills the cache the copy leaves behind
    again = pickle.loads(pickle.dumps(sched))
    assert again.response_due(t, "P3", "EMEA") == due == utc("2026-12-28 09:00")


def test_a_half_day_ends_at_the_first_until_after_the_shift_start():
    # Found by hypothesis: a shift 10:00-00:01 UTC whose half day ends at 10:01 is open one
    # minute, not until 10:01 on the next UTC day.
    s = Schedule.from_spec(ScheduleSpec.model_validate({
        "shifts": {"X": {"start": "00:01", "end": "01:01"}, "Y": {"start": "01:01", "end": "10:00"},
                   "Z": {"start": "10:00", "end": "00:01"}},
        "handover": ["X", "Y", "Z"], "business_days": ["Mon"],
        "calendars": {"Z": {"time_zone": "Pacific/Kiritimati",
                            "half_days": [{"date": date(2026, 2, 20), "until": "10:01"}]}},
        "response": {"P3": {"within": "1h", "clock": "business"}}, "handoff_priorities": []}))
    start = utc("2026-02-19 10:00")  # 2026-02-20 00:00 in Kiritimati (UTC+14)
    assert s.business_elapsed("Z", start, start + timedelta(hours=15)) == timedelta(minutes=1)
