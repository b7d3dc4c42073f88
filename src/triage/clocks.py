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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.calendar import from_us, to_us
from triage import decision as contract
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

    def contract(self, resolution: bool) -> contract.Clock:
        """This clock as the decision contract holds it (`triage.decision`)."""
        kind = contract.ResolutionClock if resolution else contract.Clock
        extra = {"paused": self.paused} if resolution else {}
        return kind(due=None if self.due is None else iso(self.due), used_pct=self.used_pct, met=self.met,
                    breached=self.breached, at_risk=self.at_risk, **extra)


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
        """The `sla` object of formats.md: `plain(contract())`, built directly (per case in a sweep)."""
        r, s = self.response, self.resolution
        return {"response": {"due": iso(r.due), "used_pct": r.used_pct, "met": r.met, "breached": r.breached,
                             "at_risk": r.at_risk},
                "resolution": {"due": None if s.due is None else iso(s.due), "used_pct": s.used_pct, "met": s.met,
                               "breached": s.breached, "at_risk": s.at_risk, "paused": s.paused}}

    def contract(self) -> contract.Sla:
        """Both clocks as the decision contract holds them (`triage.decision.Sla`)."""
        return contract.Sla(self.response.contract(False), self.resolution.contract(True))


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
    created_at, now = instant(created_at, "created_at"), instant(now, "now")
    history = _history(created_at, status, status_history, now)
    if first_response_at is not None:
        first_response_at = instant(first_response_at, "first_response_at")
        if first_response_at < created_at:
            raise TicketError([("first_response_at", f"{iso(first_response_at)} is before created_at "
                                                     f"{iso(created_at)}")])
    since, current = next(e for e in reversed(history) if e[0] <= now)  # the first entry is at creation
    # From here on in integer µs since the epoch: exact, and several times faster than datetimes.
    c, n = to_us(created_at), to_us(now)

    within, clock = schedule.target("response", priority)
    elapsed, add = schedule.clock_us(clock, region)
    target = within // _US
    responded = first_response_at is not None and first_response_at <= now
    r_end = to_us(first_response_at) if responded else n
    r_due = add(c, target)
    response = _clock(target, elapsed(c, r_end), r_due, responded, responded and r_end > r_due)

    within, clock = schedule.target("resolution", priority)
    elapsed, add = schedule.clock_us(clock, region)
    target = within // _US
    done_at = next((a for a, s in history if s in schedule.stopped_by and a <= now), None)
    end = to_us(done_at) if done_at is not None else n
    running = _running([(to_us(a), s) for a, s in history], end, schedule.paused_in)
    run = sum(elapsed(a, b) for a, b in running)
    due = _due(elapsed, add, running, target, end, run)
    paused = current in schedule.paused_in
    resolution = _clock(target, run, None if paused else due, done_at is not None,
                        done_at is not None and end > due, paused)
    return Sla(now, current, since, now - created_at, response, resolution)


def status_at(*, created_at: datetime, now: datetime, status: str | None = None,
              status_history: Iterable[Any] = ()) -> tuple[str, datetime]:
    """The case's status at `now` and since when (what `sla_at` reads, without a priority)."""
    now = instant(now, "now")
    history = _history(instant(created_at, "created_at"), status, status_history, now)
    since, current = next(e for e in reversed(history) if e[0] <= now)
    return current, since


def _clock(target: int, elapsed: int, due: int | None, met: bool, late: bool, paused: bool = False) -> Clock:
    """A clock from µs: used % rounded down; breached when met late or unmet at 100 %."""
    used = elapsed * 100 // target
    breached = late if met else used >= 100
    return Clock(timedelta(microseconds=target), timedelta(microseconds=elapsed),
                 None if due is None else from_us(due), met, breached, used,
                 not met and AT_RISK_PCT <= used < 100, paused)


def _running(history: list[tuple[int, str]], end: int, paused_in: frozenset[str]) -> list[tuple[int, int]]:
    """The intervals before `end` in which the resolution clock runs (status not paused)."""
    out = []
    for i, (a, s) in enumerate(history):
        b = history[i + 1][0] if i + 1 < len(history) else end
        b = min(b, end)
        if s not in paused_in and a < b:
            out.append((a, b))
    return out


def _due(elapsed: Callable[[int, int], int], add: Callable[[int, int], int], running: list[tuple[int, int]],
         target: int, end: int, run: int) -> int:
    """The first instant the clock had run `target`: within the running intervals when it
    already has by `end`, else by running on from `end` without pauses."""
    if run < target:
        return add(end, target - run)
    acc = 0
    for a, b in running:
        part = elapsed(a, b)
        if acc + part >= target:
            return add(a, target - acc)
        acc += part
    raise AssertionError("run >= target but the intervals hold less")  # sums agree by construction


def instant(t: Any, field: str = "now") -> datetime:
    """A UTC datetime from a datetime or an ISO 8601 string with a zone; a `TicketError`
    naming `field` otherwise."""
    if t.__class__ is datetime and t.tzinfo is timezone.utc:
        return t  # the common case: a validated ticket's times
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
        if isinstance(e, Mapping):
            at, st = e.get("at"), e.get("status")
        else:
            at, st = getattr(e, "at", None), getattr(e, "status", None)
        if at is None or st is None:
            raise TicketError([(f"status_history[{i}]", "an entry needs `at` and `status`")])
        at = instant(at, f"status_history[{i}].at")
        if st not in STATUSES:
            raise TicketError([(f"status_history[{i}].status",
                                f"unknown status {st!r}; one of {', '.join(STATUSES)}")])
        if at < created:
            raise TicketError([(f"status_history[{i}].at", f"{iso(at)} is before created_at {iso(created)}")])
        if out and at < out[-1][0]:
            raise TicketError([(f"status_history[{i}].at", f"{iso(at)} is before the entry above it "
                                                           f"({iso(out[-1][0])}); entries must be in time order")])
        out.append((at, st))
    if not out:
        return [(created, status or "new")]
    return out if out[0][0] == created else [(created, "new"), *out]
