"""From a validated ticket to the flat, typed facts that rules read.

The names are the contract of `shared/reference-policy.md` ("Inputs the rules may
use"); their domains derive from the ticket model's own types, so they are declared
once. A rule set's `facts.yaml` may narrow them (e.g. the category enumeration) and
declare `extra.<name>` facts. Extra ticket fields are flattened with dots, bounded in
depth and number (only the fields a rule reads reach durable_rules' messages, so its
255-property limit is the rule set's concern, not the ticket's); every extra the rule
set reads is kept whatever the bounds.
"""
from __future__ import annotations

import math
from typing import Any, get_args

from triage.rules.domains import Domain, quantise
from triage.ticket import Channel, CloudProvider, CustomerTier, Product, Region, Ticket

MAX_EXTRA_DEPTH = 4
MAX_EXTRA_FACTS = 64
MAX_EXTRA_STRING = 1000

STANDARD_DOMAINS: dict[str, Domain] = {d.name: d for d in (
    Domain("category", "string", description="the model's or the given category ('unknown' below the threshold)"),
    Domain("category_source", "enum", ("model", "given")),
    Domain("confidence", "float", min=0, max=1, nullable=True, description="null when the category was given"),
    Domain("channel", "enum", get_args(Channel)),
    Domain("customer_tier", "enum", get_args(CustomerTier)),
    Domain("account_id", "string", nullable=True),
    Domain("partner_managed", "bool"),
    Domain("partner_id", "string", nullable=True),
    Domain("home_region", "enum", get_args(Region), nullable=True),
    Domain("reported_severity", "int", min=1, max=4, nullable=True),
    Domain("affected_customers", "int", min=1, max=10**9),
    Domain("affected_services", "int", min=0, max=10**9),
    Domain("product", "enum", get_args(Product)),
    Domain("cloud_provider", "enum", get_args(CloudProvider)),
    Domain("service_id", "string", nullable=True),
    Domain("location", "string", nullable=True),
    Domain("escalation_level", "int", min=0, max=1000),
    Domain("status", "string"),
    Domain("created_hour", "int", min=0, max=23, description="UTC hour of creation"),
    Domain("created_weekday", "int", min=0, max=6, description="UTC weekday of creation, Monday = 0"),
    Domain("shift_region", "enum", get_args(Region), description="region on shift at creation (schedule)"),
    # Case lifecycle (triage.clocks): the resolution clock's used percent at the evaluation
    # time; 0 for a new ticket. Not capped, so bounded only to keep the domain finite.
    Domain("resolution_used", "int", min=0, max=10**9, description="resolution clock used, whole percent"),
)}


def ticket_facts(ticket: Ticket, category: str, confidence: float | None, source: str,
                 shift_region: str, wanted: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The facts of one ticket; None means absent. `wanted`: the extras the rules read."""
    c, s = ticket.customer, ticket.service
    facts: dict[str, Any] = {
        "category": category,
        "category_source": source,
        "confidence": None if confidence is None else quantise(float(confidence)),
        "channel": ticket.channel,
        "customer_tier": c.tier,
        "account_id": c.account_id,
        "partner_managed": c.partner_id is not None,
        "partner_id": c.partner_id,
        "home_region": c.home_region,
        "reported_severity": ticket.reported_severity,
        "affected_customers": ticket.affected_customers,
        "affected_services": ticket.affected_services,
        "product": s.product,
        "cloud_provider": s.cloud_provider,
        "service_id": s.service_id,
        "location": s.location,
        "escalation_level": ticket.escalation_level,
        "status": ticket.status,
        "created_hour": ticket.created_at.hour,
        "created_weekday": ticket.created_at.weekday(),
        "shift_region": shift_region,
    }
    if ticket.model_extra:
        facts.update(extra_facts(ticket.model_extra, wanted))
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
