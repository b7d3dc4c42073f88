"""A pure-Python evaluator of the IR: the reference semantics.

Used by `explain` (which row failed on which condition, with the actual value), by
the checker, and by the differential tests that hold durable_rules to the same
answers. Semantics: a comparison holds only when the field has a value of the
literal's type class; `Absent` holds when it has none.
"""
from __future__ import annotations

import operator
from typing import Any, Iterable

from triage.rules.domains import type_class
from triage.rules.ir import Absent, And, Cmp, Cond, DecisionIR, FieldCmp, Match, Not, Or, Present
from triage.rules.regex import compiled

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}


def holds(c: Cond, facts: dict[str, Any]) -> bool:
    if isinstance(c, Cmp):
        v = facts.get(c.field)
        return v is not None and type_class(v) == type_class(c.value) and OPS[c.op](v, c.value)
    if isinstance(c, FieldCmp):
        a, b = facts.get(c.field), facts.get(c.other)
        return (a is not None and b is not None and type_class(a) == c.tc == type_class(b)
                and OPS[c.op](a, b))
    if isinstance(c, And):
        return all(holds(i, facts) for i in c.items)
    if isinstance(c, Or):
        return any(holds(i, facts) for i in c.items)
    if isinstance(c, Absent):
        v = facts.get(c.field)
        return v is None or type_class(v) != c.tc
    if isinstance(c, Present):
        v = facts.get(c.field)
        return v is not None and type_class(v) == c.tc
    if isinstance(c, Not):
        return not holds(c.item, facts)
    if isinstance(c, Match):
        v = facts.get(c.field)
        return isinstance(v, str) and compiled(c.pattern).fullmatch(v) is not None
    raise TypeError(f"not a condition: {c!r}")


def matching_rows(decision: DecisionIR, facts: dict[str, Any], first_only: bool = False) -> list[int]:
    """Indices of the rows whose condition holds, in row order."""
    out = []
    for row in decision.rows:
        if holds(row.cond, facts):
            out.append(row.index)
            if first_only:
                break
    return out


def first_failure(c: Cond, facts: dict[str, Any]) -> Cond | None:
    """The first leaf (in reading order) that makes `c` fail, for "why not"; None if it holds."""
    if holds(c, facts):
        return None
    if isinstance(c, And):
        for i in c.items:
            f = first_failure(i, facts)
            if f is not None:
                return f
    return c


def leaves(c: Cond) -> Iterable[Cond]:
    if isinstance(c, (And, Or)):
        for i in c.items:
            yield from leaves(i)
    elif isinstance(c, Not):
        yield from leaves(c.item)
    else:
        yield c
