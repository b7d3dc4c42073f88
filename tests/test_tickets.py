"""The ticket contract: defaults, UTC, strict types, and errors naming every bad field."""
from __future__ import annotations

import pytest

from triage import TicketError, parse_ticket


def test_defaults_follow_the_format():
    t = parse_ticket({"id": "T", "subject": "x", "created_at": "2026-11-25T09:30:00+01:00"})
    assert t.channel == "email" and t.customer.tier == "standard"
    assert (t.affected_customers, t.affected_services, t.escalation_level) == (1, 1, 0)
    assert t.category is None and t.status == "new"
    assert t.service.product == "none" and t.service.cloud_provider == "none"
    assert t.created_at.isoformat() == "2026-11-25T08:30:00+00:00"


def test_null_product_and_provider_mean_none_and_extras_are_kept():
    t = parse_ticket({"id": "T", "body": "x", "created_at": "2026-11-25T08:30:00Z",
                      "service": {"product": None, "cloud_provider": None}, "crm": {"region": "north"}})
    assert t.service.product == "none" and t.service.cloud_provider == "none"
    assert t.extra == {"crm": {"region": "north"}}


@pytest.mark.parametrize("patch, field, words", [
    ({"created_at": "2026-11-25T08:30:00"}, "created_at", "timezone"),
    ({"affected_customers": "5"}, "affected_customers", "integer"),
    ({"affected_customers": 1.5}, "affected_customers", "integer"),
    ({"affected_customers": 0}, "affected_customers", "greater than or equal to 1"),
    ({"escalation_level": -1}, "escalation_level", "greater than or equal to 0"),
    ({"reported_severity": 7}, "reported_severity", "less than or equal to 4"),
    ({"customer": {"tier": "gold"}}, "customer.tier", "'standard', 'premium' or 'enterprise'"),
    ({"channel": "fax"}, "channel", "email"),
    ({"created_at": "9999-01-01T00:00:00Z"}, "created_at", "between"),
    ({"id": ""}, "id", "at least 1"),
])
def test_invalid_fields_are_named_with_the_reason(patch, field, words):
    with pytest.raises(TicketError) as err:
        parse_ticket({"id": "T", "subject": "x", "created_at": "2026-11-25T08:30:00Z", **patch})
    fields = dict(err.value.problems)
    assert field in fields, fields
    assert words in fields[field]


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(TicketError) as err:
        parse_ticket({"id": "T", "subject": "x", "created_at": "yesterday", "escalation_level": "high",
                      "customer": {"home_region": "EU"}})
    assert {p for p, _ in err.value.problems} == {"created_at", "escalation_level", "customer.home_region"}


def test_text_or_category_is_required():
    with pytest.raises(TicketError, match="subject or body"):
        parse_ticket({"id": "T", "created_at": "2026-11-25T08:30:00Z", "subject": "  "})
    assert parse_ticket({"id": "T", "created_at": "2026-11-25T08:30:00Z", "category": "billing"}).text == "\n"


def test_non_objects_are_refused():
    for bad in ([], "ticket", 3, None):
        with pytest.raises(TicketError, match="JSON object"):
            parse_ticket(bad)
