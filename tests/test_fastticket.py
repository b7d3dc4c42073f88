"""The batch hot path's hand-written reader (`fastticket.read_fast`) against pydantic.

pydantic's `Ticket` is the definition: whenever `read_fast` accepts a ticket, pydantic
accepts it too and the id, time, category, text and facts are the same; whatever
pydantic refuses, `read_fast` refuses (and the router then reports pydantic's errors).
Tickets are generated near the edges of every rule: types, bounds, times, Unicode, extras.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from strategies import tickets
from triage import TicketError, parse_ticket
from triage.decision import Decision
from triage.errors import NoModelError
from triage.facts import make_facts, ticket_facts, ticket_values
from triage.fastticket import read_fast

WANTED = frozenset({"extra.crm.region", "extra.deep.a.b.c.d.e", "extra.score"})
MISSING = object()


def _times() -> st.SearchStrategy:
    day = st.dates(min_value=datetime(1969, 12, 30).date(), max_value=datetime(9000, 1, 2).date())
    clock = st.tuples(st.integers(0, 25), st.integers(0, 61), st.integers(0, 61))
    frac = st.sampled_from(["", ".5", ".123", ".123456", ".1234567", ".", ".12345678901"])
    zone = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:00", "-05:30", "+14:00", "+23:59", "+24:00",
                            "+05:60", "+0100", "+01", "", " UTC", "+01:00:30"])
    sep = st.sampled_from(["T", "T", "T", " ", "t", "_"])

    def text(d, c, f, z, s, with_seconds):
        seconds = f":{c[2]:02d}{f}" if with_seconds else f
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d}{s}{c[0]:02d}:{c[1]:02d}{seconds}{z}"

    strings = st.builds(text, day, clock, frac, zone, sep, st.booleans())
    odd = st.sampled_from(["2026-02-30T10:00:00Z", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z",
                           "2026-11-25", "yesterday", "", "1970-01-01T00:00:00+00:01",
                           "8999-12-31T23:59:59-01:00", "20261125T093000Z", "2026-W48-3T10:00:00Z",
                           "２０２６-11-25T09:30:00Z", "2026-11-25T09:30:00.000000Z"])
    aware = st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(9100, 1, 1),
                         timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7)),
                                                    timezone(timedelta(hours=5, minutes=45))]))
    naive = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
    return st.one_of(strings, odd, aware, naive, st.integers(0, 2_000_000_000), st.none())


TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["", " ", "\t\n", "\u00a0", "\x1c", "Straße",
                                                                    "\ud800", "ok\udfff", "x" * 513]))
ANY = st.one_of(st.none(), st.booleans(), st.integers(-2, 10**9 + 1), st.floats(allow_nan=True),
                st.text(max_size=6), st.lists(st.integers(), max_size=2))


def _count(lo: int, hi: int) -> st.SearchStrategy:
    return st.one_of(st.integers(lo, lo + 2), st.integers(hi - 1, hi + 1), st.sampled_from([lo - 1, True, False]),
                     ANY)


def _pick(values: list) -> st.SearchStrategy:
    """One of `values` (valid and invalid ones), absent, or anything."""
    return st.one_of(st.sampled_from(values + [MISSING]), ANY)


@st.composite
def _nested(draw, allowed: dict[str, st.SearchStrategy]) -> object:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.none(), ANY))
    out = {}
    for key, values in allowed.items():  # one key off, the others valid or absent
        v = draw(values)
        if v is not MISSING:
            out[key] = v
    changed = draw(st.sampled_from(sorted(out) or [None]))
    for key in list(out):
        if key != changed and draw(st.integers(0, 3)):
            del out[key]
    if draw(st.integers(0, 14)) == 0:
        out[draw(st.sampled_from(["unknown", "tier ", "Tier"]))] = "x"
    return out


FIELDS = {
    "id": st.one_of(st.text(min_size=0, max_size=4), st.sampled_from(["x" * 512, "x" * 513, "\ud83d", "ü"]), ANY),
    "subject": TEXT, "body": TEXT,
    "created_at": _times(),
    "channel": _pick(["email", "portal", "phone", "api", "partner", "monitoring", "Email", "fax"]),
    "customer": st.one_of(st.none(), _nested({
        "account_id": _pick(["A-1", None, "", "Ä-2", "\udc00"]),
        "tier": _pick(["standard", "premium", "enterprise", "gold", None]),
        "home_region": _pick(["APAC", "EMEA", "AMER", None, "EU", "apac"]),
        "partner_id": _pick([None, "", "P-7", " "])})),
    "service": st.one_of(st.none(), _nested({
        "product": _pick(["port", "vxc", "mcr", "mve", "ix", "none", None, "Port"]),
        "service_id": _pick(["s-1", None, ""]),
        "location": _pick(["AMS-NIK", None, "Zürich", "\udfff"]),
        "cloud_provider": _pick(["aws", "azure", "gcp", "oracle", "ibm", "other", "none", None, "AWS"]),
        "carrier": _pick(["zayo", "lumen", None, ""])})),
    "reported_severity": st.one_of(st.none(), _count(1, 4)),
    "affected_customers": _count(1, 10**9),
    "affected_services": _count(0, 10**9),
    "escalation_level": _count(0, 1000),
    "category": st.one_of(st.none(), st.sampled_from(["billing", "security", "not-a-category"]), ANY),
    "status": st.one_of(st.sampled_from(["new", "open", ""]), ANY),
}
EXTRA_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4),
              st.sampled_from(["\ud800", "ok"])),
    lambda inner: st.one_of(st.lists(inner, max_size=2),
                            st.dictionaries(st.sampled_from(["region", "a", "b", "c", "d", "e", "\udc00"]), inner,
                                            max_size=3)), max_leaves=8)


@st.composite
def near_tickets(draw) -> dict:
    """A valid ticket with up to three fields changed (to an edge value, anything, or
    nothing) and sometimes extra fields: mostly one step from valid, so that every rule
    of the reader is met alone."""
    t = draw(tickets(with_category=draw(st.booleans()), text=TEXT))
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            t.pop(name, None)
        else:
            t[name] = draw(FIELDS[name])
    t.update(draw(st.dictionaries(
        st.one_of(st.sampled_from(["crm", "previous", "score", "deep", "_x", "model_config", "\ud800k"]),
                  st.integers(0, 3)), EXTRA_VALUES, max_size=3)))
    return t


def _same(data: dict) -> bool:
    """Assert `read_fast` agrees with pydantic on `data`; True when `read_fast` accepted it."""
    fast = read_fast(data, WANTED)
    try:
        t = parse_ticket(data)
    except TicketError:
        assert fast is None, data
        return False
    if fast is None:
        return False
    assert (fast.id, fast.category, fast.text) == (t.id, t.category, t.text)
    assert fast.created_at == t.created_at and fast.created_at.tzinfo is t.created_at.tzinfo is timezone.utc
    assert [(type(v), v) for v in fast.values] == [(type(v), v) for v in ticket_values(t)]
    mine = make_facts(fast.values, fast.created_at, fast.extras)
    theirs = ticket_facts(t, WANTED)
    assert [(k, type(v), v) for k, v in mine.items()] == [(k, type(v), v) for k, v in theirs.items()]
    return True


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(near_tickets())
@example({"id": "T", "created_at": "2026-11-25T09:30:00Z", "subject": "  "})
@example({"id": "T", "created_at": "2026-02-29T09:30:00Z", "category": "billing"})
@example({"id": "T", "created_at": "1969-12-31T23:59:59-01:00", "category": "billing"})
@example({"id": "T", "created_at": "2026-11-25T09:30:00Z", "category": "billing", "affected_customers": True})
@example({"id": "T", "created_at": "2026-11-25T09:30:00Z", "category": "billing", "customer": {"partner_id": ""}})
def test_read_fast_never_disagrees_with_pydantic(data):
    _same(data)


BASE = {"id": "T-1", "subject": "Port down", "body": "since 09:00", "created_at": "2026-11-25T09:30:00Z",
        "channel": "email", "customer": {"account_id": "A-1", "tier": "premium", "home_region": "EMEA",
                                         "partner_id": "P-7"},
        "service": {"product": "port", "service_id": "s-1", "location": "AMS", "cloud_provider": "aws"},
        "reported_severity": 2, "affected_customers": 3, "affected_services": 1, "escalation_level": 0,
        "category": "billing", "status": "new"}
BAD = [1, 1.0, True, None, "", " ", [], {}, "\ud800", "x" * 513]
EDGES: dict[str, list] = {
    "id": ["x" * 512, "ü", *BAD], "subject": BAD, "body": BAD, "category": BAD, "status": BAD,
    "created_at": ["2026-11-25T09:30:00", "2026-11-25T09:30:00+24:00", "1969-12-31T23:59:59Z",
                   "1970-01-01T00:00:00Z", "8999-12-31T23:59:59Z", "9000-01-01T00:00:00Z",
                   "1970-01-01T00:30:00+01:00", "2026-02-29T00:00:00Z", "2028-02-29T00:00:00Z",
                   "2026-11-25T09:30:00.1234567Z", "2026-11-25 09:30:00Z", "2026-11-25T09:30Z",
                   "2026-11-25T09:30:00z", "2026-11-25T09:30:00+0100", "2026-11-25T24:00:00Z", 1764063000,
                   "2026-11-25 09:30:00+01:00", "2026-11-25T09:30+05:30", "2026-11-25T09:30:00-0830",
                   "2026-11-25T09:30:00+01", "2026-11-25T09:30.5Z", "2026-11-25T09:30:00+2400",
                   datetime(2026, 11, 25, 9, 30), datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc), *BAD],
    "channel": ["portal", "Email", "fax", *BAD],
    "customer": [{}, {"tier": "enterprise"}, {"unknown": 1}, *BAD],
    "customer.account_id": BAD, "customer.partner_id": BAD,
    "customer.tier": ["standard", "enterprise", "gold", "Premium", *BAD],
    "customer.home_region": ["APAC", "EU", "apac", *BAD],
    "service": [{}, {"product": None}, {"unknown": 1}, *BAD],
    "service.product": ["none", "ix", "Port", *BAD], "service.cloud_provider": ["none", "ibm", "AWS", *BAD],
    "service.service_id": BAD, "service.location": ["Zürich", *BAD], "service.carrier": ["Telia", "", *BAD],
    "reported_severity": [0, 1, 4, 5, 2.0, "2", *BAD],
    "affected_customers": [0, 1, 10**9, 10**9 + 1, -1, 2.0, "2", *BAD],
    "affected_services": [-1, 0, 10**9, 10**9 + 1, 2.0, *BAD],
    "escalation_level": [-1, 0, 1000, 1001, 2.0, *BAD],
    "previous": [{"priority": "P1"}, {"\ud800": 1}, {"a": "\udfff"}, *BAD],
    "crm": [{"region": "north"}, {"region": ["a"]}, *BAD],
}


def _with(base: dict, path: str, value) -> dict:
    t = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    *outer, name = path.split(".")
    target = t[outer[0]] if outer else t
    if value is MISSING:
        target.pop(name, None)
    else:
        target[name] = value
    return t


@pytest.mark.parametrize("path, value", [(p, v) for p, vs in EDGES.items() for v in (*vs, MISSING)])
@pytest.mark.parametrize("category", ["billing", MISSING])
def test_read_fast_agrees_on_each_edge_alone(path, value, category):
    """Each rule of the reader met alone, on a ticket otherwise valid (with and without category)."""
    _same(_with(_with(BASE, "category", category), path, value))


@given(tickets())
def test_read_fast_takes_the_common_case(ticket):
    """The fast path is taken for ordinary tickets (else the test above would prove nothing)."""
    assert _same(ticket)
    assert _same({**ticket, "previous": {"priority": "P2", "queue": "q"}, "crm": {"region": "north"}})


@pytest.mark.parametrize("ticket", [
    {"id": "T", "created_at": "2026-11-25T09:30:00.25+05:30", "category": "billing", "customer": None,
     "service": None},
    {"id": "T", "created_at": datetime(2026, 11, 25, 9, 30, tzinfo=timezone(timedelta(hours=-3))),
     "subject": "Straße gesperrt", "score": 2.5},
    {"id": "T", "created_at": "2026-11-25 09:30:00Z", "category": "billing"},
    {"id": "T", "created_at": "2026-11-25T09:30+05:30", "category": "billing"},
    {"id": "T", "created_at": "2026-11-25T09:30:00-0830", "category": "billing"},
])
def test_read_fast_takes_offsets_fractions_nulls_and_datetimes(ticket):
    assert _same(ticket)


@given(near_tickets())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_batch_path_decides_as_the_validated_path(triage_given, data):
    """`route_dicts` (fast reader) gives what `trace` (pydantic) gives, error or decision."""
    got = triage_given.route_dicts([data])[0]
    try:
        want = triage_given.trace(data).decision.to_dict()
    except TicketError as exc:
        assert isinstance(got, TicketError) and got.to_dict() == exc.to_dict()
        return
    except NoModelError:  # a valid ticket without category; the batch names the field
        assert isinstance(got, TicketError) and [p for p, _ in got.problems] == ["category"]
        return
    assert not isinstance(got, TicketError), got
    assert Decision.from_dict(got).to_dict() == want
