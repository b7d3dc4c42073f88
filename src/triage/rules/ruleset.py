"""A loaded rule set: its decisions in dependency order, evaluated on durable_rules.

`evaluate` runs every decision on durable_rules (or the interpreter) and returns the
full result of each, for explain, rule tests and the checker. `decide` is the hot
path: the same decisions reused by cell from `cellcache` (durable_rules decides each
distinct cell once). Hit policies and templates are applied in Python on the matched
rows, identically for both evaluators.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

from triage.errors import RuleEvaluationError
from triage.rules import interpreter
from triage.rules.cellcache import CellDecider
from triage.rules.domains import TEMPORAL, Domain, quantise, temporal_value, type_class
from triage.rules.ir import DecisionIR, Output, Template
from triage.rules.loader import load_parts
from triage.rules.spec import MULTI_HIT


def render(out: Output, values: dict[str, Any]) -> Any:
    return out.render(values) if isinstance(out, Template) else out


@dataclass
class DecisionResult:
    value: Any
    rows: list[int]  # the rows that decided (empty: the default)
    cited: list[str]
    matched: list[int] = field(default_factory=list)  # every row whose condition held


@dataclass
class RuleSet:
    """Decisions in dependency order, the fact domains, and the content version."""

    folder: Path
    decisions: tuple[DecisionIR, ...]
    domains: dict[str, Domain]
    version: str
    use_cache: bool = True
    _engine: Any = field(default=None, repr=False)
    _decider: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, folder: str | Path, standard: Mapping[str, Domain]) -> "RuleSet":
        """Load and validate every rule file in `folder` over the `standard` fact domains
        (the ticket's, from `triage.facts`: this package does not know the ticket), or
        raise `RuleSetErrors` with every problem found."""
        folder = Path(folder)
        decisions, domains, version = load_parts(folder, standard)
        return cls(folder=folder, decisions=decisions, domains=domains, version=version)

    @property
    def decision_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.decisions)

    def decision(self, name: str) -> DecisionIR:
        for d in self.decisions:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def extra_fields(self) -> frozenset[str]:
        """The `extra.*` facts some condition or template reads (kept whatever the extra bounds)."""
        return frozenset(f for d in self.decisions for f in d.inputs | d.template_fields
                         if f.startswith("extra.")) | frozenset(s for s, _ in self._derived)

    @cached_property
    def _derived(self) -> tuple[tuple[str, Domain], ...]:
        """(source field, domain) of each fact `derive_facts` sets or converts."""
        return tuple((dom.source or name, dom) for name, dom in self.domains.items()
                     if dom.source is not None or dom.type in TEMPORAL)

    def derive_facts(self, facts: dict[str, Any], ticket_id: str | None = None) -> dict[str, Any]:
        """`facts` (flat, with `extra.*` keys) with the rule set's own facts set, in place.

        A fact `facts.yaml` declares under a name of its own is read from its `from` field
        (`extra.<name>` by default) unless already given; dates, datetimes and durations
        are converted to their integers (ISO text or `4h`). A value that is not one raises
        `TicketError` naming the field, as an invalid ticket does. Pure: no ticket, no clock.
        """
        problems = []
        for source, dom in self._derived:
            value = facts.get(dom.name, facts.get(source)) if dom.source else facts.get(source)
            # An int is taken as already converted (days, seconds), so deriving twice is harmless.
            if dom.type in TEMPORAL and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                try:
                    value = temporal_value(dom.type, value)
                except ValueError as exc:
                    problems.append((source if dom.name not in facts else dom.name, str(exc)))
                    continue
            if dom.source is not None and not dom.contains(value):
                # A fact of the rule set's own is part of its contract: the checker relies on it.
                why = ("missing (declare it `nullable: true` in facts.yaml to allow that)" if value is None
                       else f"{value!r} is outside the domain of {dom.name} ({dom.type}"
                            f"{': ' + ', '.join(map(str, dom.values)) if dom.values else ''})")
                problems.append((source if dom.name not in facts else dom.name, why))
                continue
            facts[dom.name] = value
        if problems:
            from triage.errors import TicketError

            raise TicketError(problems, ticket_id=ticket_id)
        return facts

    @property
    def categories(self) -> tuple[str, ...] | None:
        dom = self.domains.get("category")
        return dom.values if dom is not None and dom.type == "enum" else None

    @property
    def engine(self) -> Any:
        """The durable_rules engine, compiled on first use (with the cell keyer and cache)."""
        if self._engine is None:
            from triage.rules.durable_engine import DurableEngine

            self._engine = DurableEngine(self.decisions)
        return self._engine

    def evaluate(self, facts: dict[str, Any], evaluator: str = "durable",
                 given: frozenset[str] = frozenset()) -> dict[str, DecisionResult]:
        """Decide every decision in order without the cache: the reference `decide` is
        held to. Each result becomes a fact for the next; `facts` is extended in place.

        `evaluator` is "durable" (durable_rules) or "python" (the interpreter).
        """
        results: dict[str, DecisionResult] = {}
        for d in self.decisions:
            if d.name in given:
                continue
            if evaluator == "durable":
                rows = self._engine_rows(d, facts)
            else:
                rows = interpreter.matching_rows(d, facts, first_only=d.hit_policy == "first")
            res = resolve(d, rows, facts)
            res.matched = rows
            facts[d.name] = res.value
            results[d.name] = res
        return results

    def decide(self, facts: dict[str, Any], given: frozenset[str] = frozenset()) -> dict[str, list[str]]:
        """How every caller decides: each decision's value put into `facts`; returns the
        cited rules. Decisions named in `given` are taken as decided (their values
        already in `facts`), as a rule test of later decisions does.

        Equal to `evaluate(facts, "durable")` (a property test holds it so), with each
        distinct cell decided once by durable_rules and reused (see `cellcache`).
        """
        if not self.use_cache:
            return {n: r.cited for n, r in self.evaluate(facts, given=given).items()}
        if self._decider is None:
            self._decider = CellDecider(self.decisions, self.domains, self._engine_rows, resolve)
        return self._decider.decide_given(facts, given) if given else self._decider.decide(facts)

    def readers_of(self, facts: frozenset[str]) -> frozenset[str]:
        """The decisions that read any of `facts`, directly or through an earlier decision:
        all that can change when those facts do (decisions come in dependency order)."""
        found: set[str] = set()
        for d in self.decisions:
            if (d.inputs | d.template_fields) & (facts | found):
                found.add(d.name)
        return frozenset(found)

    def rows_of(self, name: str, cited: list[str]) -> list[int]:
        """The row indices behind a decision's cited rules (empty: its default decided)."""
        d = self.decision(name)
        ids = {d.cite(r): r.index for r in d.rows}
        return [ids[c] for c in cited if c in ids]

    def _engine_rows(self, d: DecisionIR, facts: dict[str, Any]) -> list[int]:
        return self.engine.matching_rows(d.name, facts, d.hit_policy == "first")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __getstate__(self) -> dict[str, Any]:
        # The native engine is not picklable: a worker process rebuilds it on first use.
        state = dict(self.__dict__)
        state.update(_engine=None, _decider=None)
        return state


def no_match(d: DecisionIR) -> Any:
    """What a multiple-hit decision without a default answers when no row matches.

    Collecting nothing is an answer, not a hole: the empty list (list, set, rule_order,
    output_order), 0 (count, sum), or null (min, max: no least output). The checker
    reads the same function, so it never calls such a cell a gap.
    """
    agg = d.aggregate or "list" if d.hit_policy == "collect" else "list"
    return {"count": 0, "sum": 0, "min": None, "max": None}.get(agg, [])


def resolve(d: DecisionIR, rows: list[int], facts: dict[str, Any]) -> DecisionResult:
    """Apply the hit policy to the matched rows (in row order)."""
    policy = d.hit_policy
    if not rows:
        if policy in MULTI_HIT and not d.has_default:
            return DecisionResult(no_match(d), [], [])
        if not d.has_default:
            raise RuleEvaluationError(f"decision {d.name!r}: no row matched and there is no default",
                                      file=d.file, line=d.rows[-1].line if d.rows else None)
        value = render(d.default, facts)
        if policy in MULTI_HIT and (policy != "collect" or d.aggregate in (None, "list", "set")):
            value = [] if value is None else [value]
        return DecisionResult(value, [], [d.cite(None)])
    if policy == "first":
        row = d.rows[rows[0]]
        return DecisionResult(render(row.then, facts), [row.index], [d.cite(row)])
    if policy == "unique":
        if len(rows) > 1:
            ids = ", ".join(d.rows[i].id for i in rows)
            raise RuleEvaluationError(f"decision {d.name!r} has hit policy unique but rows {ids} all match",
                                      file=d.file, line=d.rows[rows[0]].line, rule_id=d.rows[rows[0]].id)
        row = d.rows[rows[0]]
        return DecisionResult(render(row.then, facts), [row.index], [d.cite(row)])
    outputs = [(i, render(d.rows[i].then, facts)) for i in rows]
    if policy == "any":
        differ = [(i, v) for i, v in outputs if not _same(v, outputs[0][1])]
        if differ:
            (i, v), (j, w) = outputs[0], differ[0]
            raise RuleEvaluationError(f"decision {d.name!r} has hit policy any but rows {d.rows[i].id} ({v!r}) "
                                      f"and {d.rows[j].id} ({w!r}) match with different outputs",
                                      file=d.file, line=d.rows[j].line, rule_id=d.rows[j].id)
        return DecisionResult(outputs[0][1], list(rows), [d.cite(d.rows[i]) for i in rows])
    order = d.values or ()
    rank: Callable[[Any], Any] = lambda v: output_rank(d, v)
    if policy == "priority":
        i, value = min(outputs, key=lambda iv: (rank(iv[1]), iv[0]))
        return DecisionResult(value, [i], [d.cite(d.rows[i])])
    if policy == "output_order":
        outputs.sort(key=lambda iv: (rank(iv[1]), iv[0]))
    values = [v for _, v in outputs]
    agg = d.aggregate or "list" if policy == "collect" else "list"
    if agg == "list":
        value: Any = values
    elif agg == "set":
        value = [v for k, v in enumerate(values) if not any(_same(v, w) for w in values[:k])]
    elif agg == "count":
        value = len(values)
    elif any(isinstance(v, dict) for v in values):
        # Several named outputs: each one is aggregated on its own, as the DMN conformance
        # suite expects (its 0117-multi-min-collect: the least amount, and the least flag).
        orders = dict(d.output_values or ())
        names = next(v for v in values if isinstance(v, dict))
        value = {k: _aggregate(d, agg, [v.get(k) if isinstance(v, dict) else None for v in values],
                               orders.get(k, ()), rows) for k in names}
    else:
        value = _aggregate(d, agg, values, order, rows)
    return DecisionResult(value, [i for i, _ in outputs], [d.cite(d.rows[i]) for i, _ in outputs])


def _aggregate(d: DecisionIR, agg: str, values: list[Any], order: tuple[Any, ...], rows: list[int]) -> Any:
    """sum, min or max of one output's values; min and max follow `order` when given."""
    if agg == "sum":
        return quantise(sum(v for v in values if type_class(v) == "n"))
    key: Callable[[Any], Any] = (lambda v: next((k for k, o in enumerate(order) if _same(o, v)), len(order))) \
        if order else (lambda v: v)
    try:
        return min(values, key=key) if agg == "min" else max(values, key=key)
    except TypeError:
        raise RuleEvaluationError(f"decision {d.name!r}: cannot order {values!r}", file=d.file,
                                  line=d.rows[rows[0]].line) from None


def output_rank(d: DecisionIR, value: Any) -> Any:
    """Where an output stands in `values` (first listed first; unlisted last).

    Several named outputs rank by the first output's `values`, ties by the next one's
    (DMN's order for compound outputs).
    """
    def one(order: tuple[Any, ...], v: Any) -> int:
        return next((k for k, o in enumerate(order) if _same(o, v)), len(order))

    if isinstance(value, dict) and d.output_values:
        return tuple(one(order, value.get(name)) for name, order in d.output_values)
    return one(d.values or (), value)


def _same(a: Any, b: Any) -> bool:
    """Equal as rule outputs: `1` is not `True`, `1` is `1.0`."""
    return type_class(a) == type_class(b) and a == b
