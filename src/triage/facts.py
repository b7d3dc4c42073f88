"""From a valid ticket to the flat, typed facts that rules read.

The names are the contract of `shared/reference-policy.md` ("Inputs the rules may
use"). Every fact a ticket field gives, and its domain, is derived from the `Ticket`
model's JSON Schema (`TICKET_FACTS`), so adding a field to the model adds its fact,
its domain and its check in the fast reader; `make_facts` is the one builder both
readers (pydantic's `Ticket`, `fastticket`) use. A rule set's `facts.yaml` may narrow
the domains (e.g. the category enumeration) and declare `extra.<name>` facts. Extra
ticket fields are flattened with dots, bounded in depth and number (only the fields a
rule reads reach durable_rules' messages, so its 255-property limit is the rule set's
concern, not the ticket's); every extra the rule set reads is kept whatever the bounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from triage.rules.domains import Domain, quantise
from triage.rules.ruleset import RuleSet
from triage.ticket import Region, Ticket

MAX_EXTRA_DEPTH = 4
MAX_EXTRA_FACTS = 64
MAX_EXTRA_STRING = 1000


@dataclass(frozen=True)
class TicketFact:
    """One fact a ticket field gives, as the model's schema declares it."""

    name: str
    path: tuple[str, ...]  # ("customer", "tier")
    type: str  # "string", "enum", "int" or "bool"
    nullable: bool
    default: Any
    values: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    null_means: Any = None  # the value null stands for (product: "none")
    blank_is_null: bool = False
    description: str | None = None

    @property
    def domain(self) -> Domain:
        return Domain(self.name, self.type, self.values, self.min, self.max, self.nullable,
                      description=self.description)


def _ticket_facts() -> tuple[tuple[TicketFact, ...], dict[tuple[str, ...], frozenset[str]]]:
    """The facts of the ticket model's scalar fields, and each (nested) object's field names."""
    schema = Ticket.model_json_schema()
    defs = schema.get("$defs", {})
    facts: list[TicketFact] = []
    objects: dict[tuple[str, ...], frozenset[str]] = {}

    def walk(obj: dict[str, Any], prefix: tuple[str, ...]) -> None:
        props = obj["properties"]
        objects[prefix] = frozenset(props)
        for key, p in props.items():
            if p.get("x-fact", True) is False:
                continue
            if "$ref" in p:
                walk(defs[p["$ref"].rsplit("/", 1)[1]], prefix + (key,))
                continue
            alts = p.get("anyOf", [p])
            base = [a for a in alts if a.get("type") != "null"]
            if len(base) != 1:
                raise TypeError(f"ticket field {'.'.join(prefix + (key,))}: mark it x-fact false or give one type")
            b = base[0]
            kind = "enum" if "enum" in b else {"string": "string", "integer": "int", "boolean": "bool"}.get(b.get("type"))
            if kind is None or b.get("format"):
                raise TypeError(f"ticket field {'.'.join(prefix + (key,))} is not a scalar fact: mark it x-fact false")
            facts.append(TicketFact(
                name=p.get("x-fact") or key, path=prefix + (key,), type=kind,
                nullable=len(alts) > 1, default=p.get("default"),
                values=tuple(b["enum"]) if "enum" in b else None,
                min=b.get("minimum"), max=b.get("maximum"),
                min_length=b.get("minLength"), max_length=b.get("maxLength"),
                null_means=p.get("x-null-means"), blank_is_null=bool(p.get("x-blank-is-null")),
                description=p.get("description")))

    walk(schema, ())
    return tuple(facts), objects


TICKET_FACTS, TICKET_OBJECTS = _ticket_facts()
FACT_NAMES = tuple(f.name for f in TICKET_FACTS)

