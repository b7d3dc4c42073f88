"""Enumerating cells with pruning: rows simplified as inputs are assigned.

The search assigns one input at a time (the first one the first undecided row needs)
and substitutes it into every row: a leaf on that input becomes True or False (by the
reference interpreter, `holds`) and the row simplifies to True, False, or a smaller
residual condition. Values of the input that leave every row with the same residual
behave alike from then on, so they are explored once (the first stands for all, and
the region's `weight` counts them). The search stops as soon as the outcome is fixed,
so a region of cells that behave alike is visited once.

A `matches` leaf is decided for null, for non-strings and for the literals other rows
compare with, but not for "another string" (the checker does not reason about regular
expressions): a row that still depends on such a leaf stays undecided (None), which
callers read as "may or may not hold".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

from triage.analysis.space import FieldSpace, is_other
from triage.rules.interpreter import holds, leaves
from triage.rules.domains import type_class
from triage.rules.ir import And, Cond, FieldCmp, Match, Not, Or, leaf_fields

DEFAULT_BUDGET = 200_000  # nodes visited per search; the shipped rules need a few hundred

Residual = Union[bool, Cond]


class BudgetExceeded(Exception):
    """The enumeration would visit more nodes than allowed."""


@dataclass
class Budget:
    limit: int = DEFAULT_BUDGET
    used: int = 0

    def spend(self) -> None:
        self.used += 1
        if self.used > self.limit:
            raise BudgetExceeded()


@dataclass(frozen=True)
class Region:
    """Cells that agree on `assign` (unlisted inputs: any value) and so on every row.

    An assigned value may stand for several values that behave alike; `weight` is the
    number of cells of the decision's input space the region holds.
    """

    assign: dict[str, Any]
    status: tuple[bool | None, ...]
    weight: int


def substitute(c: Residual, field: str, value: Any) -> Residual:
    """`c` with `field` = `value`, simplified (True/False when decided)."""
    if isinstance(c, bool):
        return c
    if isinstance(c, (And, Or, Not)):
        return _combine(c, lambda i: substitute(i, field, value))
    if isinstance(c, FieldCmp):
        # Cells split each input alone, not by the relation of two: decided only when a
        # side has no value of the compared type; otherwise "may hold" (unanalysable).
        if field in (c.field, c.other) and type_class(value) != c.tc:
            return False
        return c
    if c.field != field:
        return c
    if isinstance(c, Match) and is_other(value):
        return c  # "another string" may or may not match: undecidable
    return holds(c, {field: value})


def _combine(c: And | Or | Not, part: Callable[[Cond], Residual]) -> Residual:
    """Rebuild an and/or/not from its parts' residuals, folding constants away."""
    if isinstance(c, Not):
        s = part(c.item)
        return (not s) if isinstance(s, bool) else Not(s)
    stop = isinstance(c, Or)  # the value that decides the whole: True for Or, False for And
    items = []
    for i in c.items:
        s = part(i)
        if s is stop:
            return stop
        if s is not (not stop):
            items.append(s)
    if not items:
        return not stop
    return items[0] if len(items) == 1 else type(c)(tuple(items))


def fold(c: Cond) -> Residual:
    """Constant parts folded: `always` (empty and) is True, `never` (empty or) is False."""
    if isinstance(c, (And, Or, Not)):
        return _combine(c, fold)
    return c


def fields_of(c: Residual) -> tuple[str, ...]:
    """Fields `c` reads, in reading order (the order the search assigns them)."""
    if isinstance(c, bool):
        return ()
    return tuple(dict.fromkeys(f for leaf in leaves(c) for f in leaf_fields(leaf)))


def _status(r: Residual) -> bool | None:
    return r if isinstance(r, bool) else None


def explore(conds: Sequence[Cond], spaces: dict[str, FieldSpace], mode: str, budget: Budget,
            guard: Cond | None = None) -> list[Region]:
    """The regions of the cells of `spaces`, each deciding what `mode` needs.

    mode "first": until the first row that holds is known (rows after it do not matter);
    mode "all": until every row is decided. With `guard`, only cells where the guard
    may hold are kept (the guard is decided first).
    """
    all_fields = list(spaces)
    out: list[Region] = []

    def needed(fields: list[tuple[str, ...]], res: list[Residual], assign: dict[str, Any]) -> str | None:
        """The next input to assign; None when the outcome is fixed (or only `matches` remain).

        Position 0 is the guard; the rows follow.
        """
        for i, r in enumerate(res):
            if r is True and mode == "first" and i > 0:
                return None
            for f in fields[i]:
                if f not in assign:
                    return f
        return None

    def rec(res: list[Residual], fields: list[tuple[str, ...]], assign: dict[str, Any], mult: int) -> None:
        budget.spend()
        if res[0] is False:
            return
        f = needed(fields, res, assign)
        if f is None:
            weight = mult
            for name in all_fields:
                if name not in assign:
                    weight *= len(spaces[name].values)
            out.append(Region(dict(assign), tuple(_status(r) for r in res[1:]), weight))
            return
        # Only the rows that read `f` change; values leaving them alike are explored once.
        touched = [i for i, fs in enumerate(fields) if f in fs]
        groups: dict[tuple[Residual, ...], list[Any]] = {}
        for v in spaces[f].values:
            groups.setdefault(tuple(substitute(res[i], f, v) for i in touched), []).append(v)
        for changed, values in groups.items():
            new_res, new_fields = list(res), list(fields)
            for i, r in zip(touched, changed):
                new_res[i], new_fields[i] = r, fields_of(r)
            assign[f] = values[0]
            rec(new_res, new_fields, assign, mult * len(values))
        del assign[f]

    start = [fold(guard) if guard is not None else True] + [fold(c) for c in conds]
    rec(start, [fields_of(r) for r in start], {}, 1)
    return out


def max_holding(conds: Sequence[Cond], spaces: dict[str, FieldSpace], budget: Budget) -> tuple[int, dict[str, Any]]:
    """The most conditions that hold together for one cell (undecidable ones counted as holding).

    Branch and bound: values that make more conditions hold are tried first, and a
    branch whose conditions could not all hold to beat the best so far is cut.
    """
    best: list[Any] = [-1, {}]

    def rec(res: list[Residual], fields: list[tuple[str, ...]], assign: dict[str, Any]) -> None:
        budget.spend()
        possible = sum(1 for r in res if r is not False)
        if possible <= best[0]:
            return
        f = next((x for fs in fields for x in fs if x not in assign), None)
        if f is None:
            best[0], best[1] = possible, dict(assign)
            return
        touched = [i for i, fs in enumerate(fields) if f in fs]
        groups: dict[tuple[Residual, ...], Any] = {}
        for v in spaces[f].values:
            groups.setdefault(tuple(substitute(res[i], f, v) for i in touched), v)
        for changed, v in sorted(groups.items(), key=lambda kv: -sum(1 for r in kv[0] if r is not False)):
            new_res, new_fields = list(res), list(fields)
            for i, r in zip(touched, changed):
                new_res[i], new_fields[i] = r, fields_of(r)
            assign[f] = v
            rec(new_res, new_fields, assign)
        del assign[f]

    start = [fold(c) for c in conds]
    rec(start, [fields_of(r) for r in start], {})
    return max(best[0], 0), best[1]
