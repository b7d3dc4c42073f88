"""A loaded rule set: its decisions in dependency order, evaluated on durable_rules.

`evaluate` runs every decision on durable_rules (or the interpreter) and returns the
full result of each, for explain, rule tests and the checker. `decide` is the hot
path: the same decisions reused by cell from `cellcache` (durable_rules decides each
distinct cell once). Hit policies and templates are applied in Python on the matched
rows, identically for both evaluators.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from triage.errors import TriageError
from triage.rules import interpreter
from triage.rules.cellcache import CellDecider
from triage.rules.domains import Domain, type_class
from triage.rules.ir import DecisionIR, Output, Template


class RuleEvaluationError(TriageError):
    """A ticket's facts hit a hole in the rules (no row and no default, or a `unique` clash)."""


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
    def load(cls, folder: str | Path) -> "RuleSet":
        from triage.rules.loader import load_ruleset

        return load_ruleset(folder)

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
                         if f.startswith("extra."))

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

    def evaluate(self, facts: dict[str, Any], evaluator: str = "durable") -> dict[str, DecisionResult]:
        """Decide every decision in order; each result becomes a fact for the next.

        `evaluator` is "durable" (durable_rules) or "python" (the interpreter); no cache.
        `facts` is extended in place with the decisions' values.
        """
        results: dict[str, DecisionResult] = {}
        for d in self.decisions:
            if evaluator == "durable":
                rows = self._engine_rows(d, facts)
            else:
                rows = interpreter.matching_rows(d, facts, first_only=d.hit_policy == "first")
            res = resolve(d, rows, facts)
            res.matched = rows
            facts[d.name] = res.value
            results[d.name] = res
        return results

    def decide(self, facts: dict[str, Any]) -> dict[str, list[str]]:
        """The hot path: every decision's value put into `facts`; returns the cited rules.

        Equal to `evaluate(facts, "durable")` (a property test holds it so), with each
        distinct cell decided once by durable_rules and reused (see `cellcache`).
        """
        if not self.use_cache:
            return {n: r.cited for n, r in self.evaluate(facts).items()}
        if self._decider is None:
            self._decider = CellDecider(self.decisions, self.domains, self._engine_rows, resolve)
        return self._decider.decide(facts)

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


def resolve(d: DecisionIR, rows: list[int], facts: dict[str, Any]) -> DecisionResult:
    """Apply the hit policy to the matched rows (in row order)."""
    if not rows:
        if d.hit_policy == "collect" and not d.has_default:
            # Collecting nothing is an answer: the aggregate of no outputs.
            empty = {"list": [], "count": 0, "sum": 0}.get(d.aggregate or "list")
            return DecisionResult(empty, [], [])
        if not d.has_default:
            raise RuleEvaluationError(f"{d.file}: decision {d.name!r}: no row matched and there is no default")
        value = render(d.default, facts)
        if d.hit_policy == "collect" and d.aggregate in (None, "list"):
            value = [] if value is None else [value]
        return DecisionResult(value, [], [d.cite(None)])
    policy = d.hit_policy
    if policy == "first":
        row = d.rows[rows[0]]
        return DecisionResult(render(row.then, facts), [row.index], [d.cite(row)])
    if policy == "unique":
        if len(rows) > 1:
            ids = ", ".join(d.rows[i].id for i in rows)
            raise RuleEvaluationError(f"{d.file}: decision {d.name!r} has hit policy unique but rows {ids} all match")
        row = d.rows[rows[0]]
        return DecisionResult(render(row.then, facts), [row.index], [d.cite(row)])
    outputs = [(i, render(d.rows[i].then, facts)) for i in rows]
    if policy == "priority":
        order = d.values or ()
        rank: Callable[[Any], int] = lambda v: order.index(v) if v in order else len(order)
        i, value = min(outputs, key=lambda iv: (rank(iv[1]), iv[0]))
        return DecisionResult(value, [i], [d.cite(d.rows[i])])
    values = [v for _, v in outputs]
    agg = d.aggregate or "list"
    if agg == "list":
        value: Any = list(dict.fromkeys(values))
    elif agg == "count":
        value = len(values)
    elif agg == "sum":
        value = sum(v for v in values if type_class(v) == "n")
    else:
        order = d.values
        key = (lambda v: order.index(v) if v in order else len(order)) if order else (lambda v: v)
        try:
            value = min(values, key=key) if agg == "min" else max(values, key=key)
        except TypeError:
            raise RuleEvaluationError(f"{d.file}: decision {d.name!r}: cannot order {values!r}") from None
    return DecisionResult(value, list(rows), [d.cite(d.rows[i]) for i in rows])