# Facts that deciding adds to a ticket's own: the category, and where the case stands at the
# evaluation time `now` (a new ticket is evaluated at its creation: clocks at 0).
DECISION_DOMAINS = (
    Domain("category", "string", description="the model's or the given category ('unknown' below the threshold)"),
    Domain("category_source", "enum", ("model", "given")),
    Domain("confidence", "float", min=0, max=1, nullable=True, description="null when the category was given"),
    Domain("partner_managed", "bool", description="the account has a partner id"),
    Domain("language", "string", nullable=True,
           description="the text's language, ISO 639-1 (en, de, ...) or 'other'; null when not identified"),
    Domain("created_hour", "int", min=0, max=23, description="UTC hour of creation"),
    Domain("created_weekday", "int", min=0, max=6, description="UTC weekday of creation, Monday = 0"),
    Domain("shift_region", "enum", get_args(Region), description="region on shift at the evaluation time (schedule)"),
    Domain("created_shift_region", "enum", get_args(Region), description="region on shift at creation (schedule)"),
    Domain("responded", "bool", description="a first response was given by the evaluation time"),
    Domain("age_minutes", "int", min=0, max=10**9, description="whole minutes from creation to the evaluation time"),
    # Used percentages are not capped (an overdue case shows 625): bounded only to keep the domain finite.
    Domain("response_used", "int", min=0, max=10**9, description="response clock used, whole percent"),
    Domain("resolution_used", "int", min=0, max=10**9, description="resolution clock used, whole percent"),
)
STANDARD_DOMAINS: dict[str, Domain] = {d.name: d for d in (*(f.domain for f in TICKET_FACTS), *DECISION_DOMAINS)}


def load_rules(folder: str | Path) -> RuleSet:
    """A rule folder over the ticket's standard facts (`RuleSet.load` with `STANDARD_DOMAINS`)."""
    return RuleSet.load(folder, STANDARD_DOMAINS)


def ticket_values(ticket: Ticket) -> tuple[Any, ...]:
    """A validated ticket's fact values, in `TICKET_FACTS` order (as the fast reader gives them)."""
    out = []
    for f in TICKET_FACTS:
        v: Any = ticket
        for p in f.path:
            v = getattr(v, p)
        out.append(v)
    return tuple(out)


def make_facts(values: tuple[Any, ...], created: datetime, extras: dict[str, Any]) -> dict[str, Any]:
    """The facts of one valid ticket (before deciding adds category and time): the one
    builder for both readers. `extras`: its flattened extra fields (`extra_facts`)."""
    facts = dict(zip(FACT_NAMES, values))
    facts["partner_managed"] = facts["partner_id"] is not None
    facts["created_hour"] = created.hour
    facts["created_weekday"] = created.weekday()
    if extras:
        facts.update(extras)
    return facts


def ticket_facts(ticket: Ticket, wanted: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`make_facts` of a pydantic `Ticket`; `wanted`: the extras the rules read."""
    extras = extra_facts(ticket.model_extra, wanted) if ticket.model_extra else {}
    return make_facts(ticket_values(ticket), ticket.created_at, extras)


def add_category(facts: dict[str, Any], category: str, confidence: float | None, source: str) -> dict[str, Any]:
    """The facts with the settled category (confidence quantised as rules compare it)."""
    facts["category"] = category
    facts["category_source"] = source
    facts["confidence"] = None if confidence is None else quantise(float(confidence))
    return facts


def extra_facts(extra: dict[str, Any], wanted: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Flatten extra fields to `extra.a.b` scalars (depth, count and length bounded).

    Every field in `wanted` (the extras a rule set reads) is kept, at any depth. Of the
    others, lists and values deeper than `MAX_EXTRA_DEPTH` are not facts, and beyond
    `MAX_EXTRA_FACTS` the rest are dropped in key order, so the result is deterministic.
    """
    out: dict[str, Any] = {}
    others = 0
    # Dicts on the way to a wanted field are walked whatever the depth or count.
    on_the_way = {w[:i] for w in wanted for i in range(len(w)) if w[i] == "."}

    def walk(prefix: str, value: Any, depth: int) -> None:
        nonlocal others
        if isinstance(value, dict):
            if prefix not in on_the_way and (depth >= MAX_EXTRA_DEPTH or others >= MAX_EXTRA_FACTS):
                return
            for k in sorted(value, key=str):
                walk(f"{prefix}.{k}", value[k], depth + 1)
            return
        is_wanted = prefix in wanted
        if not is_wanted and (depth > MAX_EXTRA_DEPTH or others >= MAX_EXTRA_FACTS):
            return
        if isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                return
            value = quantise(value)
        elif isinstance(value, str):
            value = value[:MAX_EXTRA_STRING]
        else:
            return
        if not is_wanted and prefix not in out:
            others += 1
        out[prefix] = value

    for key in sorted(extra, key=str):
        walk(f"extra.{key}", extra[key], 1)
    return out
