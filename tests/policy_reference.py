"""An independent, plain-Python implementation of shared/reference-policy.md.

Written from the policy's tables, not from the rule files, so that the differential
tests catch a rule file or schedule that drifts from the acceptance truth.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

SHIFTS = {"APAC": (23, 7), "EMEA": (7, 15), "AMER": (15, 23)}
ORDER = ["APAC", "EMEA", "AMER"]
# "Business calendars": the zone of each region's dates and its public holidays.
ZONES = {"APAC": ZoneInfo("Australia/Brisbane"), "EMEA": ZoneInfo("Europe/Berlin"),
         "AMER": ZoneInfo("America/New_York")}
HOLIDAYS = {"APAC": holidays.country_holidays("AU", subdiv="QLD"), "EMEA": holidays.country_holidays("DE"),
            "AMER": holidays.country_holidays("US")}
# "Response and resolution targets": minutes, and whether the clock is business hours.
TARGETS = {"P1": (15, 4 * 60, False), "P2": (60, 8 * 60, False), "P3": (4 * 60, 24 * 60, True),
           "P4": (8 * 60, 40 * 60, True)}


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


@lru_cache(maxsize=None)
def _open_date(region: str, shift_start: datetime) -> bool:
    """A shift belongs to the region's local date at its start: Mon-Fri and not a holiday."""
    local = shift_start.astimezone(ZONES[region]).date()
    return local.weekday() < 5 and local not in HOLIDAYS[region]


def in_business(t: datetime, region: str) -> bool:
    if on_shift(t) != region:
        return False
    start = t.replace(hour=SHIFTS[region][0], minute=0, second=0, microsecond=0)
    if start > t:
        start -= timedelta(days=1)
    return _open_date(region, start)


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


STOPPED = ("resolved", "closed")


def _status_at(history: list[tuple[datetime, str]], t: datetime) -> str:
    """The case has an entry's status from its `at` until the next entry; `new` before the first."""
    current = "new"
    for at, status in history:
        if at <= t:
            current = status
    return current


def _walk(created: datetime, end: datetime, target: timedelta, business: bool, region: str,
          runs) -> tuple[timedelta, datetime]:
    """(clock time in [created, end), first instant the clock has run `target`), walking minute
    boundaries and the instants where `runs` may change; after `end` the clock runs on."""
    marks = sorted(m for m in runs.marks if m > created)
    acc, cur, at_end, due = timedelta(0), created, None, None
    while at_end is None or due is None:
        nxt = cur.replace(second=0, microsecond=0) + timedelta(minutes=1)
        nxt = min([nxt, *(m for m in marks + [end] if m > cur)])
        counts = (not business or in_business(cur, region)) and (cur >= end or runs(cur))
        if at_end is None and cur >= end:
            at_end = acc
        if counts:
            if due is None and acc + (nxt - cur) >= target:
                due = cur + (target - acc)
            acc += nxt - cur
        cur = nxt
    return at_end, due


def sla(case: dict, now: datetime) -> dict:
    """The `sla` object of formats.md for a case at `now`, straight from "Clocks at `now`".

    `case`: created_at, priority, region (routed), first_response_at (or None) and
    status_history [(at, status)] (status from creation when no history: give it as one entry).
    """
    created, region = case["created_at"], case["region"]
    resp_min, res_min, business = TARGETS[case["priority"]]
    history = [(a, s) for a, s in case["status_history"] if a <= now]  # later entries have not happened
    first = case.get("first_response_at")
    responded = first is not None and first <= now

    def always(t):
        return True
    always.marks = []

    r_end = first if responded else now
    r_elapsed, r_due = _walk(created, r_end, timedelta(minutes=resp_min), business, region, always)
    r_used = r_elapsed * 100 // timedelta(minutes=resp_min)

    done = next((a for a, s in history if s in STOPPED), None)
    end = done if done is not None else now

    def running(t):
        return _status_at(history, t) != "pending_customer"
    running.marks = [a for a, _ in history]

    elapsed, due = _walk(created, end, timedelta(minutes=res_min), business, region, running)
    used = elapsed * 100 // timedelta(minutes=res_min)
    paused = _status_at(history, now) == "pending_customer"
    iso = lambda t: None if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + (  # noqa: E731
        f".{t.microsecond:06d}Z" if t.microsecond else "Z")
    return {
        "response": {"due": iso(r_due), "used_pct": r_used, "met": responded,
                     "breached": (r_end > r_due) if responded else r_used >= 100,
                     "at_risk": not responded and 75 <= r_used < 100},
        "resolution": {"due": None if paused else iso(due), "used_pct": used, "met": done is not None,
                       "breached": (done > due) if done is not None else used >= 100,
                       "at_risk": done is None and 75 <= used < 100, "paused": paused},
    }
