"""Hypothesis strategies for tickets: every field, shift boundaries, arbitrary text."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

CATEGORIES = ["service_down", "degraded_performance", "bgp_routing", "cloud_connectivity",
              "provisioning", "change_request", "maintenance", "hardware_fault", "network_change",
              "security", "billing", "account_access", "general_inquiry", "unknown"]

BASE = datetime(2026, 11, 23, tzinfo=timezone.utc)  # a Monday


@st.composite
def created_at(draw) -> str:
    """Times near shift boundaries and weekends as well as anywhere."""
    day = draw(st.integers(0, 13))
    if draw(st.booleans()):
        hour = draw(st.sampled_from([6, 7, 14, 15, 22, 23, 0]))
        minute = draw(st.sampled_from([0, 59, 1, 30]))
        second = draw(st.sampled_from([0, 59]))
    else:
        hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    t = BASE + timedelta(days=day, hours=hour, minutes=minute, seconds=second)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def tickets(draw, with_category: bool = True, text=st.text(max_size=80)) -> dict:
    t = {
        "id": "T-" + str(draw(st.integers(0, 10**9))),
        "subject": draw(text),
        "body": draw(text),
        "created_at": draw(created_at()),
        "channel": draw(st.sampled_from(["email", "portal", "phone", "api", "partner", "monitoring"])),
        "customer": {
            "account_id": draw(st.sampled_from(["A-1", "A-2", None])),
            "tier": draw(st.sampled_from(["standard", "premium", "enterprise"])),
            "home_region": draw(st.sampled_from(["APAC", "EMEA", "AMER", None])),
            "partner_id": draw(st.sampled_from([None, None, "P-CloudCo", "P-7"])),
        },
        "service": {
            "product": draw(st.sampled_from(["port", "vxc", "mcr", "mve", "ix", "none", None])),
            "cloud_provider": draw(st.sampled_from(["aws", "azure", "gcp", "oracle", "ibm", "other", "none", None])),
            "carrier": draw(st.sampled_from([None, "zayo", "lumen", "telia"])),
        },
        "reported_severity": draw(st.sampled_from([None, 1, 2, 3, 4])),
        "affected_customers": draw(st.integers(1, 12)),
        "affected_services": draw(st.integers(0, 5)),
        "escalation_level": draw(st.integers(0, 4)),
    }
    if with_category:
        t["category"] = draw(st.sampled_from(CATEGORIES))
    return t
