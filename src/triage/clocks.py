"""SLA clocks of a case at a time `now`: the `sla` object of formats.md, and the facts rules read.

A pure function of the case record and `now` (reference policy, "Clocks at `now`"):
the response clock runs from creation to the first response (or `now`) and never
pauses; the resolution clock runs from creation to the first resolved/closed status (or
`now`) except while the status is `pending_customer` (both sets of statuses are the
schedule's `resolution_clock`). Both run on the priority's clock
(`always` or the routed region's business calendar). What happens after `now` has not
happened yet: a first response or status entry later than `now` is not counted, so
evaluating the same record at a later `now` never runs a clock backwards.
Percentages are integer arithmetic on microseconds, rounded down, not capped.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.errors import TicketError
from triage.schedule import CASE_STATUSES, Schedule, iso

STATUSES = CASE_STATUSES
AT_RISK_PCT = 75
_US = timedelta(microseconds=1)
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Clock:
    """One SLA clock at `now`.

    `due` is the first instant the clock has run its whole target (None while paused);
    `elapsed` the clock's time so far (until met, else until `now`).
    """

    target: timedelta
    elapsed: timedelta
    due: datetime | None
    met: bool
    breached: bool
    used_pct: int
    at_risk: bool
    paused: bool = False

    @property
    def elapsed_minutes(self) -> int:
        return self.elapsed // _MINUTE

    def to_dict(self, with_paused: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"due": None if self.due is None else iso(self.due), "used_pct": self.used_pct,
                             "met": self.met, "breached": self.breached, "at_risk": self.at_risk}
        if with_paused:
            d["paused"] = self.paused
        return d


@dataclass(frozen=True)
class Sla:
    """Both clocks of a case at `now`, and the case's status then (with since when)."""

    now: datetime
    status: str
    status_since: datetime
    age: timedelta
    response: Clock
    resolution: Clock

    @property
    def age_minutes(self) -> int:
        return self.age // _MINUTE

    def facts(self) -> dict[str, Any]:
        """The time facts rules read: status, age, responded, both used percentages."""
        return {"status": self.status, "age_minutes": self.age_minutes, "responded": self.response.met,
                "response_used": self.response.used_pct, "resolution_used": self.resolution.used_pct}

    def to_dict(self) -> dict[str, Any]:
        """The `sla` object of formats.md."""
        return {"response": self.response.to_dict(False), "resolution": self.resolution.to_dict(True)}


def sla_at(schedule: Schedule, *, created_at: datetime, priority: str, region: str, now: datetime,
           status: str | None = None, status_history: Iterable[Any] = (),
           first_response_at: datetime | None = None) -> Sla:
    """Both clocks of a case at `now`.

    `status_history`: entries with `at` and `status` (mappings or objects), in time order;
    the case has that status from `at` until the next entry, and `new` before the first.
    Without a history, `status` (default `new`) holds from creation; with one, the history
    decides (its last entry is the current status). `region` is the routed region (its
    calendar runs business clocks). Raises `TicketError`
    naming the field for input a user can get wrong, `ScheduleError` for a priority or
    region the schedule does not know.
    """
    created_at, now = _aware(created_at, "created_at"), _aware(now, "now")
    history = _history(created_at, status, status_history, now)
    if first_response_at is not None:
        first_response_at = _aware(first_response_at, "first_response_at")
        if first_response_at < created_at:
            raise TicketError([("first_response_at", f"{iso(first_response_at)} is before created_at "
                                                     f"{iso(created_at)}")])
    since, current = next(e for e in reversed(history) if e[0] <= now)  # the first entry is at creation

    within, clock = schedule.target("response", priority)
    responded = first_response_at is not None and first_response_at <= now
    r_end = first_response_at if responded else now
    r_elapsed = schedule.elapsed(clock, region, created_at, r_end)
    r_due = schedule.add(clock, region, created_at, within)
    response = _clock(within, r_elapsed, r_due, responded, responded and r_end > r_due)

    within, clock = schedule.target("resolution", priority)
    done_at = next((a for a, s in history if s in schedule.stopped_by and a <= now), None)
    end = done_at if done_at is not None else now
    running = _running(history, end, schedule.paused_in)
    elapsed = sum((schedule.elapsed(clock, region, a, b) for a, b in running), timedelta(0))
    due = _due(schedule, clock, region, running, within, end, elapsed)
    paused = current in schedule.paused_in
    resolution = _clock(within, elapsed, None if paused else due, done_at is not None,
                        done_at is not None and done_at > due, paused)
    return Sla(now, current, since, now - created_at, response, resolution)


