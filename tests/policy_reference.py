"""An independent, plain-Python implementation of shared/reference-policy.md.

Written from the policy's tables, not from the rule files, so that the differential
tests catch a rule file or schedule that drifts from the acceptance truth.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

SHIFTS = {"APAC": (23, 7), "EMEA": (7, 15), "AMER": (15, 23)}
ORDER = ["APAC", "EMEA", "AMER"]


def on_shift(t: datetime) -> str:
    h = t.hour
    if h >= 23 or h < 7:
        return "APAC"
    return "EMEA" if h < 15 else "AMER"


def shift_end(t: datetime) -> datetime:
    region = on_shift(t)
    end_h = SHIFTS[region][1]
    end = t.replace(hour=end_h, minute=0, second=0, microsecond=0)
    return end if end > t else end + timedelta(days=1)


def in_business(t: datetime, region: str) -> bool:
    if t.weekday() >= 5:
        return False
    return on_shift(t) == region


def add_business(t: datetime, hours: int, region: str) -> datetime:
    """Walk minute boundaries: simple and obviously right, if slow."""
    remaining = timedelta(hours=hours)
    cur = t
    while True:
        nxt = (cur.replace(second=0, microsecond=0) + timedelta(minutes=1))
        step = nxt - cur
        if in_business(cur, region):
            if remaining <= step:
                return cur + remaining
            remaining -= step
        cur = nxt


def decide(ticket: dict) -> dict:
    cat = ticket["category"]
    aff = ticket.get("affected_customers", 1)
    sev = ticket.get("reported_severity")
    cust = ticket.get("customer") or {}
    svc = ticket.get("service") or {}
    tier_c = cust.get("tier", "standard")
    esc = ticket.get("escalation_level", 0)
    created = datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00")).astimezone(timezone.utc)

    if aff >= 5:
        prio = "P1"
    elif cat == "service_down" and (aff >= 2 or tier_c == "enterprise"):
        prio = "P1"
    elif cat == "security" and sev == 1:
        prio = "P1"
    elif cat == "service_down":
        prio = "P2"
    elif cat in ("degraded_performance", "bgp_routing", "cloud_connectivity") and (
            (sev is not None and sev <= 2) or aff >= 2):
        prio = "P2"
    elif cat in ("hardware_fault", "security"):
        prio = "P2"
    elif cat in ("degraded_performance", "bgp_routing", "cloud_connectivity", "provisioning",
                 "change_request", "network_change"):
        prio = "P3"
    elif cat == "maintenance" and sev is not None and sev <= 2:
        prio = "P3"
    elif cat == "unknown":
        prio = "P3"
    else:
        prio = "P4"

    if esc >= 2:
        tier = "OpsEng"
    elif cat == "network_change":
        tier = "OpsEng"
    elif esc == 1:
        tier = "NSS"
    elif cat in ("service_down", "degraded_performance") and aff >= 2:
        tier = "NSS"
    elif cat in ("bgp_routing", "cloud_connectivity", "hardware_fault", "security"):
        tier = "NSS"
    else:
        tier = "CSS"

    shift = on_shift(created)
    if prio in ("P1", "P2"):
        region = shift
    elif cust.get("home_region"):
        region = cust["home_region"]
    else:
        region = shift

    partner = cust.get("partner_id")
    if partner and ticket.get("channel", "email") != "partner" and aff < 2:
        queue = f"partner:{partner}"
    else:
        queue = f"{tier}-{region}"

    provider = svc.get("cloud_provider") or "none"
    if tier == "NSS" and cat == "cloud_connectivity" and provider != "none":
        third = f"cloud:{provider}"
    elif tier == "NSS" and cat == "hardware_fault":
        third = "datacentre-operator"
    elif tier == "NSS" and cat in ("degraded_performance", "bgp_routing") and svc.get("carrier"):
        third = f"backbone:{svc['carrier']}"
    else:
        third = None

    handoff = None
    if prio in ("P1", "P2"):
        handoff = {"at": shift_end(created), "to": ORDER[(ORDER.index(shift) + 1) % 3]}
    if prio == "P1":
        due = created + timedelta(minutes=15)
    elif prio == "P2":
        due = created + timedelta(hours=1)
    else:
        due = add_business(created, 4 if prio == "P3" else 8, region)
    return {"priority": prio, "tier": tier, "region": region, "queue": queue, "third_party": third,
            "handoff": handoff, "response_due": due}
