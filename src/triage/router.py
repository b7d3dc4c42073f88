"""`Triage`: a rule set, a schedule and a model, routing tickets to decisions.

The one object every user goes through (CLI, batch, rule tests, examples). It is
thread-safe: the durable_rules engine sits behind a lock and everything else is
read-only after construction. The same ticket, rules and model give the same decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, NamedTuple, Sequence

from triage.clocks import Sla, instant, sla_at, status_at
from triage.decision import Decision
from triage.errors import NoModelError, RuleFileError, RuleSetErrors, TicketError, TriageError
from triage.facts import STANDARD_DOMAINS, add_category, make_facts, ticket_facts
from triage.fastticket import FastTicket, read_fast
from triage.rules.domains import suggest
from triage.rules.layout import SCHEDULE_FILE
from triage.rules.ruleset import RuleSet
from triage.schedule import Schedule, iso
from triage.ticket import Ticket, parse_ticket

REQUIRED_DECISIONS = ("priority", "tier", "region", "queue")
STANDARD_OUTPUTS = ("priority", "tier", "region", "queue", "third_party")
CLOCK_FACTS = ("response_used", "resolution_used")
UNKNOWN = "unknown"
DEFAULT_CHUNK = 512


class Classified(NamedTuple):
    """A valid ticket with its category settled: given by the ticket, or the model's.

    A NamedTuple: one is built per ticket on the hot path, where a frozen dataclass's
    construction costs a noticeable share."""

    ticket: Ticket | FastTicket  # FastTicket only inside the router's own batch path
    category: str
    confidence: float | None
    source: Literal["given", "model"]
    top: Any = None
    language: str | None = None  # identified from the text where the model reads it, or a rule reads it


@dataclass(frozen=True)
class Traced:
    """A decision with what led to it: the facts the rules saw (each decision's value
    among them) and the model's top categories. What `explain` and rule tests read."""

    decision: Decision
    facts: dict[str, Any]
    top: tuple[tuple[str, float], ...] | None
    text: str = ""  # subject and body, as the model reads them


