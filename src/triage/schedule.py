"""Follow-the-sun: shift windows, hand-over order, business calendars and SLA targets.

All of it comes from the rule folder's `schedule.yaml`, none from code. Shift times are
UTC; a shift's start is inclusive and its end exclusive; a shift may wrap midnight
(APAC 23:00-07:00). Business time of a region is its shift on open local dates: the
date, in the region's time zone, at the instant the shift starts (see `calendar`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from triage.calendar import BusinessCalendar, DayRule, from_us, to_us
from triage.errors import ScheduleError
from triage.rules.yamlio import line_at, load_yaml
from triage.ticket import Status

_MICROSECOND = timedelta(microseconds=1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration such as 15m, 1h, 4h or 1h30m")
    d, h, mi = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi)


class ShiftSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(description="HH:MM UTC, inclusive")
    end: str = Field(description="HH:MM UTC, exclusive")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"{v!r} is not a time HH:MM")
        return v


class TargetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within: str
    clock: Literal["always", "business"]

    @field_validator("within")
    @classmethod
    def _duration(cls, v: str) -> str:
        if parse_duration(v) <= timedelta(0):
            raise ValueError("must be positive")
        return v


def _code_error(code: str, message: str) -> PydanticCustomError:
    """A validation error whose type is a stable `schedule.*` code (kept in `ScheduleError.code`)."""
    return PydanticCustomError(code, message)


def _parse_date(v: Any) -> date:
    """A date written `2026-12-24` (YAML reads it as a date; quoted, as a string)."""
    if isinstance(v, date) and not isinstance(v, datetime):
        return v
    if isinstance(v, str) and _DATE.match(v):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise _code_error("schedule.bad-date", f"{v!r} is not a date YYYY-MM-DD")


Day = Annotated[date, BeforeValidator(_parse_date)]


class HolidaysSpec(BaseModel):
    """A public-holiday calendar of the `holidays` library."""

    model_config = ConfigDict(extra="forbid")
    country: str = Field(description="ISO 3166 code the holidays library supports, e.g. AU, DE, US.")
    subdivision: str | None = Field(None, description="State or province, e.g. QLD; none: national holidays.")

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        known = holidays.list_supported_countries()
        if v not in known:
            near = get_close_matches(v.upper(), known, n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise _code_error("schedule.unknown-country",
                              f"unknown country {v!r} for the holidays library{hint}")
        return v

    @model_validator(mode="after")
    def _subdivision(self) -> "HolidaysSpec":
        subs = holidays.list_supported_countries()[self.country]
        if self.subdivision is not None and self.subdivision not in subs:
            raise _code_error("schedule.unknown-subdivision",
                              f"unknown subdivision {self.subdivision!r} of {self.country}"
                              + (f"; known: {', '.join(subs)}" if subs else f"; {self.country} has none"))
        return self


class HalfDaySpec(BaseModel):
    """A local date whose shift is business time only from its start until `until` (UTC)."""

    model_config = ConfigDict(extra="forbid")
    date: Day
    until: str = Field(description="HH:MM UTC: business time ends at this time within the date's shift.")

    @field_validator("until")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"{v!r} is not a time HH:MM")
        return v


class CalendarSpec(BaseModel):
    """One region's calendar: the zone of its dates, its public holidays, its own dates."""

    model_config = ConfigDict(extra="forbid")
    time_zone: str = Field(description="IANA zone whose local date a shift start falls on, e.g. Europe/Berlin.")
    holidays: HolidaysSpec | None = Field(None, description="Public holidays; none: only the dates below.")
    closed: list[Day] = Field(default_factory=list, description="Local dates with no business time.")
    reopened: list[Day] = Field(default_factory=list,
                                description="Local dates with business time whatever weekday or holiday.")
    half_days: list[HalfDaySpec] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise _code_error("schedule.unknown-time-zone",
                              f"unknown time zone {v!r} (an IANA name such as Europe/Berlin)") from None
        return v

    @model_validator(mode="after")
    def _dates_once(self) -> "CalendarSpec":
        seen: dict[date, str] = {}
        for what, days in (("closed", self.closed), ("reopened", self.reopened),
                           ("half_days", [h.date for h in self.half_days])):
            for d in days:
                if d in seen:
                    where = f"twice in {what}" if seen[d] == what else f"in {seen[d]} and {what}"
                    raise _code_error("schedule.conflicting-dates", f"{d} is listed {where}")
                seen[d] = what
        return self


CaseStatus = Status  # the ticket's case statuses (`triage.ticket`)
CASE_STATUSES = get_args(Status)


