"""The shipped rules and schedule agree with an independent implementation of the policy."""
from __future__ import annotations

from datetime import datetime

from hypothesis import given

from policy_reference import decide
from strategies import tickets


def _parse(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def assert_matches_policy(decision, ticket):
    want = decide(ticket)
    got = decision.to_dict()
    for field in ("priority", "tier", "region", "queue", "third_party"):
        assert got[field] == want[field], (field, ticket, got)
    assert _parse(got["response_due"]) == want["response_due"], (ticket, got)
    if want["handoff"] is None:
        assert got["handoff"] is None
    else:
        assert _parse(got["handoff"]["at"]) == want["handoff"]["at"]
        assert got["handoff"]["to"] == want["handoff"]["to"]


@given(tickets())
def test_every_field_matches_the_reference_policy(triage_given, ticket):
    assert_matches_policy(triage_given.route(ticket), ticket)


def test_shift_boundaries_and_weekend_rollover(triage_given):
    cases = [
        ("2026-11-23T06:59:59Z", "security", 1, None),   # APAC, P1
        ("2026-11-23T07:00:00Z", "security", 1, None),   # EMEA starts (inclusive)
        ("2026-11-23T14:59:00Z", "service_down", None, None),
        ("2026-11-23T15:00:00Z", "service_down", None, None),
        ("2026-11-23T22:59:00Z", "hardware_fault", None, None),
        ("2026-11-23T23:00:00Z", "hardware_fault", None, None),  # APAC wraps midnight
        ("2026-11-27T14:30:00Z", "billing", None, "EMEA"),       # Friday P4 rolls to Monday
        ("2026-11-27T23:30:00Z", "provisioning", None, "APAC"),  # Friday late APAC
        ("2026-11-28T10:00:00Z", "change_request", None, "AMER"),  # Saturday
        ("2026-11-29T23:30:00Z", "general_inquiry", None, None),  # Sunday in APAC shift
    ]
    for created, cat, sev, home in cases:
        t = {"id": "x", "created_at": created, "category": cat, "reported_severity": sev,
             "customer": {"home_region": home}}
        assert_matches_policy(triage_given.route(t), t)


def test_documented_example(triage_given):
    t = {"id": "T-1001", "subject": "VXC to AWS down since 08:10", "created_at": "2026-11-25T08:30:00Z",
         "channel": "email", "category": "cloud_connectivity",
         "customer": {"account_id": "A-17", "tier": "enterprise", "home_region": "EMEA", "partner_id": None},
         "service": {"product": "vxc", "service_id": "vxc-7781", "location": "FRA-DC1", "cloud_provider": "aws"},
         "reported_severity": 2, "affected_customers": 1, "affected_services": 1, "escalation_level": 0}
    d = triage_given.route(t).to_dict()
    assert (d["priority"], d["tier"], d["region"], d["queue"], d["third_party"]) == \
        ("P2", "NSS", "EMEA", "NSS-EMEA", "cloud:aws")
    assert d["handoff"] == {"at": "2026-11-25T15:00:00Z", "to": "AMER"}
    assert d["response_due"] == "2026-11-25T09:30:00Z"
    assert d["rules"]["tier"] == ["tier/network-specialist"]
