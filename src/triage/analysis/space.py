"""The finite cells of each input: one representative value per cell.

Because rows only compare inputs with literals, two values that every row literal
treats alike are interchangeable. So a number is split at the cut points the rows use
(each cut point, and the non-empty intervals between and around them, clipped to the
domain's min/max, on the quantised grid), an enumeration or boolean takes each value
(and null when nullable), and a string is null, one of the literals compared, or
"another string" (`OTHER`). A decision read by a later decision ranges over its
`values` (or its literal outputs). The analysis is exact over these cells.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from triage.rules.domains import Domain, quantise, type_class, undeclared
from triage.rules.interpreter import leaves
from triage.rules.ir import Cmp, Compound, DecisionIR, Template
from triage.rules.spec import MULTI_HIT

OTHER = "<other>"  # stands for every string that no row compares with


def is_other(value: Any) -> bool:
    """Whether `value` is the "another string" representative (`<other>`, `<<other>>`, ...)."""
    return isinstance(value, str) and value.startswith("<") and value.strip("<>") == OTHER.strip("<>")


@dataclass(frozen=True)
class FieldSpace:
    """One input: its representative values, and what each stands for (for messages)."""

    name: str
    values: tuple[Any, ...]
    ranges: dict[Any, str]  # representative -> "3..4" etc., for numbers standing for more

    def label(self, value: Any) -> str:
        return self.ranges.get(_key(value), "")


def _key(value: Any) -> tuple[str | None, Any]:
    return (type_class(value), value)


def literals_by_field(decision: DecisionIR) -> dict[str, set[tuple[str, Any]]]:
    """(type class, literal) pairs each field is compared with in this decision's rows."""
    out: dict[str, set[tuple[str, Any]]] = {}
    for row in decision.rows:
        for leaf in leaves(row.cond):
            if isinstance(leaf, Cmp):
                out.setdefault(leaf.field, set()).add((type_class(leaf.value), leaf.value))
    return out


def decision_space_domain(d: DecisionIR) -> tuple[Domain, tuple[Any, ...] | None]:
    """The domain a later decision sees for `d`, and its exact outputs when known."""
    nullable = d.has_default and d.default is None
    if d.hit_policy in MULTI_HIT or d.output_values or any(isinstance(r.then, Compound) for r in d.rows):
        return undeclared(d.name), None  # a list, an aggregate, or several named outputs
    outputs = [r.then for r in d.rows] + ([d.default] if d.has_default and d.default is not None else [])
    if d.values is not None:
        return Domain(d.name, "enum", nullable=nullable), tuple(d.values)
    if outputs and not any(isinstance(o, Template) for o in outputs):
        return Domain(d.name, "enum", nullable=nullable), tuple(dict.fromkeys(outputs))
    if all(isinstance(o, (Template, str)) for o in outputs):  # a template renders a string
        return Domain(d.name, "string", nullable=nullable), None
    return undeclared(d.name), None


def field_space(domain: Domain, literals: set[tuple[str, Any]], exact: tuple[Any, ...] | None = None) -> FieldSpace:
    """The cells of one input for a decision whose rows use `literals` on it."""
    ranges: dict[Any, str] = {}
    vals: list[Any] = [None] if domain.nullable or not domain.declared else []
    if exact is not None:  # a decision's outputs
        vals += list(exact)
        return FieldSpace(domain.name, tuple(dict.fromkeys(vals)), ranges)
    strings = sorted(v for tc, v in literals if tc == "s")
    cuts = sorted({v for tc, v in literals if tc == "n"})
    if not domain.declared:
        vals += strings + [_other(strings)]
        vals += _numbers(cuts, None, None, 0.001, ranges)
        vals += [False, True]
    elif domain.type == "enum":
        vals += list(domain.values or strings + [_other(strings)])
    elif domain.type == "bool":
        vals += [False, True]
    elif domain.type == "string":
        vals += strings + [_other(strings)]
    elif domain.ordered:  # int, float, date, datetime, duration
        step = 1 if domain.integral else 0.001
        vals += _numbers(cuts, domain.min, domain.max, step, ranges)
    else:  # an unknown type: be exact over every type class
        vals += strings + [_other(strings)] + _numbers(cuts, None, None, 0.001, ranges) + [False, True]
    return FieldSpace(domain.name, tuple(vals), ranges)


def _other(strings: list[str]) -> str:
    other = OTHER
    while other in strings:
        other = f"<{other}>"
    return other


def _numbers(cuts: list[Any], lo: float | None, hi: float | None, step: float,
             ranges: dict[Any, str]) -> list[Any]:
    """A representative for each cut point in [lo, hi] and each non-empty gap around them."""
    def q(x: float) -> Any:
        return quantise(x) if isinstance(step, float) else int(x)

    def inside(x: Any) -> bool:
        return (lo is None or x >= lo) and (hi is None or x <= hi)

    points = [c for c in cuts if inside(c)]
    out: list[Any] = []

    def gap(a: Any, b: Any) -> None:
        """The values strictly between a and b (None: unbounded) that the domain holds."""
        unbounded_below = a is None and lo is None
        if a is not None:
            first = q(a + step)
        elif lo is not None:
            first = math.ceil(lo) if step == 1 else lo
        else:
            first = q(b - step) if b is not None else 0
        if not inside(first) or (b is not None and first >= b):
            return
        last = q(b - step) if b is not None else hi  # None: unbounded above
        if last is not None and hi is not None:
            last = min(last, hi)
        out.append(first)
        if unbounded_below and last is None:
            ranges[_key(first)] = "any number"
        elif unbounded_below:
            ranges[_key(first)] = f"<= {_num(last)}"
        elif last is None:
            ranges[_key(first)] = f">= {_num(first)}"
        elif last != first:
            ranges[_key(first)] = f"{_num(first)}..{_num(last)}"

    if not points:
        gap(None, None)
        return out
    gap(None, points[0])
    for a, b in zip(points, points[1:]):
        out.append(a)
        gap(a, b)
    out.append(points[-1])
    gap(points[-1], None)
    return out


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x == int(x) else str(x)


def decision_spaces(d: DecisionIR, fact_domains: dict[str, Domain],
                    decision_domains: dict[str, tuple[Domain, tuple[Any, ...] | None]]) -> dict[str, FieldSpace]:
    """The cells of every input of decision `d`."""
    lits = literals_by_field(d)
    out = {}
    for name in sorted(d.inputs):
        if name in decision_domains:
            dom, exact = decision_domains[name]
            out[name] = field_space(dom, lits.get(name, set()), exact)
        else:
            dom = fact_domains.get(name) or undeclared(name)
            out[name] = field_space(dom, lits.get(name, set()))
    return out