class ResolutionClockSpec(BaseModel):
    """Which case statuses pause the resolution clock and which stop it (the target is met)."""

    model_config = ConfigDict(extra="forbid")
    paused_in: list[CaseStatus] = Field(default_factory=lambda: ["pending_customer"])
    stopped_by: list[CaseStatus] = Field(default_factory=lambda: ["resolved", "closed"], min_length=1)

    @model_validator(mode="after")
    def _disjoint(self) -> "ResolutionClockSpec":
        both = sorted(set(self.paused_in) & set(self.stopped_by))
        if both:
            raise _code_error("schedule.conflicting-statuses", f"{', '.join(both)} both pauses and stops the clock")
        return self


class EscalationSpec(BaseModel):
    """The escalation ladder: which decision climbs it, and the level each step sets."""

    model_config = ConfigDict(extra="forbid")
    decision: str = Field("escalation", description="The decision whose value is the tier a case escalates to.")
    levels: dict[str, int] = Field(description="escalation_level a case has at least, once escalated to each tier.")


class ScheduleSpec(BaseModel):
    """`schedule.yaml`."""

    model_config = ConfigDict(extra="forbid")
    shifts: dict[str, ShiftSpec]
    handover: list[str] = Field(description="Hand-over order; the last hands over to the first.")
    business_days: list[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]]
    calendars: dict[str, CalendarSpec] = Field(
        default_factory=dict, description="Per shift region; a region without one has UTC dates and no holidays.")
    response: dict[str, TargetSpec] = Field(description="First-response target per priority.")
    resolution: dict[str, TargetSpec] = Field(default_factory=dict, description="Resolution target per priority.")
    resolution_clock: ResolutionClockSpec = Field(default_factory=ResolutionClockSpec)
    handoff_priorities: list[str] = Field(description="Priorities whose decision names the hand-over.")
    priority_decision: str = "priority"
    region_decision: str = "region"
    escalation: EscalationSpec | None = Field(None, description="The ladder a sweep climbs (none: no escalation).")


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Shift:
    region: str
    start: int  # minutes after midnight UTC
    end: int

    @property
    def length(self) -> int:
        """Minutes; a shift wrapping midnight counts across it."""
        return (self.end - self.start) % 1440

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


@dataclass(frozen=True)
class ShiftEnd:
    """A hand-over instant: the shift of `ending` ends at `at` and `receiving` takes its cases."""

    at: datetime
    ending: str
    receiving: str


