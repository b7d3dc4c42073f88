"""Follow-the-sun: shift windows, hand-over order, business hours and response targets.

All of it comes from the rule folder's `schedule.yaml`, none from code. Times are UTC;
a shift's start is inclusive and its end exclusive; a shift may wrap midnight
(APAC 23:00-07:00). Business time of a region is every instant whose UTC weekday is a
business day and whose UTC time of day lies within that region's shift.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from triage.errors import ScheduleError
from triage.rules.yamlio import line_at, load_yaml

_MICROSECOND = timedelta(microseconds=1)
_WEEK_US = 7 * 86_400 * 1_000_000
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


class ScheduleSpec(BaseModel):
    """`schedule.yaml`."""

    model_config = ConfigDict(extra="forbid")
    shifts: dict[str, ShiftSpec]
    handover: list[str] = Field(description="Hand-over order; the last hands over to the first.")
    business_days: list[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]]
    response: dict[str, TargetSpec] = Field(description="First-response target per priority.")
    handoff_priorities: list[str] = Field(description="Priorities whose decision names the hand-over.")
    priority_decision: str = "priority"
    region_decision: str = "region"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Shift:
    region: str
    start: int  # minutes after midnight UTC
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def segments(self) -> list[tuple[int, int]]:
        """The shift's parts within one UTC day, as [start, end) minutes."""
        if self.start < self.end:
            return [(self.start, self.end)]
        return [(0, self.end), (self.start, 1440)] if self.end > 0 else [(self.start, 1440)]


class Schedule:
    """Shifts that tile the day, the hand-over order, business days and response targets."""

    def __init__(self, shifts: list[Shift], handover: list[str], business_days: set[int],
                 response: dict[str, tuple[timedelta, str]], handoff_priorities: set[str],
                 priority_decision: str = "priority", region_decision: str = "region"):
        self.shifts = shifts
        self.handover = handover
        self.business_days = business_days
        self.response = response
        self.handoff_priorities = handoff_priorities
        self.priority_decision = priority_decision
        self.region_decision = region_decision
        self._by_minute = [self._find(m) for m in range(1440)]
        self._next = {r: handover[(i + 1) % len(handover)] for i, r in enumerate(handover)}
        # Per minute of the day: time from the minute's start to the end of the shift on
        # (hand-over), and per region to the end of its business segment (None when off).
        self._to_shift_end = [timedelta(minutes=(self._by_minute[m].end - m) % 1440) for m in range(1440)]
        self._to_segment_end_us = {s.region: [_segment_end(s, m) for m in range(1440)] for s in shifts}
        self._week_segments = {s.region: _week_segments(s, business_days) for s in shifts}

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
            raise ScheduleError("schedule file not found", file=str(path))
        from triage.errors import RuleFileError

        try:
            raw = load_yaml(path)
        except RuleFileError as exc:
            raise ScheduleError(exc.reason + (f" (line {exc.line})" if exc.line else ""), file=str(path)) from None
        try:
            spec = ScheduleSpec.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in err["loc"])
            line = line_at(raw, err["loc"])
            raise ScheduleError(f"line {line}: {loc}: {err['msg']}", file=str(path)) from None
        return cls.from_spec(spec, str(path))

    @classmethod
    def from_spec(cls, spec: ScheduleSpec, file: str | None = None) -> "Schedule":
        shifts = [Shift(r, _minutes(s.start), _minutes(s.end)) for r, s in spec.shifts.items()]
        for s in shifts:
            if s.start == s.end:
                raise ScheduleError(f"shift {s.region} is empty (start = end)", file=file)
        for m in range(1440):
            on = [s.region for s in shifts if s.contains(m)]
            if len(on) != 1:
                what = "no shift" if not on else f"shifts {', '.join(on)} overlap and"
                raise ScheduleError(f"{what} cover{'s' if not on else ''} {m // 60:02d}:{m % 60:02d} UTC;"
                                    " shifts must tile the day", file=file)
        if sorted(spec.handover) != sorted(spec.shifts):
            raise ScheduleError(f"handover must list each shift region once: {sorted(spec.shifts)}", file=file)
        if not spec.business_days:
            raise ScheduleError("business_days must not be empty", file=file)
        response = {p: (parse_duration(t.within), t.clock) for p, t in spec.response.items()}
        return cls(shifts, list(spec.handover), {DAYS.index(d) for d in spec.business_days}, response,
                   set(spec.handoff_priorities), spec.priority_decision, spec.region_decision)

    def on_shift(self, t: datetime) -> str:
        return self._by_minute[t.hour * 60 + t.minute].region

    def shift_end(self, t: datetime) -> datetime:
        """When the shift on at `t` ends (the next end boundary after t)."""
        return t.replace(second=0, microsecond=0) + self._to_shift_end[t.hour * 60 + t.minute]

    def handoff(self, t: datetime) -> tuple[datetime, str]:
        return self.shift_end(t), self._next[self.on_shift(t)]

    def response_due(self, t: datetime, priority: str, region: str) -> datetime:
        target = self.response.get(priority)
        if target is None:
            raise ScheduleError(f"no response target for priority {priority!r}")
        within, clock = target
        if clock == "always":
            return t + within
        return self.add_business_time(t, within, region)

    def add_business_time(self, t: datetime, amount: timedelta, region: str) -> datetime:
        """`t` plus `amount` of the region's business time (its shift on business days)."""
        to_end = self._to_segment_end_us.get(region)
        if to_end is None:
            raise ScheduleError(f"no shift for region {region!r}")
        if t.weekday() in self.business_days:
            # Common case: created in the region's business time and due before its segment ends.
            left = to_end[t.hour * 60 + t.minute]
            if left is not None and t.second * 1_000_000 + t.microsecond + amount // _MICROSECOND <= left:
                return t + amount
        # Otherwise walk the region's business segments of the week from t's place in it.
        starts, ends = self._week_segments[region]
        week = (t - timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        at = (t - week) // _MICROSECOND
        remaining = amount // _MICROSECOND
        i, offset = bisect_right(ends, at), 0
        while True:
            if i == len(ends):
                i, offset = 0, offset + _WEEK_US
            start = max(starts[i] + offset, at)
            if remaining <= ends[i] + offset - start:
                return week + timedelta(microseconds=start + remaining)
            remaining -= ends[i] + offset - start
            i += 1


def iso(t: datetime) -> str:
    """UTC time as `2026-11-25T09:30:00Z` (fractions kept when present)."""
    if t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    return t.isoformat()[:-6] + "Z"  # drops "+00:00"


def _segment_end(shift: Shift, minute: int) -> int | None:
    """Microseconds from `minute`'s start to the end of the shift's segment holding it (None: off shift)."""
    for a, b in shift.segments():
        if a <= minute < b:
            return (b - minute) * 60_000_000
    return None


def _week_segments(shift: Shift, business_days: set[int]) -> tuple[list[int], list[int]]:
    """The shift's business segments in a week from Monday 00:00 UTC: starts and ends in µs.
    Not empty: shifts and business days are never empty (`from_spec` refuses both)."""
    segments = [(day * 1440 + a, day * 1440 + b) for day in sorted(business_days) for a, b in shift.segments()]
    return [a * 60_000_000 for a, _ in segments], [b * 60_000_000 for _, b in segments]
