"""`Triage`: a rule set, a schedule and a model, routing tickets to decisions.

The one object every user goes through (CLI, batch, rule tests, examples). It is
thread-safe: the durable_rules engine sits behind a lock and everything else is
read-only after construction. The same ticket, rules and model give the same decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, NamedTuple, Sequence

from triage.decision import Decision
from triage.errors import NoModelError, RuleFileError, RuleSetErrors, TicketError, TriageError
from triage.facts import ticket_facts
from triage.fastticket import FastTicket, facts_for, read_fast
from triage.rules.domains import suggest
from triage.rules.loader import SCHEDULE_FILE
from triage.rules.ruleset import DecisionResult, RuleSet
from triage.schedule import Schedule, iso
from triage.ticket import Ticket, parse_ticket

REQUIRED_DECISIONS = ("priority", "tier", "region", "queue")
STANDARD_OUTPUTS = ("priority", "tier", "region", "queue", "third_party")
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


@dataclass(frozen=True)
class Routed:
    """A decision with what led to it: the facts the rules saw and each decision's result."""

    decision: Decision
    facts: dict[str, Any]
    results: dict[str, DecisionResult]
    top: tuple[tuple[str, float], ...] | None


class Triage:
    """Route tickets: `route(ticket) -> Decision`, `route_many(tickets) -> Iterator[Decision]`.

    `rules` and `model` take a folder path or a loaded object; None means the shipped
    defaults. `model=False` routes without a model (tickets must carry a category).
    """

    def __init__(self, rules: str | Path | RuleSet | None = None,
                 model: str | Path | Any | None | Literal[False] = None,
                 schedule: str | Path | Schedule | None = None):
        from triage.defaults import default_model_dir, default_rules_dir

        self.ruleset = rules if isinstance(rules, RuleSet) else RuleSet.load(rules or default_rules_dir())
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
        self._own_decisions = [n for n in self.ruleset.decision_names if n not in STANDARD_OUTPUTS]
        self._extra_fields = self.ruleset.extra_fields  # kept whatever the bounds on extras

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

    # --- routing ---------------------------------------------------------------------

    def route(self, ticket: Ticket | dict[str, Any]) -> Decision:
        """Decide one ticket; raises `TicketError` for invalid input."""
        t = self._read(ticket, fast=True)
        self._check_category(t)
        if t.category is not None:
            return Decision.from_dict(self._decide_fast(t, t.category, None, "given"), copy=False)
        c = self._classify([t])[0]
        return Decision.from_dict(self._decide_fast(t, c.category, c.confidence, "model"), copy=False)

    def route_detailed(self, ticket: Ticket | dict[str, Any], evaluator: str = "durable") -> Routed:
        t = ticket if isinstance(ticket, Ticket) else parse_ticket(ticket)
        self._check_category(t)
        if t.category is not None:
            return self._decide(t, t.category, None, "given", None, evaluator)
        cls = self._classify([t])[0]
        return self._decide(t, cls.category, cls.confidence, "model", cls.top, evaluator)

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
                yield from self._route_chunk(chunk, errors)
                chunk = []
        if chunk:
            yield from self._route_chunk(chunk, errors)

    def route_batch(self, tickets: Sequence[Ticket | dict[str, Any]]) -> list[Decision | TriageError]:
        """Decide a list; each invalid ticket's place holds its error."""
        return list(self._route_chunk(list(tickets), "yield"))

    def route_batch_dicts(self, tickets: Sequence[Ticket | dict[str, Any]]) -> list[dict[str, Any] | TriageError]:
        """`route_batch` with each decision as its JSON-ready dict (no model objects built)."""
        return list(self._route_chunk_dicts(list(tickets), "yield"))

    def _route_chunk(self, items: list[Any], errors: str) -> Iterator[Decision | TriageError]:
        for d in self._route_chunk_dicts(items, errors):
            yield d if isinstance(d, TriageError) else Decision.from_dict(d, copy=False)

    def _route_chunk_dicts(self, items: list[Any], errors: str) -> Iterator[dict[str, Any] | TriageError]:
        yield from each_classified(self._classify_many(items, fast=True), errors,
                                   lambda c: self._decide_fast(c.ticket, c.category, c.confidence, c.source))

    # --- hooks for stateful callers (the correlator) --------------------------------

    def classify_many(self, tickets: Sequence[Ticket | dict[str, Any]]) -> list[Classified | TriageError]:
        """Validate tickets and settle each one's category, asking the model once for all
        that carry none; an invalid ticket's place holds its `TriageError`."""
        return self._classify_many(tickets, fast=False)

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
        return out

    def decide(self, classified: Classified, *, affected_customers: int | None = None,
               incident_id: str | None = None, evaluator: str = "durable") -> Routed:
        """Decide a classified ticket, optionally as a member of a multi-customer incident:
        `affected_customers` replaces the ticket's own count and `incident_id` is set on the
        decision. The model is not asked again, so a re-decision keeps the category and
        confidence of the first."""
        t = classified.ticket
        if affected_customers is not None and affected_customers != t.affected_customers:
            t = t.model_copy(update={"affected_customers": affected_customers})
        return self._decide(t, classified.category, classified.confidence, classified.source,
                            classified.top, evaluator, incident_id=incident_id)

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

    def _decide(self, t: Ticket, category: str, confidence: float | None, source: str,
                top: Any, evaluator: str = "durable", incident_id: str | None = None) -> Routed:
        """Decide with every decision's full result (for explain and rule tests)."""
        facts = self._facts(t, category, confidence, source)
        try:
            results = self.ruleset.evaluate(facts, evaluator)
        except TriageError as exc:
            raise TicketError([("", str(exc))], ticket_id=t.id) from None
        values = {n: r.value for n, r in results.items()}
        cited = {n: r.cited for n, r in results.items()}
        d = self._decision_dict(t, values, cited, category, confidence, source, incident_id)
        return Routed(Decision.from_dict(d, copy=False), facts, results, top)

    def _decide_fast(self, t: Ticket | FastTicket, category: str, confidence: float | None, source: str,
                     incident_id: str | None = None) -> dict[str, Any]:
        """The hot path: the decision as its contract dict, rules reused by cell."""
        facts = self._facts(t, category, confidence, source)
        try:
            cited = self.ruleset.decide(facts)  # puts each decision's value into facts
        except TriageError as exc:
            raise TicketError([("", str(exc))], ticket_id=t.id) from None
        return self._decision_dict(t, facts, cited, category, confidence, source, incident_id)

    def _facts(self, t: Ticket | FastTicket, category: str, confidence: float | None, source: str) -> dict[str, Any]:
        if type(t) is FastTicket:
            facts = facts_for(t, category, confidence, source, self.schedule.on_shift(t.created_at))
        else:
            facts = ticket_facts(t, category, confidence, source, self.schedule.on_shift(t.created_at),
                                 self._extra_fields)
        return self.ruleset.derive_facts(facts, t.id)  # the rule set's own facts (facts.yaml `from`)

    def _decision_dict(self, t: Ticket | FastTicket, values: dict[str, Any], cited: dict[str, list[str]], category: str,
                       confidence: float | None, source: str, incident_id: str | None) -> dict[str, Any]:
        """The contract dict; `values` holds every decision's value (the facts after deciding)."""
        sched = self.schedule
        created = t.created_at
        priority = values[sched.priority_decision]
        region = values[sched.region_decision]
        handoff = None
        if priority in sched.handoff_priorities:
            at, to = sched.handoff(created)
            handoff = {"at": iso(at), "to": to}
        try:
            due = iso(sched.response_due(created, priority, region))
        except TriageError as exc:
            raise TicketError([("", str(exc))], ticket_id=t.id) from None
        d = {
            "ticket_id": t.id, "category": category, "category_source": source,
            "confidence": None if confidence is None else round(float(confidence), 4),
            "needs_review": source == "model" and category == UNKNOWN,
            "priority": priority, "tier": values["tier"], "region": region, "queue": values["queue"],
            "handoff": handoff, "third_party": values.get("third_party"), "response_due": due,
            "incident_id": incident_id, "rules": cited,
            "ruleset_version": self.ruleset.version, "model_version": self.model_version,
        }
        if self._own_decisions:
            d["outputs"] = {n: values[n] for n in self._own_decisions}
        return d

    def close(self) -> None:
        self.ruleset.close()


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


def _load_model(path: str | Path) -> Any:
    from triage.model.lazy import open_model

    return open_model(Path(path))