class Schedule:
    """Shifts that tile the day, the hand-over order, calendars and SLA targets."""

    def __init__(self, shifts: list[Shift], handover: list[str], business_days: set[int],
                 response: dict[str, tuple[timedelta, str]], handoff_priorities: set[str],
                 priority_decision: str = "priority", region_decision: str = "region",
                 resolution: dict[str, tuple[timedelta, str]] | None = None,
                 calendars: dict[str, BusinessCalendar] | None = None,
                 paused_in: frozenset[str] = frozenset({"pending_customer"}),
                 stopped_by: frozenset[str] = frozenset({"resolved", "closed"}),
                 escalation: tuple[str, dict[str, int]] | None = None):
        self.shifts = shifts
        self.handover = handover
        self.business_days = business_days
        self.response = response
        self.resolution = resolution or {}
        self.paused_in = paused_in  # case statuses in which the resolution clock does not run
        self.stopped_by = stopped_by  # case statuses that meet the resolution target
        self.handoff_priorities = handoff_priorities
        self.priority_decision = priority_decision
        self.region_decision = region_decision
        # (decision, level per tier escalated to): the ladder `Triage.sweep` climbs one step at a time
        self.escalation = escalation
        self.file: str | None = None  # the schedule file, and the lines of its targets, when loaded from one
        self.lines: dict[str, int | None] = {}
        self._by_minute = [self._find(m) for m in range(1440)]
        self._next = {r: handover[(i + 1) % len(handover)] for i, r in enumerate(handover)}
        # Per minute of the day: time from the minute's start to the end of the shift on (hand-over).
        self._to_shift_end = [timedelta(minutes=(self._by_minute[m].end - m) % 1440) for m in range(1440)]
        self._ends = sorted((s.end, s.region) for s in shifts)  # hand-over minutes of each UTC day
        calendars = dict(calendars or {})
        for s in shifts:
            if s.region not in calendars:
                calendars[s.region] = BusinessCalendar(s.region, s.start, s.length, timezone.utc, business_days, ())
        self.calendars = calendars

    def _find(self, minute: int) -> Shift:
        for s in self.shifts:
            if s.contains(minute):
                return s
        raise ScheduleError(f"no shift covers {minute // 60:02d}:{minute % 60:02d} UTC")

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(s.region for s in self.shifts)

    @classmethod
    def load(cls, path: str | Path) -> "Schedule":
        path = Path(path)
        if not path.is_file():
            raise ScheduleError("schedule file not found", file=str(path), code="schedule.not-found")
        from triage.errors import RuleFileError

        try:
            raw = load_yaml(path)
        except RuleFileError as exc:
            raise ScheduleError(exc.reason, file=str(path), line=exc.line, code="schedule.invalid-yaml") from None
        try:
            spec = ScheduleSpec.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in err["loc"])
            code = err["type"] if err["type"].startswith("schedule.") else "schedule.invalid"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            raise ScheduleError(f"{loc}: {msg}" if loc else msg, file=str(path),
                                line=line_at(raw, err["loc"]), code=code) from None
        return cls.from_spec(spec, str(path), raw)

    @classmethod
    def from_spec(cls, spec: ScheduleSpec, file: str | None = None, raw: Any = None) -> "Schedule":
        """Build and check the whole-file rules pydantic cannot see (tiling, hand-over, calendars).
        `raw`: the loaded YAML, for line numbers."""
        def fail(reason: str, code: str, *loc: Any) -> ScheduleError:
            return ScheduleError(reason, file=file, line=line_at(raw, loc) if raw is not None else None, code=code)

        shifts = [Shift(r, _minutes(s.start), _minutes(s.end)) for r, s in spec.shifts.items()]
        for s in shifts:
            if s.start == s.end:
                raise fail(f"shift {s.region} is empty (start = end)", "schedule.empty-shift", "shifts", s.region)
        for m in range(1440):
            on = [s.region for s in shifts if s.contains(m)]
            if len(on) != 1:
                if on:
                    raise fail(f"shifts {', '.join(on)} overlap and cover {m // 60:02d}:{m % 60:02d} UTC; "
                               "shifts must tile the day", "schedule.overlapping-shifts", "shifts", on[-1])
                raise fail(f"no shift covers {m // 60:02d}:{m % 60:02d} UTC; shifts must tile the day",
                           "schedule.shift-gap", "shifts")
        if sorted(spec.handover) != sorted(spec.shifts):
            raise fail(f"handover must list each shift region once: {sorted(spec.shifts)}",
                       "schedule.bad-handover", "handover")
        if not spec.business_days:
            raise fail("business_days must not be empty", "schedule.no-business-days", "business_days")
        business_days = {DAYS.index(d) for d in spec.business_days}
        by_region = {s.region: s for s in shifts}
        calendars = {}
        for region, cal in spec.calendars.items():
            shift = by_region.get(region)
            if shift is None:
                raise fail(f"calendar for {region!r}, which has no shift ({', '.join(by_region)})",
                           "schedule.unknown-region", "calendars", region)
            half_days = []
            for i, h in enumerate(cal.half_days):
                open_min = (_minutes(h.until) - shift.start) % 1440
                if not 0 < open_min <= shift.length:
                    raise fail(f"half day {h.date}: until {h.until} is not within {region}'s shift "
                               f"({spec.shifts[region].start}-{spec.shifts[region].end} UTC, after its start)",
                               "schedule.bad-half-day", "calendars", region, "half_days", i, "until")
                half_days.append((h.date, open_min))
            hols = (holidays.country_holidays(cal.holidays.country, subdiv=cal.holidays.subdivision)
                    if cal.holidays else ())
            days = DayRule(frozenset(cal.closed), frozenset(cal.reopened), tuple(half_days))
            calendars[region] = BusinessCalendar(region, shift.start, shift.length, ZoneInfo(cal.time_zone),
                                                 business_days, hols, days)
        targets = {kind: {p: (parse_duration(t.within), t.clock) for p, t in getattr(spec, kind).items()}
                   for kind in ("response", "resolution")}
        schedule = cls(shifts, list(spec.handover), business_days, targets["response"],
                       set(spec.handoff_priorities), spec.priority_decision, spec.region_decision,
                       targets["resolution"], calendars, frozenset(spec.resolution_clock.paused_in),
                       frozenset(spec.resolution_clock.stopped_by),
                       (spec.escalation.decision, dict(spec.escalation.levels)) if spec.escalation else None)
        # Where a fault met later (a priority without a target) is named.
        schedule.file, schedule.lines = file, {kind: line_at(raw, (kind,)) if raw is not None else None
                                               for kind in ("response", "resolution")}
        return schedule

    # -- shifts and hand-over ------------------------------------------------------------

    def on_shift(self, t: datetime) -> str:
        return self._by_minute[t.hour * 60 + t.minute].region

    def shift_end(self, t: datetime) -> datetime:
        """When the shift on at `t` ends (the next end boundary after t)."""
        return t.replace(second=0, microsecond=0) + self._to_shift_end[t.hour * 60 + t.minute]

    def handoff(self, t: datetime) -> tuple[datetime, str]:
        return self.shift_end(t), self._next[self.on_shift(t)]

    def next_shift_end(self, t: datetime) -> ShiftEnd:
        """The first hand-over strictly after `t`."""
        end = self.shift_end(t)
        return self._shift_end_at(end)

    def shift_ends_between(self, a: datetime, b: datetime) -> list[ShiftEnd]:
        """Every hand-over in (a, b], in time order."""
        out = []
        t = a
        while True:
            e = self.next_shift_end(t)
            if e.at > b:
                return out
            out.append(e)
            t = e.at

    def handover_at(self, t: datetime) -> ShiftEnd:
        """The hand-over at exactly `t`; a `ScheduleError` naming the nearest ends when `t` is none."""
        if t.second == 0 and t.microsecond == 0 and any(m == t.hour * 60 + t.minute for m, _ in self._ends):
            return self._shift_end_at(t)
        before = self.next_shift_end(t - timedelta(days=1))
        while True:  # the last end before t
            nxt = self.next_shift_end(before.at)
            if nxt.at >= t:
                break
            before = nxt
        raise ScheduleError(f"{iso(t)} is not a shift end (hand-overs are at "
                            f"{', '.join(f'{m // 60:02d}:{m % 60:02d}' for m, _ in self._ends)} UTC; "
                            f"the nearest are {iso(before.at)} and {iso(self.next_shift_end(t).at)})",
                            code="schedule.not-a-shift-end")

    def _shift_end_at(self, end: datetime) -> ShiftEnd:
        ending = next(r for m, r in self._ends if m == end.hour * 60 + end.minute)
        return ShiftEnd(end, ending, self._next[ending])

    # -- clocks ----------------------------------------------------------------------------

    def target(self, kind: str, priority: str) -> tuple[timedelta, str]:
        """(within, clock) of the `response` or `resolution` target of a priority."""
        found = (self.response if kind == "response" else self.resolution).get(priority)
        if found is None:
            raise ScheduleError(f"no {kind} target for priority {priority!r}", file=self.file,
                                line=self.lines.get(kind), code="schedule.no-target")
        return found

    def _calendar(self, region: str) -> BusinessCalendar:
        cal = self.calendars.get(region)
        if cal is None:
            raise ScheduleError(f"no shift for region {region!r}", code="schedule.unknown-region")
        return cal

    def business_elapsed(self, region: str, start: datetime, end: datetime) -> timedelta:
        """Business time of the region in [start, end) (zero when end <= start)."""
        return timedelta(microseconds=self._calendar(region).elapsed_us(to_us(start), to_us(end)))

    def add_business_time(self, t: datetime, amount: timedelta, region: str) -> datetime:
        """The first instant at which the region's business clock, started at `t`, has run `amount`."""
        cal = self._calendar(region)
        try:
            return from_us(cal.add_us(to_us(t), amount // _MICROSECOND))
        except OverflowError:
            raise ScheduleError(f"{region} has no business time left before the end of the calendar",
                                code="schedule.no-business-time") from None

    def clock_us(self, clock: str, region: str) -> tuple[Callable[[int, int], int], Callable[[int, int], int]]:
        """(elapsed(a, b), add(t, amount)) of a clock in integer µs since the epoch: the hot path
        of `triage.clocks`, free of datetime arithmetic."""
        if clock == "always":
            return _always_elapsed, _always_add
        cal = self._calendar(region)
        return cal.elapsed_us, cal.add_us

    def elapsed(self, clock: str, region: str, start: datetime, end: datetime) -> timedelta:
        """Time on `clock` (`always` or `business`) in [start, end)."""
        if clock == "always":
            return max(end - start, timedelta(0))
        return self.business_elapsed(region, start, end)

    def add(self, clock: str, region: str, start: datetime, amount: timedelta) -> datetime:
        """The first instant at which `clock`, started at `start`, has run `amount`."""
        if clock == "always":
            return start + amount
        return self.add_business_time(start, amount, region)

    def response_due(self, t: datetime, priority: str, region: str) -> datetime:
        within, clock = self.target("response", priority)
        return self.add(clock, region, t, within)

    def resolution_due(self, t: datetime, priority: str, region: str) -> datetime:
        """Due time of a resolution clock started at `t` that never pauses (a new ticket's)."""
        within, clock = self.target("resolution", priority)
        return self.add(clock, region, t, within)


def _always_elapsed(a: int, b: int) -> int:
    return b - a if b > a else 0


def _always_add(t: int, amount: int) -> int:
    return t + amount


def iso(t: datetime) -> str:
    """UTC time as `2026-11-25T09:30:00Z` (fractions kept when present)."""
    if t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    return t.isoformat()[:-6] + "Z"  # drops "+00:00"