def _clock(target: timedelta, elapsed: timedelta, due: datetime | None, met: bool, late: bool,
           paused: bool = False) -> Clock:
    used = (elapsed // _US) * 100 // (target // _US)
    breached = late if met else used >= 100
    return Clock(target, elapsed, due, met, breached, used, not met and AT_RISK_PCT <= used < 100, paused)


def _running(history: list[tuple[datetime, str]], end: datetime,
             paused_in: frozenset[str]) -> list[tuple[datetime, datetime]]:
    """The intervals before `end` in which the resolution clock runs (status not paused)."""
    out = []
    for i, (a, s) in enumerate(history):
        b = history[i + 1][0] if i + 1 < len(history) else end
        b = min(b, end)
        if s not in paused_in and a < b:
            out.append((a, b))
    return out


def _due(schedule: Schedule, clock: str, region: str, running: list[tuple[datetime, datetime]],
         target: timedelta, end: datetime, elapsed: timedelta) -> datetime:
    """The first instant the clock had run `target`: within the running intervals when it
    already has by `end`, else by running on from `end` without pauses."""
    if elapsed < target:
        return schedule.add(clock, region, end, target - elapsed)
    acc = timedelta(0)
    for a, b in running:
        part = schedule.elapsed(clock, region, a, b)
        if acc + part >= target:
            return schedule.add(clock, region, a, target - acc)
        acc += part
    raise AssertionError("elapsed >= target but the intervals hold less")  # sums agree by construction


def _aware(t: Any, field: str) -> datetime:
    """A UTC datetime from a datetime or an ISO 8601 string with a zone."""
    if isinstance(t, str):
        try:
            t = datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise TicketError([(field, f"{t!r} is not an ISO 8601 time")]) from None
    if not isinstance(t, datetime):
        raise TicketError([(field, f"expected a time, got {type(t).__name__}")])
    if t.tzinfo is None:
        raise TicketError([(field, "a time needs its zone (e.g. Z for UTC)")])
    return t.astimezone(timezone.utc)


def _history(created: datetime, status: str | None, entries: Iterable[Any],
             now: datetime) -> list[tuple[datetime, str]]:
    """(from, status) pairs from creation on, checked; the first is (created, new) unless the
    history starts at creation."""
    if now < created:
        raise TicketError([("now", f"{iso(now)} is before created_at {iso(created)}")])
    if status is not None and status not in STATUSES:
        raise TicketError([("status", f"unknown status {status!r}; one of {', '.join(STATUSES)}")])
    out: list[tuple[datetime, str]] = []
    for i, e in enumerate(entries):
        at = e.get("at") if isinstance(e, Mapping) else getattr(e, "at", None)
        st = e.get("status") if isinstance(e, Mapping) else getattr(e, "status", None)
        field = f"status_history[{i}]"
        if at is None or st is None:
            raise TicketError([(field, "an entry needs `at` and `status`")])
        at = _aware(at, f"{field}.at")
        if st not in STATUSES:
            raise TicketError([(f"{field}.status", f"unknown status {st!r}; one of {', '.join(STATUSES)}")])
        if at < created:
            raise TicketError([(f"{field}.at", f"{iso(at)} is before created_at {iso(created)}")])
        if out and at < out[-1][0]:
            raise TicketError([(f"{field}.at", f"{iso(at)} is before the entry above it ({iso(out[-1][0])}); "
                                               "entries must be in time order")])
        out.append((at, st))
    if not out:
        return [(created, status or "new")]
    return out if out[0][0] == created else [(created, "new"), *out]
