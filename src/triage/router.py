"""`Triage`: a rule set, a schedule and a model, routing tickets to decisions.

The one object every user goes through (CLI, batch, rule tests, examples). It is
thread-safe: the durable_rules engine sits behind a lock and everything else is
read-only after construction. The same ticket, rules and model give the same decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

from triage.decision import Decision, Handoff
from triage.errors import NoModelError, RuleFileError, RuleSetErrors, TicketError, TriageError
from triage.facts import ticket_facts
from triage.rules.domains import suggest
from triage.rules.loader import SCHEDULE_FILE
from triage.rules.ruleset import DecisionResult, RuleSet
from triage.schedule import Schedule, iso
from triage.ticket import Ticket, parse_ticket

REQUIRED_DECISIONS = ("priority", "tier", "region", "queue")
STANDARD_OUTPUTS = ("priority", "tier", "region", "queue", "third_party")
UNKNOWN = "unknown"
DEFAULT_CHUNK = 512


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
        return self.route_detailed(ticket).decision

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

    def _route_chunk(self, items: list[Any], errors: str) -> Iterator[Decision | TriageError]:
        parsed: list[Ticket | TriageError] = []
        for item in items:
            try:
                t = item if isinstance(item, Ticket) else parse_ticket(item)
                self._check_category(t)
                parsed.append(t)
            except TriageError as exc:
                if errors == "raise":
                    raise
                parsed.append(exc)
        to_classify = [t for t in parsed if isinstance(t, Ticket) and t.category is None]
        classes: dict[int, Any] = {}
        if to_classify:
            try:
                for t, c in zip(to_classify, self._classify(to_classify)):
                    classes[id(t)] = c
            except NoModelError as exc:
                if errors == "raise":
                    raise
                for t in to_classify:
                    classes[id(t)] = exc
        for t in parsed:
            if isinstance(t, TriageError):
                yield t
                continue
            try:
                if t.category is not None:
                    yield self._decide(t, t.category, None, "given", None).decision
                else:
                    c = classes[id(t)]
                    if isinstance(c, TriageError):
                        yield TicketError([("category", str(c))], ticket_id=t.id)
                        continue
                    yield self._decide(t, c.category, c.confidence, "model", c.top).decision
            except TriageError as exc:
                if errors == "raise":
                    raise
                yield exc

    def _check_category(self, t: Ticket) -> None:
        if t.category is not None and self._categories is not None and t.category not in self._categories:
            raise TicketError([("category", f"{t.category!r} is not a category of the rule set"
                                            f"{suggest(t.category, self._categories)}")], ticket_id=t.id)

    def _classify(self, tickets: list[Ticket]) -> list[Any]:
        if self.model is None:
            raise NoModelError("no model is available to classify tickets without a category: give "
                               "`category`, pass model=PATH (--model DIR), or build the default with "
                               "`make model`")
        return self.model.classify([t.text for t in tickets])

    def _decide(self, t: Ticket, category: str, confidence: float | None, source: str,
                top: Any, evaluator: str = "durable") -> Routed:
        sched = self.schedule
        created = t.created_at
        facts = ticket_facts(t, category, confidence, source, sched.on_shift(created))
        try:
            results = self.ruleset.evaluate(facts, evaluator)
        except TriageError as exc:
            raise TicketError([("", str(exc))], ticket_id=t.id) from None
        priority = results[sched.priority_decision].value
        region = results[sched.region_decision].value
        handoff = None
        if priority in sched.handoff_priorities:
            at, to = sched.handoff(created)
            handoff = Handoff.model_construct(at=iso(at), to=to)
        try:
            due = iso(sched.response_due(created, priority, region))
        except TriageError as exc:
            raise TicketError([("", str(exc))], ticket_id=t.id) from None
        third = results.get("third_party")
        outputs = {n: r.value for n, r in results.items() if n not in STANDARD_OUTPUTS}
        decision = Decision.model_construct(
            ticket_id=t.id, category=category, category_source=source,
            confidence=None if confidence is None else round(float(confidence), 4),
            needs_review=source == "model" and category == UNKNOWN,
            priority=priority, tier=results["tier"].value, region=region, queue=results["queue"].value,
            handoff=handoff, third_party=None if third is None else third.value, response_due=due,
            incident_id=None, rules={n: r.cited for n, r in results.items()},
            ruleset_version=self.ruleset.version, model_version=self.model_version,
            outputs=outputs or None)
        return Routed(decision, facts, results, top)

    def close(self) -> None:
        self.ruleset.close()


def _load_model(path: str | Path) -> Any:
    from triage.model import load_model

    return load_model(Path(path))
