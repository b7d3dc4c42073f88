"""The intermediate representation every evaluator and the checker share.

A condition is a small tree: `Cmp` (field op literal), `Absent`/`Present` (no value /
a value of one type class), `Match` (regular expression), and `And`/`Or`/`Not`.
`TRUE` is an empty `And`, `FALSE` an empty `Or`. Parsing from YAML checks every field
and literal against its domain and reports the file, line and rule id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from triage.errors import RuleFileError
from triage.rules.domains import TEMPORAL, Domain, suggest, temporal_text, temporal_value
from triage.rules.yamlio import LineDict, LineList

ORDER_OPS = ("<", "<=", ">", ">=")
NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str
    value: Any
    text: str | None = field(default=None, compare=False)  # a date's literal as written; `value` is its integer


@dataclass(frozen=True)
class FieldCmp:
    """`field op other`, two facts compared, holding when both have a value of type class `tc`.

    The checker cannot split two inputs' cells by their relation, so it reads such a
    leaf as "may hold" (an unanalysable row); the evaluators decide it exactly.
    """

    field: str
    op: str
    other: str
    tc: str


@dataclass(frozen=True)
class Absent:
    """The field holds no value of type class `tc` (null, or a value of another type)."""

    field: str
    tc: str


@dataclass(frozen=True)
class Present:
    field: str
    tc: str


@dataclass(frozen=True)
class Match:
    field: str
    pattern: str


@dataclass(frozen=True)
class And:
    items: tuple["Cond", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Cond", ...]


@dataclass(frozen=True)
class Not:
    item: "Cond"


Cond = Union[Cmp, FieldCmp, Absent, Present, Match, And, Or, Not]
TRUE = And(())
FALSE = Or(())


@dataclass(frozen=True)
class Template:
    """`then` text with `{field}` references, rendered after the row is chosen."""

    text: str
    parts: tuple[str | tuple[str], ...]  # literal text, or (field,) for a reference

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.parts if isinstance(p, tuple))

    def render(self, values: dict[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else _text(values.get(p[0])) for p in self.parts)


@dataclass(frozen=True)
class Compound(Template):
    """Several named outputs at once (DMN's compound output): `then: {status: A, rate: B}`.

    A kind of template: rendered per ticket into a fresh dict (its values may be
    templates themselves), so every evaluator and the cache treat it as one.
    """

    items: tuple[tuple[str, Any], ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, v in self.items if isinstance(v, Template) for f in v.fields)

    def render(self, values: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        return {k: v.render(values) if isinstance(v, Template) else v for k, v in self.items}


Output = Union[Template, str, int, float, bool]


@dataclass(frozen=True)
class Row:
    id: str
    index: int
    cond: Cond
    then: Output
    file: str
    line: int | None
    description: str | None = None
    unanalysable: bool = False


@dataclass(frozen=True)
class DecisionIR:
    name: str
    file: str
    hit_policy: str
    rows: tuple[Row, ...]
    has_default: bool
    default: Output | None
    default_line: int | None
    values: tuple[Any, ...] | None
    aggregate: str | None
    inputs: frozenset[str] = field(default_factory=frozenset)  # fields read by conditions
    # Compound outputs: each output's `values` (its order under priority / output_order).
    output_values: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    template_fields: frozenset[str] = field(default_factory=frozenset)

    def cite(self, row: Row | None) -> str:
        return f"{self.name}/{row.id if row is not None else 'default'}"


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_REF = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$")


def parse_output(value: Any, where: Callable[[str], RuleFileError]) -> Output:
    """A literal, or a `Template` when a string holds `{field}` references."""
    if not isinstance(value, str) or "{" not in value and "}" not in value:
        return value
    parts: list[str | tuple[str]] = []
    pos = 0
    for m in _REF.finditer(value):
        parts.append(value[pos:m.start()])
        tok = m.group(0)
        if tok in ("{{", "}}"):
            parts.append(tok[0])
        elif m.group(1) is not None and _FIELD.match(m.group(1).strip()):
            parts.append((m.group(1).strip(),))
        else:
            raise where(f"bad template {value!r}: {tok!r} is not a {{field}} reference "
                        "(write {{ or }} for a literal brace)")
        pos = m.end()
    parts.append(value[pos:])
    merged: list[str | tuple[str]] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif p != "":
            merged.append(p)
    if not any(isinstance(p, tuple) for p in merged):
        return "".join(merged)  # only escaped braces
    return Template(value, tuple(merged))


class ConditionParser:
    """Turns a YAML `when` mapping into a `Cond`, checking names and literals."""

    def __init__(self, domain_of: Callable[[str], Domain | None], file: str, rule_id: str,
                 allow_unanalysable: bool):
        self.domain_of = domain_of
        self.file = file
        self.rule_id = rule_id
        self.allow_unanalysable = allow_unanalysable
        self.fields: set[str] = set()
        self.uses_match = False

    def error(self, reason: str, line: int | None) -> RuleFileError:
        return RuleFileError(reason, file=self.file, line=line, rule_id=self.rule_id)

    def parse(self, raw: Any, line: int | None, depth: int = 0) -> Cond:
        if depth > 50:
            raise self.error("condition nested too deeply (more than 50 levels)", line)
        if raw is None:
            return TRUE
        if not isinstance(raw, dict):
            raise self.error(f"a condition must be a mapping of field: test, not {raw!r}", line)
        items: list[Cond] = []
        for key, value in raw.items():
            kline = raw.key_lines.get(key, line) if isinstance(raw, LineDict) else line
            if key in ("any", "all"):
                if not isinstance(value, list) or not value:
                    raise self.error(f"`{key}` takes a non-empty list of conditions", kline)
                lines = value.item_lines if isinstance(value, LineList) else [kline] * len(value)
                subs = tuple(self.parse(v, ln, depth + 1) for v, ln in zip(value, lines))
                items.append(Or(subs) if key == "any" else And(subs))
            elif key == "not":
                sub = self.parse(value, kline, depth + 1)
                if _contains_match(sub):
                    raise self.error("`not` cannot wrap `matches` (durable_rules has no negated "
                                     "regular expression)", kline)
                items.append(Not(sub))
            else:
                items.append(self.field_test(key, value, kline))
        return items[0] if len(items) == 1 else And(tuple(items))

    def field_test(self, name: Any, test: Any, line: int | None) -> Cond:
        if not isinstance(name, str) or not _FIELD.match(name):
            raise self.error(f"{name!r} is not a field name", line)
        domain = self.domain_of(name)
        if domain is None:
            raise self.error(f"unknown field {name!r}{self.suggest_field(name)}", line)
        self.fields.add(name)
        if test is None:
            return And(tuple(Absent(name, tc) for tc in domain.type_classes))
        if isinstance(test, list):
            if not test:
                raise self.error(f"{name}: an empty list can never match", line)
            return Or(tuple(self.cmp(domain, "==", v, line) for v in test))
        if isinstance(test, dict) and set(test) == {"fact"}:
            return self.fact_cmp(domain, "==", test["fact"], line)
        if isinstance(test, dict):
            if not test:
                raise self.error(f"{name}: empty operator mapping", line)
            conds = []
            for op, v in test.items():
                if op == "matches":
                    conds.append(self.match(domain, v, line))
                elif op in NEGATE:
                    conds.append(self.cmp(domain, op, v, line))
                else:
                    raise self.error(f"{name}: unknown operator {op!r}{suggest(op, list(NEGATE) + ['matches'])} "
                                     "(use ==, !=, <, <=, >, >=, matches)", line)
            return conds[0] if len(conds) == 1 else And(tuple(conds))
        return self.cmp(domain, "==", test, line)

    def cmp(self, domain: Domain, op: str, value: Any, line: int | None) -> Cond:
        if isinstance(value, dict) and set(value) == {"fact"}:
            return self.fact_cmp(domain, op, value["fact"], line)
        if isinstance(value, (list, dict)) or value is None:
            raise self.error(f"{domain.name} {op}: needs a single value, got {value!r}", line)
        text = None
        if domain.type in TEMPORAL:
            try:
                value = temporal_value(domain.type, value)
                text = temporal_text(domain.type, value)
            except ValueError as exc:
                raise self.error(f"{domain.name} is a {domain.type}: {exc}", line) from None
        problem = domain.literal_problem(value, op)
        if problem:
            raise self.error(problem, line)
        if isinstance(value, float) and value == int(value):
            value = int(value)
        return Cmp(domain.name, op, value, text)

    def fact_cmp(self, domain: Domain, op: str, other: Any, line: int | None) -> Cond:
        """`field: {op: {fact: other}}`: one fact against another, per shared type class."""
        if not isinstance(other, str) or not _FIELD.match(other):
            raise self.error(f"{domain.name} {op}: `fact:` takes a field name, got {other!r}", line)
        odom = self.domain_of(other)
        if odom is None:
            raise self.error(f"{domain.name} {op}: unknown field {other!r}{self.suggest_field(other)}", line)
        if other == domain.name:
            raise self.error(f"{domain.name} {op}: compares the field with itself", line)
        typed = TEMPORAL + ("enum",)  # a date is no number, nor one enumeration another's
        if domain.declared and odom.declared and (domain.type in typed or odom.type in typed) \
                and odom.type != domain.type:
            raise self.error(f"{domain.name} ({domain.type}) cannot be compared with {other} ({odom.type})", line)
        shared = [tc for tc in domain.type_classes if tc in odom.type_classes]
        if op in ORDER_OPS:
            shared = [tc for tc in shared if tc == "n"]
        if not shared:
            raise self.error(f"{domain.name} ({domain.type}) and {other} ({odom.type}) have no values "
                             f"that `{op}` compares", line)
        self.fields.add(other)
        items = tuple(FieldCmp(domain.name, op, other, tc) for tc in shared)
        return items[0] if len(items) == 1 else Or(items)

    def match(self, domain: Domain, pattern: Any, line: int | None) -> Match:
        if not self.allow_unanalysable:
            raise self.error(f"{domain.name}: `matches` is not analysable; mark the row "
                             "`unanalysable: true` to allow it", line)
        if domain.declared and "s" not in domain.type_classes:
            raise self.error(f"{domain.name}: `matches` needs a string field", line)
        if not isinstance(pattern, str):
            raise self.error(f"{domain.name}: `matches` takes a pattern string", line)
        from triage.rules.regex import check_pattern

        problem = check_pattern(pattern)
        if problem:
            raise self.error(f"{domain.name}: pattern {pattern!r}: {problem}", line)
        self.uses_match = True
        return Match(domain.name, pattern)

    def suggest_field(self, name: str) -> str:
        known = getattr(self.domain_of, "known", None)
        return suggest(name, known() if known else [])


def leaf_fields(leaf: Cond) -> tuple[str, ...]:
    """The fields one leaf reads: two for a comparison of facts, else one."""
    if isinstance(leaf, FieldCmp):
        return (leaf.field, leaf.other)
    return (leaf.field,)  # type: ignore[union-attr]


def _contains_match(c: Cond) -> bool:
    if isinstance(c, Match):
        return True
    if isinstance(c, (And, Or)):
        return any(_contains_match(i) for i in c.items)
    if isinstance(c, Not):
        return _contains_match(c.item)
    return False


def to_nnf(c: Cond, negate: bool = False) -> Cond:
    """Push `Not` down to the leaves (durable_rules has no negation of a sub-condition).

    Under the typed semantics a comparison holds only when the field has a value of the
    literal's type class, so not(f op v) = f has no such value, or f (negated op) v.
    """
    if isinstance(c, Not):
        return to_nnf(c.item, not negate)
    if isinstance(c, And):
        items = tuple(to_nnf(i, negate) for i in c.items)
        return Or(items) if negate else And(items)
    if isinstance(c, Or):
        items = tuple(to_nnf(i, negate) for i in c.items)
        return And(items) if negate else Or(items)
    if not negate:
        return c
    if isinstance(c, Cmp):
        from triage.rules.domains import type_class

        tc = type_class(c.value)
        return Or((Absent(c.field, tc), Cmp(c.field, NEGATE[c.op], c.value, c.text)))
    if isinstance(c, FieldCmp):
        return Or((Absent(c.field, c.tc), Absent(c.other, c.tc), FieldCmp(c.field, NEGATE[c.op], c.other, c.tc)))
    if isinstance(c, Absent):
        return Present(c.field, c.tc)
    if isinstance(c, Present):
        return Absent(c.field, c.tc)
    raise ValueError(f"cannot negate {c!r}")  # Match: refused when parsing