class Triage:
    """Route tickets: `route(ticket) -> Decision`, `route_many(tickets) -> Iterator[Decision]`,
    `explain(ticket) -> dict`.

    `rules` and `model` take a folder path or a loaded object; None means the shipped
    defaults. `model=False` routes without a model (tickets must carry a category).
    Every entry point decides through `_decide`: one path, one cell cache.
    A context manager: leaving it closes the rule engine.
    """

    def __init__(self, rules: str | Path | RuleSet | None = None,
                 model: str | Path | Any | None | Literal[False] = None,
                 schedule: str | Path | Schedule | None = None):
        from triage.defaults import default_model_dir, default_rules_dir

        self.ruleset = rules if isinstance(rules, RuleSet) else RuleSet.load(rules or default_rules_dir(),
                                                                             STANDARD_DOMAINS)
        if isinstance(schedule, Schedule):
            self.schedule = schedule
        else:
            self.schedule = Schedule.load(schedule or self.ruleset.folder / SCHEDULE_FILE)
        self._check_decisions()
        try:
            self.ruleset.engine  # durable_rules' limits refuse a rule set here, not at its first ticket
        except RuleFileError as exc:
            raise RuleSetErrors([exc]) from None
        if model is False:
            self.model = None
        elif model is None:
            path = default_model_dir()
            self.model = _load_model(path) if path is not None else None
        elif isinstance(model, (str, Path)):
            self.model = _load_model(model)
        else:
            self.model = model
        cats = self.ruleset.categories
        self._categories = frozenset(cats) if cats else None
        ladder = self.schedule.escalation  # its decision is the sweep's `escalated_to`, not an own output
        standard = {*STANDARD_OUTPUTS, *([ladder[0]] if ladder else [])}
        self.own_decisions = tuple(n for n in self.ruleset.decision_names if n not in standard)
        # A sweep's later passes re-decide only what the clocks, or a raised escalation
        # level, can change: the rest is taken as decided by the first pass.
        names = frozenset(self.ruleset.decision_names)
        clock_readers = self.ruleset.readers_of(frozenset(CLOCK_FACTS))
        circular = [n for n in (self.schedule.priority_decision, self.schedule.region_decision) if n in clock_readers]
        if circular:
            raise RuleSetErrors([RuleFileError(
                f"{', '.join(circular)} decide(s) the clocks, so cannot read {' or '.join(CLOCK_FACTS)}",
                file=self.ruleset.decision(circular[0]).file)])
        self._before_clocks = names - clock_readers
        self._before_level = (names - self.ruleset.readers_of(frozenset({"escalation_level"}))) | (
            {ladder[0]} if ladder else set())
        self._extra_fields = self.ruleset.extra_fields  # kept whatever the bounds on extras
        self._reads_language = "language" in {f for d in self.ruleset.decisions for f in d.inputs | d.template_fields}

    def _check_decisions(self) -> None:
        names = set(self.ruleset.decision_names)
        missing = [d for d in REQUIRED_DECISIONS if d not in names]
        if missing:
            raise RuleSetErrors([RuleFileError(f"the rule set must decide {', '.join(missing)}",
                                               file=str(self.ruleset.folder))])

    @property
    def ruleset_version(self) -> str:
        return self.ruleset.version

    @property
    def model_version(self) -> str | None:
        return None if self.model is None else self.model.version

    def __enter__(self) -> "Triage":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.ruleset.close()

    # --- routing ---------------------------------------------------------------------

    def route(self, ticket: Ticket | dict[str, Any]) -> Decision:
        """Decide one ticket; raises `TicketError` for invalid input."""
        return Decision.from_dict(self._decide_one(ticket)[0])

    def route_many(self, tickets: Iterable[Ticket | dict[str, Any]], chunk_size: int = DEFAULT_CHUNK,
                   errors: Literal["raise", "yield"] = "raise") -> Iterator[Decision | TriageError]:
        """Decide tickets in input order, classifying each chunk in one vectorised call.

        With `errors="yield"` an invalid ticket yields its `TriageError` in its place
        and the rest are still decided; with "raise" the first error is raised.
        """
        chunk: list[Any] = []
        for item in tickets:
            chunk.append(item)
            if len(chunk) >= chunk_size:
                yield from self._decisions(chunk, errors)
                chunk = []
        if chunk:
            yield from self._decisions(chunk, errors)

    def route_dicts(self, tickets: Sequence[Ticket | dict[str, Any]]) -> list[dict[str, Any] | TriageError]:
        """Decide a list into JSON-ready decision objects (what batch writers store);
        each invalid ticket's place holds its error. No `Decision` objects are built."""
        return list(each_classified(self._classify_many(tickets, fast=True), "yield",
                                    lambda c: self._decide(c)[0]))

    def _decisions(self, items: list[Any], errors: str) -> Iterator[Decision | TriageError]:
        for d in each_classified(self._classify_many(items, fast=True), errors, lambda c: self._decide(c)[0]):
            yield d if isinstance(d, TriageError) else Decision.from_dict(d)

    def explain(self, ticket: Ticket | dict[str, Any], now: datetime | str | None = None) -> dict[str, Any]:
        """Why `ticket` got its decision (at `now`, as `sweep` decides a case; None: at its
        creation, as `route`): the deciding row of each decision and the "why not" of the
        others (the `triage explain --json` object)."""
        from triage.explain import explain

        return explain(self, self.trace(ticket, now))

    def trace(self, ticket: Ticket | dict[str, Any], now: datetime | str | None = None) -> Traced:
        """`route` (or `sweep` at `now`) with what led to the decision (the facts the rules saw)."""
        d, facts, c = self._decide_one(ticket, fast=False, now=_at(now))
        return Traced(Decision.from_dict(d), facts, c.top, c.ticket.text)

    # --- cases at a time `now` -----------------------------------------------------------

    def sweep(self, case: Ticket | dict[str, Any], now: datetime | str) -> Decision:
        """Decide an open (or closed) case at `now`: its clocks, the escalation ladder (one
        step), and routing at `now` (P1/P2 to the region on shift then). Swept at its
        creation time, a case is routed exactly as `route` routes it."""
        return Decision.from_dict(self._decide_one(case, now=_at(now))[0])

    def sweep_dicts(self, cases: Sequence[Ticket | dict[str, Any]], now: datetime | str
                    ) -> list[dict[str, Any] | TriageError]:
        """`sweep` of a list into JSON-ready objects; each invalid case's place holds its error."""
        at = _at(now)
        return list(each_classified(self._classify_many(cases, fast=True), "yield",
                                    lambda c: self._decide(c, now=at)[0]))

    def handover(self, cases: Iterable[Ticket | dict[str, Any]], at: datetime | str | None = None) -> Any:
        """The hand-over packet of the shift that ends at `at` (None: the next shift end after
        now): the open high-priority cases, swept at `at`, for the receiving region."""
        from triage.handover import build_packet

        return build_packet(self, cases, at)

    # --- hooks for stateful callers (the correlator) and rule tests ----------------

    def classify_many(self, tickets: Sequence[Ticket | dict[str, Any]]) -> list[Classified | TriageError]:
        """Validate tickets and settle each one's category, asking the model once for all
        that carry none; an invalid ticket's place holds its `TriageError`."""
        return self._classify_many(tickets, fast=False)

    def decide(self, classified: Classified, *, affected_customers: int | None = None,
               incident_id: str | None = None) -> Decision:
        """Decide a classified ticket, optionally as a member of a multi-customer incident:
        `affected_customers` replaces the ticket's own count and `incident_id` is set on the
        decision. The model is not asked again, so a re-decision keeps the category and
        confidence of the first."""
        return Decision.from_dict(self._decide(classified, affected_customers, incident_id)[0])

    def facts_of(self, ticket: Ticket, category: str) -> dict[str, Any]:
        """The facts the rules would see for `ticket` with a given `category`, before deciding."""
        return self._facts(Classified(ticket, category, None, "given"))

    # --- the one path ------------------------------------------------------------------

    def _decide_one(self, ticket: Any, fast: bool = True, now: datetime | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any], Classified]:
        t = self._read(ticket, fast)
        self._check_category(t)
        if t.category is not None:
            c = Classified(t, t.category, None, "given")
        else:
            cls = self._classify([t])[0]
            c = Classified(t, cls.category, cls.confidence, "model", cls.top)
        c = self._identify([c])[0]
        d, facts = self._decide(c, now=now)
        return d, facts, c

    def _classify_many(self, tickets: Sequence[Any], fast: bool) -> list[Classified | TriageError]:
        """`classify_many`; with `fast`, a common-case dict becomes a `FastTicket`, not a `Ticket`."""
        out: list[Any] = []
        need: list[int] = []
        for item in tickets:
            try:
                t = self._read(item, fast)
                self._check_category(t)
            except TriageError as exc:
                out.append(exc)
                continue
            if t.category is not None:
                out.append(Classified(t, t.category, None, "given"))
            else:
                need.append(len(out))
                out.append(t)
        if need:
            try:
                classes = self._classify([out[i] for i in need])
            except NoModelError as exc:
                for i in need:
                    out[i] = TicketError([("category", str(exc))], ticket_id=out[i].id)
            else:
                for i, c in zip(need, classes):
                    out[i] = Classified(out[i], c.category, c.confidence, "model", c.top)
        return self._identify(out)

    def _identify(self, classified: list[Any]) -> list[Any]:
        """The language of each ticket's text, in one batch, when a rule reads `language`:
        at 50-90 µs a text it would cost more than routing (and than the free-text budget)."""
        wanted = [i for i, c in enumerate(classified) if isinstance(c, Classified)] if self._reads_language else []
        if wanted:
            from triage.model.language import identify

            for i, lang in zip(wanted, identify([classified[i].ticket.text for i in wanted])):
                classified[i] = classified[i]._replace(language=lang)
        return classified

    def _read(self, item: Any, fast: bool) -> Ticket | FastTicket:
        """A valid ticket: with `fast`, the fast reader's when it can tell (a dict), else pydantic's."""
        if fast and type(item) is dict:
            t = read_fast(item, self._extra_fields)
            if t is not None:
                return t
        return item if isinstance(item, Ticket) else parse_ticket(item)

    def _check_category(self, t: Ticket | FastTicket) -> None:
        if t.category is not None and self._categories is not None and t.category not in self._categories:
            raise TicketError([("category", f"{t.category!r} is not a category of the rule set"
                                            f"{suggest(t.category, self._categories)}")], ticket_id=t.id)

    def _classify(self, tickets: list[Ticket | FastTicket]) -> list[Any]:
        if self.model is None:
            raise NoModelError("no model is available to classify tickets without a category: give "
                               "`category`, pass model=PATH (--model DIR), or build the default with "
                               "`make model`")
        return self.model.classify([t.text for t in tickets])

    def _facts(self, c: Classified, now: datetime | None = None) -> dict[str, Any]:
        """The facts of a classified ticket at `now` (None: at its creation, clocks at 0)."""
        t = c.ticket
        if type(t) is FastTicket:
            facts = make_facts(t.values, t.created_at, t.extras)
            first_response, history = None, None
        else:
            facts = ticket_facts(t, self._extra_fields)
            first_response, history = t.first_response_at, t.status_history
        created = t.created_at
        at = created if now is None else now
        on = self.schedule.on_shift
        facts["shift_region"] = on(at)
        facts["created_shift_region"] = on(created)
        if history or now is not None:
            try:
                facts["status"] = status_at(created_at=created, now=at, status=facts["status"],
                                            status_history=history or ())[0]
            except TicketError as exc:
                raise TicketError(exc.problems, ticket_id=t.id) from None
        facts["responded"] = first_response is not None and first_response <= at
        facts["age_minutes"] = (at - created) // _MINUTE
        # At creation no clock has run; later, the clocks need the priority and region first.
        clock = 0 if now is None else None
        facts["response_used"] = facts["resolution_used"] = clock
        facts["language"] = c.language
        return add_category(facts, c.category, c.confidence, c.source)

    def _decide(self, c: Classified, affected_customers: int | None = None, incident_id: str | None = None,
                now: datetime | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The one way a ticket is decided: its facts through the rule set's cell cache,
        then the schedule. Returns the decision's JSON object and the facts (each
        decision's value among them).

        At a time `now` (a sweep) it takes up to three passes: priority and region (which
        decide the clocks), then the rest with the clocks' used percentages, then, when
        the ladder climbs a step, everything again with the raised `escalation_level`."""
        # The rule set's own facts (facts.yaml `from`), dates and durations as integers.
        facts = self.ruleset.derive_facts(self._facts(c, now), c.ticket.id)
        if affected_customers is not None:
            facts["affected_customers"] = affected_customers
        rs, sched = self.ruleset, self.schedule
        cited = rs.decide(facts)  # puts each decision's value into facts
        if now is None:
            return self._decision_dict(c, facts, cited, incident_id), facts
        sla = self._sla(c, facts, now)
        facts["response_used"], facts["resolution_used"] = sla.response.used_pct, sla.resolution.used_pct
        cited.update(rs.decide(facts, given=self._before_clocks))
        escalated_to = None
        ladder = sched.escalation
        if ladder is not None and facts.get(ladder[0]) is not None and sla.status not in sched.stopped_by:
            escalated_to = facts[ladder[0]]
            level = max(facts["escalation_level"], ladder[1].get(escalated_to, 0))
            facts["escalation_level"] = level
            before = (facts[sched.priority_decision], facts[sched.region_decision])
            cited.update(rs.decide(facts, given=self._before_level))
            if (facts[sched.priority_decision], facts[sched.region_decision]) != before:
                sla = self._sla(c, facts, now)
        clocks = sla.to_dict()
        d = self._decision_dict(c, facts, cited, incident_id, now, clocks)
        d.update(as_of=_iso_cached(now), sla=clocks, escalated_to=escalated_to,
                 escalation_level=facts["escalation_level"])
        return d, facts

    def _sla(self, c: Classified, facts: dict[str, Any], now: datetime) -> Sla:
        t = c.ticket
        fast = type(t) is FastTicket
        try:
            return sla_at(self.schedule, created_at=t.created_at, priority=facts[self.schedule.priority_decision],
                          region=facts[self.schedule.region_decision], now=now,
                          status=facts["status"] if fast or not t.status_history else t.status,
                          status_history=() if fast else t.status_history or (),
                          first_response_at=None if fast else t.first_response_at)
        except TicketError as exc:
            raise TicketError(exc.problems, ticket_id=t.id) from None

    def _decision_dict(self, c: Classified, values: dict[str, Any], cited: dict[str, list[str]],
                       incident_id: str | None, now: datetime | None = None, clocks: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
        """The contract dict; `values` holds every decision's value (the facts after deciding),
        `clocks` a case's `sla` object at `now` (its due times are the decision's)."""
        sched = self.schedule
        created = c.ticket.created_at
        priority = values[sched.priority_decision]
        region = values[sched.region_decision]
        handoff = None
        if priority in sched.handoff_priorities:
            at, to = sched.handoff(created if now is None else now)
            handoff = {"at": iso(at), "to": to}
        if clocks is None:  # at creation nothing has run: the targets from then (none while paused)
            response_due = iso(sched.response_due(created, priority, region))
            resolution_due: str | None = (None if values["status"] in sched.paused_in
                                          else iso(sched.resolution_due(created, priority, region)))
        else:
            response_due, resolution_due = clocks["response"]["due"], clocks["resolution"]["due"]
        d = {
            "ticket_id": c.ticket.id, "category": c.category, "category_source": c.source,
            "confidence": None if c.confidence is None else round(float(c.confidence), 4),
            "needs_review": c.source == "model" and c.category == UNKNOWN, "language": c.language,
            "priority": priority, "tier": values["tier"], "region": region, "queue": values["queue"],
            "handoff": handoff, "third_party": values.get("third_party"),
            "response_due": response_due, "resolution_due": resolution_due,
            "incident_id": incident_id, "rules": cited,
            "ruleset_version": self.ruleset.version, "model_version": self.model_version,
        }
        if self.own_decisions:
            d["outputs"] = {n: values[n] for n in self.own_decisions}
        return d


def each_classified(classified: Iterable[Classified | TriageError], errors: str,
                    decide: Callable[[Classified], Any]) -> Iterator[Any]:
    """`decide` each classified ticket in order; an error is raised (errors="raise") or
    yielded in the ticket's place (errors="yield")."""
    for c in classified:
        if isinstance(c, TriageError):
            if errors == "raise":
                raise c
            yield c
            continue
        try:
            yield decide(c)
        except TriageError as exc:
            if errors == "raise":
                raise
            yield exc


_MINUTE = timedelta(minutes=1)


@lru_cache(maxsize=8)
def _iso_cached(now: datetime) -> str:
    """A sweep's `as_of`: the same `now` for a whole backlog, formatted once."""
    return iso(now)


def _at(now: datetime | str | None) -> datetime | None:
    return None if now is None else instant(now)


def _load_model(path: str | Path) -> Any:
    from triage.model.lazy import open_model

    return open_model(Path(path))
