"""Multi-customer incidents over a stream of tickets: `Correlator(triage, spec).feed(ticket)`.

What makes an incident (the rule of `correlation.yaml`): for one key value (a location,
a service), a *qualifying window* is any span of `window` (both ends inclusive: tickets
exactly 15 minutes apart are within 15 minutes) holding eligible tickets from at least
`threshold` distinct accounts. Every ticket inside a qualifying window is an incident
member; members of windows that share a ticket (later windows of a continuing outage,
or the same ticket matching by location and by service) are one incident. So no ticket
carries an incident id unless `threshold` distinct accounts lie within one window with
it; a ticket from an account already counted joins without raising the count.

Each member is decided by the normal rules with `affected_customers` = the incident's
distinct accounts (or the ticket's own count, if larger) and `incident_id` set.
Incident ids are deterministic: "INC-" + a hash of the key value and the earliest
member (created_at, id) when the incident formed; an incident that grows keeps its id,
and when two merge the older id stays.

Eligible: a category of the rule, an account, and a value for the key. Tickets
without them are decided normally and never held in memory.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from triage.correlation.engine import CorrelationEngine
from triage.correlation.spec import CorrelationSpec, load_correlation
from triage.decision import Decision
from triage.errors import RuleFileError, TriageError
from triage.rules.layout import CORRELATION_FILE

_UTC_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def epoch_ms(t: datetime) -> int:
    """created_at as integer milliseconds since 1970 (sub-millisecond parts are dropped)."""
    delta = t - _UTC_EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


@dataclass(eq=False)
class _Live:
    """A correlatable ticket still inside the horizon (window + lateness of the newest)."""

    index: int
    tag: Any
    classified: Any  # triage.router.Classified
    ts: int
    account: str
    keys: list[tuple[str, str]]  # (key fact, normalised value)
    decision: Decision
    facts: list[tuple[int, str]] = field(default_factory=list)
    incident: "_Incident | None" = None
    basis: tuple[int, str] | None = None  # (affected_customers, incident id) of `decision`


@dataclass(eq=False)
class _Incident:
    id: str
    order: int
    members: dict[int, _Live] = field(default_factory=dict)
    # Accounts ever counted: expiring a member from memory does not lower the count.
    accounts: set[str] = field(default_factory=set)


class Correlator:
    """Feed tickets in `created_at` order; get each decision and the revisions incidents cause.

    `feed(ticket)` returns the ticket's own decision first, then a revised decision for
    every earlier ticket whose decision the ticket changed (it formed or grew their
    incident). Decisions are never held back: the latest decision per ticket is its final
    one. Tickets may arrive up to `spec.lateness` out of `created_at` order (measured
    against the newest `created_at` fed so far) and are still correlated; a ticket later
    than that is decided normally but not correlated (`late` counts them).

    Memory is bounded by the tickets of the last `window + lateness`: older events are
    retracted from the durable_rules session and forgotten, so an incident that grows
    after a member was forgotten does not revise that member again.

    Not for concurrent feeding from several threads in any meaningful order; calls are
    serialised by a lock. `flush()` ends the stream and forgets everything; `close()` (or
    leaving a `with` block) also hands the durable_rules engine back for reuse.
    """

    def __init__(self, triage: Any, spec: CorrelationSpec | None = None):
        if spec is None:
            spec = load_correlation(triage.ruleset.folder)
            if spec is None:
                raise RuleFileError("the rule set has no correlation rule (correlation.yaml); "
                                    "add one to correlate multi-customer incidents",
                                    file=str(Path(triage.ruleset.folder) / CORRELATION_FILE))
        self.triage = triage
        self.spec = spec
        self.window_ms = int(spec.window.total_seconds() * 1000)
        self.lateness_ms = int(spec.lateness.total_seconds() * 1000)
        self._categories = frozenset(spec.categories)
        self.engine = CorrelationEngine.acquire(spec.categories)
        self._lock = threading.RLock()
        self._index = itertools.count()
        self._order = itertools.count()
        self._live: dict[int, _Live] = {}
        self._by_fact: dict[int, _Live] = {}
        self._expiry: list[tuple[int, int]] = []  # (ts, index) heap of live tickets
        self._incidents: dict[str, _Incident] = {}
        self.watermark: int | None = None  # newest created_at fed, in ms
        self.late = 0

    # --- feeding ---------------------------------------------------------------------

    def feed(self, ticket: Any) -> list[Decision]:
        """Decide one ticket (a mapping, `Ticket` or `Classified`); see the class docstring.

        Raises `TicketError` for an invalid ticket, which then leaves no trace.
        """
        return [d for _, d in self.feed_tagged(ticket)]

    def feed_tagged(self, ticket: Any, tag: Any = None) -> list[tuple[Any, Decision]]:
        """Like `feed`, each decision paired with the `tag` its ticket was fed with (default:
        the ticket's 0-based feed index), so that callers can tell which of their records a
        revision belongs to, even when ticket ids repeat."""
        from triage.router import Classified

        c = ticket if isinstance(ticket, Classified) else self._classify(ticket)
        with self._lock:
            return self._feed(c, tag)

    def feed_many(self, tickets: Iterable[Any], chunk_size: int = 512,
                  errors: Literal["raise", "yield"] = "raise") -> Iterator[list[Decision] | TriageError]:
        """Feed tickets in order, classifying each chunk in one model call. Yields one list
        per ticket (as `feed`), or with `errors="yield"` an invalid ticket's error."""
        from triage.router import each_classified

        def run(chunk: list[Any]) -> Iterator[list[Decision] | TriageError]:
            return each_classified(self.triage.classify_many(chunk), errors, self.feed)

        chunk: list[Any] = []
        for item in tickets:
            chunk.append(item)
            if len(chunk) >= chunk_size:
                yield from run(chunk)
                chunk = []
        if chunk:
            yield from run(chunk)

    def flush(self) -> list[Decision]:
        """End of the stream: retract every event and forget all tickets and incidents.

        Decisions are never held back, so there is nothing left to emit: the list is
        always empty (it is returned so that `out += c.flush()` reads naturally). Feeding
        may continue afterwards as a new stream.
        """
        with self._lock:
            for live in list(self._live.values()):
                self._forget(live)
            self._expiry.clear()
            self._incidents.clear()
            self.watermark = None
            return []

    def close(self) -> None:
        """Flush and hand the durable_rules engine back for reuse; the correlator is done."""
        with self._lock:
            if self.engine is not None:
                self.flush()
                self.engine.release()
                self.engine = None  # type: ignore[assignment]

    def __enter__(self) -> "Correlator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- introspection ---------------------------------------------------------------

    @property
    def live_tickets(self) -> int:
        return len(self._live)

    def live_facts(self) -> int:
        """Facts in the durable_rules session (walks them: for tests and monitoring)."""
        return self.engine.live_facts()

    def incidents(self) -> dict[str, list[str]]:
        """Live incidents: id -> ticket ids of the members still in memory."""
        with self._lock:
            return {i.id: [m.classified.ticket.id for m in sorted(i.members.values(), key=_order_key)]
                    for i in self._incidents.values()}

    # --- the work --------------------------------------------------------------------

    def _classify(self, ticket: Any) -> Any:
        c = self.triage.classify_many([ticket])[0]
        if isinstance(c, TriageError):
            raise c
        return c

    def _feed(self, c: Any, tag: Any) -> list[tuple[Any, Decision]]:
        own = self.triage.decide(c)
        index = next(self._index)
        tag = index if tag is None else tag
        ts = epoch_ms(c.ticket.created_at)
        if self.watermark is not None and ts < self.watermark - self.lateness_ms:
            self.late += 1
            return [(tag, own)]
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
            self._expire(self.watermark - self.lateness_ms - self.window_ms)
        facts = self.triage.facts_of(c.ticket, c.category)
        account = facts.get(self.spec.account)
        category = facts.get("category")
        keys = [(k, _norm(facts.get(k))) for k in self.spec.keys]
        keys = [(k, v) for k, v in keys if v is not None]
        if category not in self._categories or not isinstance(account, str) or not account or not keys:
            return [(tag, own)]
        live = _Live(index, tag, c, ts, account, keys, own)

        # Ask the rule for the neighbours on each key; find the qualifying windows with
        # this ticket in them. Nothing is changed before every re-decision succeeded.
        joined: dict[int, _Live] = {}
        first_key: tuple[str, str] | None = None
        for k, v in keys:
            ids = self.engine.neighbours(f"{k}={v}", account, category, ts, self.window_ms)
            neighbours = [self._by_fact[i] for i in ids if i in self._by_fact]
            members = self._qualifying(live, neighbours)
            if members:
                joined.update((m.index, m) for m in members if m is not live)
                first_key = first_key or (k, v)
        if first_key is None:
            self._remember(live)
            return [(tag, own)]

        incident, merged = self._plan_incident(live, list(joined.values()), first_key)
        members = {m.index: m for m in (*merged, *joined.values(), live)}
        accounts = set(incident.accounts)
        for m in members.values():
            accounts.add(m.account)
        for inc in {id(m.incident): m.incident for m in merged if m.incident is not None}.values():
            accounts |= inc.accounts
        n = len(accounts)
        changed: dict[int, Decision] = {}
        bases: dict[int, tuple[int, str]] = {}
        for m in members.values():
            basis = (max(m.classified.ticket.affected_customers, n), incident.id)
            if m is not live and basis == m.basis:
                continue  # decided on this count and id already (a repeat account joined)
            bases[m.index] = basis
            d = self.triage.decide(m.classified, affected_customers=basis[0], incident_id=basis[1])
            if m is live or d != m.decision:
                changed[m.index] = d

        # Commit.
        for m in members.values():
            old = m.incident
            if old is not None and old is not incident:
                old.members.pop(m.index, None)
                self._incidents.pop(old.id, None)
            m.incident = incident
            incident.members[m.index] = m
        incident.accounts = accounts
        self._incidents[incident.id] = incident
        for i, basis in bases.items():
            members[i].basis = basis
        for i, d in changed.items():
            members[i].decision = d
        self._remember(live)
        others = sorted((members[i] for i in changed if i != index), key=_order_key)
        return [(tag, changed[index])] + [(m.tag, changed[m.index]) for m in others]

    def _qualifying(self, live: _Live, neighbours: list[_Live]) -> list[_Live]:
        """Tickets in any window of `window` ms that holds `live` and >= threshold accounts.

        Neighbours come from the engine (same key, eligible, another account, within the
        window of `live` either side). Any window holding `live` holds no more than the
        window starting at its earliest member, so those windows are enough.
        """
        pts = sorted([*neighbours, live], key=_order_key)
        w, t, need = self.window_ms, live.ts, self.spec.threshold
        out: dict[int, _Live] = {}
        counts: Counter[str] = Counter()
        j = 0
        for i, p in enumerate(pts):
            while j < len(pts) and pts[j].ts <= p.ts + w:
                counts[pts[j].account] += 1
                j += 1
            if t - w <= p.ts <= t and len(counts) >= need:
                for m in pts[i:j]:
                    out[m.index] = m
            counts[p.account] -= 1
            if not counts[p.account]:
                del counts[p.account]
        return list(out.values())

    def _plan_incident(self, live: _Live, joined: list[_Live],
                       key: tuple[str, str]) -> tuple[_Incident, list[_Live]]:
        """The incident the new members go to (the oldest one among them, or a new one)
        and the members of other incidents that merge into it."""
        existing = {id(m.incident): m.incident for m in joined if m.incident is not None}
        if not existing:
            first = min([*joined, live], key=lambda m: (m.ts, m.classified.ticket.id, m.index))
            t = first.classified.ticket
            digest = hashlib.sha256(f"{key[0]}={key[1]}\0{t.created_at.isoformat()}\0{t.id}".encode(
                "utf-8", "surrogatepass")).hexdigest()[:12]
            iid = f"INC-{digest}"
            n = 1
            while iid in self._incidents:  # the same first ticket fed twice: keep ids apart
                n += 1
                iid = f"INC-{digest}-{n}"
            return _Incident(iid, next(self._order)), []
        ordered = sorted(existing.values(), key=lambda i: i.order)
        keep = ordered[0]
        merged = [m for inc in ordered[1:] for m in inc.members.values()]
        merged += [m for m in keep.members.values()]
        return keep, merged

    def _remember(self, live: _Live) -> None:
        for k, v in live.keys:
            fact = self.engine.add(f"{k}={v}", live.account, live.classified.category, live.ts)
            if fact is not None:
                live.facts.append(fact)
                self._by_fact[fact[0]] = live
        self._live[live.index] = live
        heapq.heappush(self._expiry, (live.ts, live.index))

    def _expire(self, horizon: int) -> None:
        """Forget tickets older than `horizon`: no ticket accepted from now on can be
        within the window of them."""
        while self._expiry and self._expiry[0][0] < horizon:
            _, index = heapq.heappop(self._expiry)
            live = self._live.get(index)
            if live is not None:
                self._forget(live)

    def _forget(self, live: _Live) -> None:
        for fact in live.facts:
            self.engine.remove(fact)
            self._by_fact.pop(fact[0], None)
        live.facts = []
        self._live.pop(live.index, None)
        inc = live.incident
        if inc is not None:
            inc.members.pop(live.index, None)
            if not inc.members:
                self._incidents.pop(inc.id, None)


def _order_key(m: _Live) -> tuple[int, int]:
    return (m.ts, m.index)


def _norm(value: Any) -> str | None:
    """A key value as compared: strings stripped and case-folded (FRA-DC1 = fra-dc1)."""
    if value is None:
        return None
    if isinstance(value, str):
        v = value.strip().casefold()
        return v or None
    return f"{type(value).__name__}:{value}"
