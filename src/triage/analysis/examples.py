"""An example ticket for the facts of one cell, when the facts come from a ticket.

Facts that are decisions (`priority` read by `region`) or a model's confidence have
no ticket field: then there is no example ticket, only the facts. A ticket with its
category given has no confidence (null).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from triage.analysis.space import is_other

BASE_DAY = datetime(2026, 11, 23, tzinfo=timezone.utc)  # a Monday
TOP = {"channel", "reported_severity", "affected_customers", "affected_services", "escalation_level", "status",
       "category"}
CUSTOMER = {"customer_tier": "tier", "account_id": "account_id", "home_region": "home_region",
            "partner_id": "partner_id"}
SERVICE = {"product": "product", "cloud_provider": "cloud_provider", "service_id": "service_id",
           "location": "location"}
TIME = {"created_hour", "created_weekday", "shift_region"}


def example_ticket(facts: dict[str, Any], categories: tuple[str, ...] | None,
                   on_shift: Callable[[int], str] | None) -> dict[str, Any] | None:
    """A ticket whose facts agree with `facts` (others at their defaults), or None."""
    t: dict[str, Any] = {"id": "example"}
    customer: dict[str, Any] = {}
    service: dict[str, Any] = {}
    for name, v in facts.items():
        if is_other(v):
            v = "other"  # "another string": any value no row compares with
        if name in TOP:
            if v is None and name not in ("reported_severity",):
                return None
            t[name] = v
        elif name in CUSTOMER:
            customer[CUSTOMER[name]] = v
        elif name in SERVICE:
            service[SERVICE[name]] = v
        elif name == "partner_managed":
            if v and not facts.get("partner_id"):
                customer["partner_id"] = "P-1"
            elif not v and facts.get("partner_id"):
                return None
        elif name == "category_source":
            if v != "given":
                return None
        elif name == "confidence":
            if v is not None:  # only the model sets a confidence
                return None
        elif name.startswith("extra."):
            node = t
            parts = name.split(".")[1:]
            for p in parts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    return None
            node[parts[-1]] = v
        elif name not in TIME:
            return None  # a decision, the confidence: no ticket field
    created = _created_at(facts, on_shift)
    if created is None:
        return None
    t["created_at"] = created
    if "category" not in t:
        t["category"] = categories[0] if categories else "general_inquiry"
    if customer:
        t["customer"] = customer
    if service:
        t["service"] = service
    return t


def _created_at(facts: dict[str, Any], on_shift: Callable[[int], str] | None) -> str | None:
    day = facts.get("created_weekday", 0)
    hours = [facts["created_hour"]] if "created_hour" in facts else [9] + list(range(24))
    want = facts.get("shift_region")
    if not isinstance(day, int) or not 0 <= day <= 6:
        return None
    for h in hours:
        if not isinstance(h, int) or not 0 <= h <= 23:
            return None
        if want is None or (on_shift is not None and on_shift(h) == want):
            t = BASE_DAY + timedelta(days=day, hours=h)
            return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None
