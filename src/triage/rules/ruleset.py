"""A loaded rule set: its decisions in dependency order, evaluated on durable_rules.

Stateless decisions depend only on which *cell* of the finite input domains the facts
fall in (numbers split at the cut points the rows use; strings either one of the
literals or "another string"), so each distinct cell is decided by durable_rules once
and the matched rows reused from a bounded cache. Hit policies and templates are
applied in Python on the matched rows, identically for both evaluators.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from triage.errors import TriageError
from triage.rules import interpreter
from triage.rules.domains import Domain, type_class
from triage.rules.interpreter import leaves
from triage.rules.ir import Cmp, DecisionIR, Match, Output, Template

CACHE_LIMIT = 65_536


class RuleEvaluationError(TriageError):
    """A ticket's facts hit a hole in the rules (no row and no default, or a `unique` clash)."""


def render(out: Output, values: dict[str, Any]) -> Any:
    return out.render(values) if isinstance(out, Template) else out


class CellKeyer:
    """Maps facts to the cell of a decision's input space; equal cells match equal rows."""

    def __init__(self, decision: DecisionIR):
        self.fields = sorted(decision.inputs)
        cuts: dict[str, set[float]] = {f: set() for f in self.fields}
        literals: dict[str, set[Any]] = {f: set() for f in self.fields}
        self.regex_fields: set[str] = set()
        for row in decision.rows:
            for leaf in leaves(row.cond):
                if isinstance(leaf, Cmp):
                    if type_class(leaf.value) == "n":
                        cuts[leaf.field].add(leaf.value)
                    else:
                        literals[leaf.field].add((type_class(leaf.value), leaf.value))
                elif isinstance(leaf, Match):
                    self.regex_fields.add(leaf.field)
        self.cuts = {f: sorted(c) for f, c in cuts.items()}
        self.literals = literals

    def key(self, facts: dict[str, Any]) -> tuple[Any, ...]:
        parts = []
        for f in self.fields:
            v = facts.get(f)
            tc = type_class(v) if v is not None else None
            if tc is None:
                parts.append(None)
            elif tc == "n":
                cuts = self.cuts[f]
                i = bisect_left(cuts, v)
                parts.append(("n", 2 * i + (1 if i < len(cuts) and cuts[i] == v else 0)))
            elif f in self.regex_fields or (tc, v) in self.literals[f]:
                parts.append((tc, v))
            else:
                parts.append((tc, "*"))
        return tuple(parts)


@dataclass
class DecisionResult:
    value: Any
    rows: list[int]  # matched rows that decided (empty: the default)
    cited: list[str]


@dataclass
class RuleSet:
    """Decisions in dependency order, the fact domains, and the content version."""

    folder: Path
    decisions: tuple[DecisionIR, ...]
    domains: dict[str, Domain]
    version: str
    use_cache: bool = True
    _engine: Any = field(default=None, repr=False)
    _keyers: dict[str, CellKeyer] = field(default_factory=dict, repr=False)
    _caches: dict[str, dict[tuple, list[int]]] = field(default_factory=dict, repr=False)

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
    def categories(self) -> tuple[str, ...] | None:
        dom = self.domains.get("category")
        return dom.values if dom is not None and dom.type == "enum" else None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from triage.rules.durable_engine import DurableEngine

            self._engine = DurableEngine(self.decisions)
            self._keyers = {d.name: CellKeyer(d) for d in self.decisions}
            self._caches = {d.name: {} for d in self.decisions}
        return self._engine

    def evaluate(self, facts: dict[str, Any], evaluator: str = "durable") -> dict[str, DecisionResult]:
        """Decide every decision in order; each result becomes a fact for the next.

        `evaluator` is "durable" (the engine, cached by cell) or "python" (the interpreter).
        `facts` is extended in place with the decisions' values.
        """
        matcher = self._durable_rows if evaluator == "durable" else self._python_rows
        results: dict[str, DecisionResult] = {}
        for d in self.decisions:
            rows = matcher(d, facts)
            res = resolve(d, rows, facts)
            facts[d.name] = res.value
            results[d.name] = res
        return results

    def _python_rows(self, d: DecisionIR, facts: dict[str, Any]) -> list[int]:
        return interpreter.matching_rows(d, facts, first_only=d.hit_policy == "first")

    def _durable_rows(self, d: DecisionIR, facts: dict[str, Any]) -> list[int]:
        engine = self.engine
        first = d.hit_policy == "first"
        if not self.use_cache:
            return engine.matching_rows(d.name, facts, first)
        key = self._keyers[d.name].key(facts)
        cache = self._caches[d.name]
        rows = cache.get(key)
        if rows is None:
            rows = engine.matching_rows(d.name, facts, first)
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[key] = rows
        return rows

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __getstate__(self) -> dict[str, Any]:
        # The native engine is not picklable: a worker process rebuilds it on first use.
        state = dict(self.__dict__)
        state.update(_engine=None, _keyers={}, _caches={})
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
