"""Conditions, outputs and values as short text, close to how rule files write them.

Shared by `check` (messages) and `explain` ("why not": `affected_customers >= 5:
actual 1`).
"""
from __future__ import annotations

from typing import Any

from triage.rules.interpreter import leaves
from triage.rules.ir import Absent, And, Cmp, Compound, Cond, FieldCmp, Match, Not, Or, Present, Template, leaf_fields


def value_text(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    if isinstance(v, list):  # a multiple-hit decision's answer
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, dict):  # several named outputs
        return "{" + ", ".join(f"{k}: {value_text(x)}" for k, x in v.items()) + "}"
    return str(v)


def output_text(out: Any) -> str:
    if isinstance(out, Compound):
        return out.text
    if isinstance(out, Template):
        return f'"{out.text}"'
    return value_text(out)


def _one_of(c: Or) -> tuple[str, list[Any]] | None:
    """`field: [a, b]` parses to an Or of equalities on one field."""
    if c.items and all(isinstance(i, Cmp) and i.op == "==" for i in c.items):
        names = {i.field for i in c.items}  # type: ignore[union-attr]
        if len(names) == 1:
            return names.pop(), [i.value for i in c.items]  # type: ignore[union-attr]
    return None


def _null_test(c: And) -> str | None:
    """`field: null` parses to an And of Absent tests on one field."""
    if c.items and all(isinstance(i, Absent) for i in c.items):
        names = {i.field for i in c.items}  # type: ignore[union-attr]
        if len(names) == 1:
            return names.pop()
    return None


def describe(c: Cond) -> str:
    if isinstance(c, Cmp):
        return f"{c.field} {c.op} {c.text or value_text(c.value)}"
    if isinstance(c, FieldCmp):
        return f"{c.field} {c.op} fact {c.other}"
    if isinstance(c, Absent):
        return f"{c.field} is null"
    if isinstance(c, Present):
        return f"{c.field} is set"
    if isinstance(c, Match):
        return f"{c.field} matches {c.pattern!r}"
    if isinstance(c, Not):
        if isinstance(c.item, And) and _null_test(c.item):
            return f"{_null_test(c.item)} is set"
        if isinstance(c.item, Absent):
            return f"{c.item.field} is set"
        return f"not ({describe(c.item)})"
    if isinstance(c, Or):
        if not c.items:
            return "never"
        one = _one_of(c)
        if one:
            return f"{one[0]} in [{', '.join(value_text(v) for v in one[1])}]"
        return "any of (" + "; ".join(describe(i) for i in c.items) + ")"
    if isinstance(c, And):
        if not c.items:
            return "always"
        name = _null_test(c)
        if name:
            return f"{name} is null"
        if len(c.items) == 1:
            return describe(c.items[0])
        parts = []
        for i in c.items:
            text = describe(i)
            if (isinstance(i, Or) and not _one_of(i) and i.items) or (
                    isinstance(i, And) and len(i.items) > 1 and not _null_test(i)):
                text = f"({text})"
            parts.append(text)
        return " and ".join(parts)
    return repr(c)


def fields_of(c: Cond) -> list[str]:
    return list(dict.fromkeys(f for leaf in leaves(c) for f in leaf_fields(leaf)))


def actual_text(c: Cond, facts: dict[str, Any]) -> str:
    """`actual 1`, or `actual a=1, b=null` when the condition reads several fields."""
    names = fields_of(c)
    if len(names) == 1:
        return f"actual {value_text(facts.get(names[0]))}"
    return "actual " + ", ".join(f"{n}={value_text(facts.get(n))}" for n in names)


def facts_text(facts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={value_text(v)}" for k, v in facts.items())
