"""The common ticket read straight into facts, for the batch hot path.

Validating a ticket with pydantic and then reading its facts costs more than deciding
it once the rules are cached by cell. A ticket as JSON sends it (exact types, an ISO
time with `Z` or `+HH:MM`, known enum values, text that is Unicode) is checked here by
hand and turned into its facts in one pass; anything else, valid or not, gives None and
takes the pydantic path, which stays the definition of a valid ticket and of its errors.
`tests/test_fastticket.py` holds the two equal under hypothesis: whenever `read_fast`
accepts, pydantic accepts too and `ticket_facts` gives the same facts, id, time and text.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, NamedTuple, get_args

from triage.facts import extra_facts
from triage.rules.domains import quantise
from triage.ticket import (
    MAX_CREATED,
    MIN_CREATED,
    SURROGATE,
    Channel,
    CloudProvider,
    Customer,
    CustomerTier,
    Product,
    Region,
    Service,
    Ticket,
    lone_surrogate,
)

# ISO times that Python's `fromisoformat` and pydantic read alike (the tests hold them to it).
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
                  r"(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)")
_TICKET_FIELDS = frozenset(Ticket.model_fields)
_CUSTOMER_FIELDS = frozenset(Customer.model_fields)
_SERVICE_FIELDS = frozenset(Service.model_fields)
_CHANNELS = frozenset(get_args(Channel))
_TIERS = frozenset(get_args(CustomerTier))
_REGIONS = frozenset(get_args(Region))
_PRODUCTS = frozenset(get_args(Product))
_CLOUDS = frozenset(get_args(CloudProvider))
_UTC = timezone.utc
_EMPTY: dict[str, Any] = {}


class FastTicket(NamedTuple):
    """What the hot path needs of a valid ticket: `facts` lacks only what deciding adds
    (category, its source and confidence, the shift on), which `facts_for` fills in."""

    id: str
    created_at: datetime
    category: str | None
    subject: str | None
    body: str | None
    facts: dict[str, Any]

    @property
    def text(self) -> str:
        return f"{self.subject or ''}\n{self.body or ''}"


def facts_for(t: FastTicket, category: str, confidence: float | None, source: str,
              shift_region: str) -> dict[str, Any]:
    """The ticket's facts as `facts.ticket_facts` gives them."""
    f = t.facts.copy()
    f["category"] = category
    f["category_source"] = source
    f["confidence"] = None if confidence is None else quantise(float(confidence))
    f["shift_region"] = shift_region
    return f


def read_fast(data: dict[Any, Any], wanted: frozenset[str] = frozenset()) -> FastTicket | None:
    """`data` read as a valid ticket with its facts, or None when pydantic must decide.

    `wanted`: the extra fields the rule set reads (see `facts.extra_facts`)."""
    get = data.get
    tid, subject, body, category, status = get("id"), get("subject"), get("body"), get("category"), \
        get("status", "new")
    if (type(tid) is not str or not 0 < len(tid) <= 512 or type(status) is not str
            or not (subject is None or type(subject) is str) or not (body is None or type(body) is str)
            or not (category is None or type(category) is str)):
        return None
    if category is None and not (subject and not subject.isspace()) and not (body and not body.isspace()):
        return None
    created = _utc(get("created_at"))
    channel = get("channel", "email")
    if created is None or type(channel) is not str or channel not in _CHANNELS:
        return None
    severity, customers, services, level = get("reported_severity"), get("affected_customers", 1), \
        get("affected_services", 1), get("escalation_level", 0)
    if (not (severity is None or (type(severity) is int and 1 <= severity <= 4))
            or type(customers) is not int or not 1 <= customers <= 10**9
            or type(services) is not int or not 0 <= services <= 10**9
            or type(level) is not int or not 0 <= level <= 1000):
        return None
    c = get("customer")
    c = _EMPTY if c is None else c
    if type(c) is not dict or not c.keys() <= _CUSTOMER_FIELDS:
        return None
    account, tier, home, partner = c.get("account_id"), c.get("tier", "standard"), c.get("home_region"), \
        c.get("partner_id")
    if (not (account is None or type(account) is str) or type(tier) is not str or tier not in _TIERS
            or not (home is None or (type(home) is str and home in _REGIONS))
            or not (partner is None or type(partner) is str)):
        return None
    s = get("service")
    s = _EMPTY if s is None else s
    if type(s) is not dict or not s.keys() <= _SERVICE_FIELDS:
        return None
    product, service_id, location, cloud = s.get("product"), s.get("service_id"), s.get("location"), \
        s.get("cloud_provider")
    product = "none" if product is None else product
    cloud = "none" if cloud is None else cloud
    if (type(product) is not str or product not in _PRODUCTS or type(cloud) is not str or cloud not in _CLOUDS
            or not (service_id is None or type(service_id) is str)
            or not (location is None or type(location) is str)):
        return None
    plain = (tid + (subject or "") + (body or "") + (category or "") + status + (account or "") + (partner or "")
             + (service_id or "") + (location or ""))
    if not plain.isascii() and SURROGATE.search(plain):
        return None
    partner = partner or None
    facts = {
        "category": None, "category_source": None, "confidence": None,
        "channel": channel, "customer_tier": tier, "account_id": account,
        "partner_managed": partner is not None, "partner_id": partner, "home_region": home,
        "reported_severity": severity, "affected_customers": customers, "affected_services": services,
        "product": product, "cloud_provider": cloud, "service_id": service_id, "location": location,
        "escalation_level": level, "status": status,
        "created_hour": created.hour, "created_weekday": created.weekday(), "shift_region": None,
    }
    if not data.keys() <= _TICKET_FIELDS:
        extra = {k: v for k, v in data.items() if k not in _TICKET_FIELDS}
        if any(type(k) is not str for k in extra) or lone_surrogate(extra) is not None:
            return None
        facts.update(extra_facts(extra, wanted))
    return FastTicket(tid, created, category, subject, body, facts)


def _utc(v: Any) -> datetime | None:
    """`created_at` in UTC when it is an ISO time pydantic reads the same way, else None."""
    if type(v) is str:
        if _ISO.fullmatch(v) is None:
            return None
        try:
            v = datetime.fromisoformat(v)
        except ValueError:  # e.g. 31 February: pydantic words the error
            return None
    elif type(v) is not datetime or v.utcoffset() is None:
        return None
    try:
        v = v.astimezone(_UTC)
    except OverflowError:
        return None
    return v if MIN_CREATED <= v < MAX_CREATED else None
