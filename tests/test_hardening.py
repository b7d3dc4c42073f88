"""Hardening: hostile tickets, broken rule files, tampered models, threads, kills.

Whatever customers type, whatever an editor leaves in a rule file and wherever a model
file has been: no traceback, every record decided or reported with a reason, a rule
set loaded whole or not at all. (Model-file tampering in depth is in test_model.py;
here only the end-to-end check of a bit-flipped copy of the default model.)
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RULES
from test_cli_route import random_tickets

from triage.ticket import parse_ticket
from triage import Decision, RuleSetErrors, TicketError, Triage, TriageError
from triage.cli import cli
from triage.defaults import default_model_dir

GOOD = {"id": "H-1", "created_at": "2026-11-25T08:30:00Z", "subject": "port down in FRA"}
TICKET_FIELDS = ("id", "subject", "body", "created_at", "channel", "customer", "service", "reported_severity",
                 "affected_customers", "affected_services", "escalation_level", "category", "status")
ODD_STRINGS = ["", " ", "\x00", "a\x00b", "\u202eevil\u202c", "שלום עולם", "مرحبا", "😀🔥", "\ufeff", "\ue000",
               "\ud800", "x\udfff", "a\"b\\c", "line\nbreak\r\n", "\u2028", "Ünïcödé", "\U0010ffff", "x" * 2000]
MODEL = default_model_dir()


def triage_cmd(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", *args], input=stdin, capture_output=True,
                          timeout=300, env={**os.environ, **(env or {})})


def invoke(*args: str, stdin: bytes | None = None):
    """The command line in-process: any exception but SystemExit would be a traceback."""
    res = CliRunner().invoke(cli, list(args), input=stdin)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


@pytest.fixture(scope="module")
def triage_default():
    """The shipped rules and, when it has been built, the shipped model."""
    return Triage(rules=RULES, model=MODEL if MODEL is not None else False)


def assert_clear(err: TriageError) -> None:
    """A non-empty reason that names the field (or the ticket as a whole, saying which fields)."""
    assert str(err).strip()
    if isinstance(err, TicketError):
        assert err.problems and all(reason.strip() for _, reason in err.problems)
        whole = "must be a JSON object" in str(err)  # not a ticket at all: no field to name
        assert whole or any(path for path, _ in err.problems) or any(f in str(err) for f in TICKET_FIELDS), str(err)
    orjson.dumps(err.to_dict())  # reportable as JSON, whatever the input held


# --- tickets: hypothesis through Triage.route ----------------------------------------

odd_text = st.one_of(st.sampled_from(ODD_STRINGS),
                     st.text(st.characters(exclude_categories=()), max_size=30))  # surrogates too
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), odd_text)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(odd_text, c, max_size=3),
                           max_leaves=10)
VALID = {
    "id": st.sampled_from(["T-1", "x" * 512, "🎫"]),
    "subject": odd_text, "body": odd_text,
    "created_at": st.sampled_from(["2026-11-25T08:30:00Z", "2026-11-25T08:30:00+14:00", "2026-11-25T08:30:00",
                                   "8999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00", "1969-12-31T23:59:59Z",
                                   "0001-01-01T00:00:00+05:00", "2026-02-30T00:00:00Z", "yesterday"]),
    "channel": st.sampled_from(["email", "portal", "pigeon"]),
    "customer": st.fixed_dictionaries({}, optional={"tier": st.sampled_from(["premium", "gold"]),
                                                    "partner_id": odd_text, "account_id": odd_text,
                                                    "home_region": st.sampled_from(["EMEA", "MARS", None])}),
    "service": st.fixed_dictionaries({}, optional={"product": st.sampled_from(["vxc", None, "none", "teleport"]),
                                                   "location": odd_text, "cloud_provider": st.sampled_from(["aws", None])}),
    "reported_severity": st.sampled_from([1, 4, 0, 5, 2.0, "2", None]),
    "affected_customers": st.sampled_from([1, 7, 0, -3, 1.5, "5", 10**12]),
    "affected_services": st.sampled_from([0, 3, -1, 2.5]),
    "escalation_level": st.sampled_from([0, 2, 1001, "high"]),
    "category": st.sampled_from([None, "billing", "service_down", "teleport", ""]),
    "status": odd_text,
}


@st.composite
def hostile_tickets(draw) -> dict:
    t = {}
    for name, valid in VALID.items():
        how = draw(st.sampled_from(["valid", "valid", "valid", "absent", "any"]))
        if how == "valid":
            t[name] = draw(valid)
        elif how == "any":
            t[name] = draw(json_values)
    extras = draw(st.dictionaries(odd_text.filter(lambda k: k not in VALID), json_values, max_size=4))
    t.update(extras)
    return t


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_tickets())
def test_route_decides_or_raises_a_clear_ticket_error(triage_default, ticket):
    try:
        d = triage_default.route(ticket)
    except TriageError as exc:
        assert_clear(exc)
        [same] = triage_default.route_many([ticket], errors="yield")
        assert isinstance(same, TriageError)
    else:
        assert isinstance(d, Decision)
        assert orjson.loads(d.to_json())["ticket_id"] == d.ticket_id == ticket["id"]
        assert list(triage_default.route_many([ticket], errors="yield")) == [d]


# --- tickets: the explicit cases, in-process ------------------------------------------

def _nested(depth: int) -> dict:
    d: dict = {"leaf": 1}
    for _ in range(depth):
        d = {"a": d}
    return d


EXPLICIT = {
    "not an object": ([1, 2], ""),
    "missing id": ({"created_at": GOOD["created_at"], "subject": "x"}, "id"),
    "missing created_at": ({"id": "x", "subject": "x"}, "created_at"),
    "id a number": ({**GOOD, "id": 5}, "id"),
    "id empty": ({**GOOD, "id": ""}, "id"),
    "naive datetime": ({**GOOD, "created_at": "2026-11-25T08:30:00"}, "created_at"),
    "date only": ({**GOOD, "created_at": "2026-11-25"}, "created_at"),
    "year 9999": ({**GOOD, "created_at": "9999-12-31T23:59:59Z"}, "created_at"),
    "year 9999 west of UTC": ({**GOOD, "created_at": "9999-12-31T23:59:59-05:00"}, "created_at"),
    "year 1 east of UTC": ({**GOOD, "created_at": "0001-01-01T00:00:00+05:00"}, "created_at"),
    "negative count": ({**GOOD, "affected_customers": -2}, "affected_customers"),
    "fractional count": ({**GOOD, "affected_services": 1.5}, "affected_services"),
    "string count": ({**GOOD, "escalation_level": "2"}, "escalation_level"),
    "huge count": ({**GOOD, "affected_customers": 10**30}, "affected_customers"),
    "customer a list": ({**GOOD, "customer": ["enterprise"]}, "customer"),
    "unknown channel": ({**GOOD, "channel": "pigeon"}, "channel"),
    "empty text, no category": ({**GOOD, "subject": " ", "body": ""}, "subject"),
    "unknown category": ({**GOOD, "category": "teleport"}, "category"),
    "lone surrogate in body": ({**GOOD, "body": "broken \ud83d text"}, "body"),
    "lone surrogate in an extra": ({**GOOD, "x": {"y": ["\udc00"]}}, "x.y.0"),
    "lone surrogate in a field name": ({**GOOD, "k\ud800": 1}, "k\\ud800"),
}


@pytest.mark.parametrize("name", list(EXPLICIT))
def test_invalid_tickets_name_the_field(triage_default, name):
    ticket, field = EXPLICIT[name]
    with pytest.raises(TriageError) as exc:
        triage_default.route(ticket)
    assert_clear(exc.value)
    assert field in str(exc.value)


DECIDED = {
    "NUL bytes": {**GOOD, "subject": "port\x00down", "status": "a\x00b", "note": "\x00"},
    "right-to-left": {**GOOD, "subject": "\u202eנפל הקו", "body": "الخدمة متوقفة", "service": {"location": "\u202eFRA"}},
    "emoji": {**GOOD, "subject": "🔥🔥 port down 🔥", "id": "🎫-1"},
    "year 8999": {**GOOD, "created_at": "8999-12-31T23:59:59Z"},
    "deeply nested extra": {**GOOD, "deep": _nested(10_000)},
    "1,000 extra fields": {**GOOD, **{f"k{i}": i for i in range(1000)}},
    "odd extras": {**GOOD, "nan": float("nan"), "inf": float("-inf"), "big": 10**400, "list": [1, [2, [3]]]},
    "category given, no text": {"id": "c", "created_at": GOOD["created_at"], "category": "billing"},
}


@pytest.mark.parametrize("name", list(DECIDED))
def test_odd_but_valid_tickets_are_decided(triage_default, name):
    if "category" not in DECIDED[name] and triage_default.model is None:
        pytest.skip("no default model built")
    d = triage_default.route(DECIDED[name])
    assert orjson.loads(d.to_json())["ticket_id"] == DECIDED[name]["id"]


def test_a_nul_in_one_text_does_not_shift_the_others_in_its_batch(triage_default):
    """The model's featurizer joins a batch's texts with NUL: a NUL inside a text counts as a space."""
    if triage_default.model is None:
        pytest.skip("no default model built")
    texts = ["port\x00down since 08:10", "\x00\x00", "BGP session flapping", "invoice is wrong", "a\x00"]
    tickets = [{**GOOD, "id": str(i), "subject": s} for i, s in enumerate(texts)]
    alone = [triage_default.route(t) for t in tickets]
    assert list(triage_default.route_many(tickets)) == alone
    assert alone[0].category == triage_default.route({**GOOD, "subject": "port down since 08:10"}).category


def test_a_5_mb_body_is_decided_in_bounded_time_and_memory(triage_default):
    from triage.model import MAX_TEXT_CHARS

    if triage_default.model is None:
        pytest.skip("no default model built")
    body = "the port is down " * (5_000_000 // 17)
    small = triage_default.route({**GOOD, "body": body[:MAX_TEXT_CHARS]})
    tracemalloc.start()
    t0 = time.perf_counter()
    d = triage_default.route({**GOOD, "body": body})
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (d.category, d.confidence) == (small.category, small.confidence)  # the model reads the prefix
    assert seconds < 2 and peak < 60 * 2**20, (seconds, peak)


# --- extras and odd strings the rules read ---------------------------------------------

def rules_with(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "rules"
    if not d.exists():
        shutil.copytree(RULES, d)
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_every_extra_a_rule_reads_is_kept_past_the_bounds(tmp_path):
    """1,000 extra fields and one 6 levels deep: the ones a rule names are kept."""
    d = rules_with(tmp_path, {"flags.yaml": """
decision: flags
hit_policy: collect
rules:
  - {id: k999, when: {extra.k999: 999}, then: k999}
  - {id: deep, when: {extra.deep.a.b.c.d.e: true}, then: deep}
"""})
    t = Triage(rules=d, model=False)
    ticket = {**GOOD, "category": "billing", **{f"k{i}": i for i in range(1000)},
              "deep": {"a": {"b": {"c": {"d": {"e": True, "z": 1}}}}}}
    assert t.route(ticket).outputs["flags"] == ["k999", "deep"]
    routed = t.trace(ticket)
    assert routed.decision.outputs["flags"] == ["k999", "deep"]
    facts = t.facts_of(parse_ticket(ticket), "billing")
    assert t.ruleset.evaluate(facts, "python")["flags"].value == ["k999", "deep"]
    others = [k for k in routed.facts if k.startswith("extra.") and k not in ("extra.k999", "extra.deep.a.b.c.d.e")]
    assert "extra.deep.a.b.c.d.z" not in routed.facts  # beside a named field, the bounds still hold
    assert len(others) == 64  # the rest: at most 64, in key order (README, "Facts rules can read")
    assert others == sorted(others)


ODD_RULES = """
decision: odd
hit_policy: collect
rules:
  - {id: nul, when: {extra.note: "a\\0b"}, then: nul}
  - {id: not-nul, when: {extra.note: {"!=": "a\\0b"}}, then: not-nul}
  - {id: quote, when: {extra.note: "a\\"b"}, then: quote}
  - {id: pua, when: {extra.note: "\\ue000"}, then: pua}
  - {id: emoji, when: {location: "😀"}, then: emoji}
  - {id: rtl, when: {location: "\\u202eabc"}, then: rtl}
  - {id: long, when: {location: "%s"}, then: long}
  - {id: dot, unanalysable: true, when: {location: {matches: "a.b"}}, then: dot}
  - {id: two, unanalysable: true, when: {extra.note: {matches: "a..b"}}, then: two}
  - {id: class, unanalysable: true, when: {location: {matches: "[^x]+"}}, then: class}
""" % ("y" * 1500)
ODD_ALPHABET = ["a", "b", "x", "\x00", '"', "\\", "\n", "\t", "😀", "\u202e", "\ue000", "é", "\ud800"]
odd_values = st.one_of(st.sampled_from(["a\x00b", 'a"b', "\ue000", "😀", "\u202eabc", "y" * 1500, "a\nb", "a\x00\x00b"]),
                       st.lists(st.sampled_from(ODD_ALPHABET), max_size=6).map("".join))


@pytest.fixture(scope="module")
def odd_ruleset(tmp_path_factory):
    d = rules_with(tmp_path_factory.mktemp("odd"), {"odd.yaml": ODD_RULES})
    return Triage(rules=d, model=False)


@given(odd_values, odd_values)
def test_odd_strings_evaluate_alike_on_durable_rules_and_the_interpreter(odd_ruleset, note, location):
    """NUL, quotes, control characters, astral characters and lone surrogates, long strings:
    equality, inequality and `matches` agree (durable_rules' `$mt` would see JSON escapes)."""
    rs = odd_ruleset.ruleset
    facts = {"extra.note": note, "location": location}
    rs.use_cache = False
    try:
        durable = rs.evaluate(dict(facts), "durable")["odd"].value
    finally:
        rs.use_cache = True
    assert durable == rs.evaluate(dict(facts), "python")["odd"].value


@given(odd_values, odd_values)
def test_odd_strings_in_tickets_route_alike_on_both_evaluators(odd_ruleset, note, location):
    ticket = {**GOOD, "category": "billing", "note": note, "service": {"location": location}}
    try:
        cached = odd_ruleset.route(ticket).outputs["odd"]
    except TicketError as exc:  # only a lone surrogate is refused, naming its field
        assert "\ud800" in note + location and "lone surrogate" in str(exc)
        return
    facts = odd_ruleset.facts_of(parse_ticket(ticket), "billing")
    assert cached == odd_ruleset.ruleset.evaluate(dict(facts), "python")["odd"].value
    assert cached == odd_ruleset.ruleset.evaluate(dict(facts), "durable")["odd"].value


# --- tickets: random and hostile bytes through the command line --------------------

def hostile_lines(n: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    good = [json.dumps(t).encode() for t in random_tickets(n, seed=seed)]
    for t in random_tickets(n // 4, seed=seed + 1):  # some without a category: the model decides
        del t["category"]
        good.append(json.dumps(t).encode())
    lines = []
    for _ in range(n):
        kind = rnd.random()
        if kind < 0.3:
            line = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 120)))
        elif kind < 0.6:
            b = bytearray(rnd.choice(good))
            for _ in range(rnd.randrange(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            line = bytes(b)
        elif kind < 0.75:
            b = rnd.choice(good)
            line = b[:rnd.randrange(len(b))]
        else:
            line = rnd.choice(good)
        lines.append(line.replace(b"\n", b" "))
    hostile = [b"{not json", b"[1, 2, 3]", b'"a string"', b"null", b"42", b"", b"   ", b"\xff\xfe\x00invalid utf-8",
               b"\xef\xbb\xbf" + good[0], b'{"id": "nul\\u0000", "created_at": "2026-11-25T08:00:00Z", "category": "billing"}',
               b'{"id": "raw\x00nul"}', b'{"id": "s", "created_at": "2026-11-25T08:00:00Z", "subject": "\\ud800"}',
               b'{"id": "deep", "created_at": "2026-11-25T08:00:00Z", "category": "billing", "x": ' + b"[" * 10_000
               + b"]" * 10_000 + b"}",
               b'{"id": "deep2", "created_at": "2026-11-25T08:00:00Z", "category": "billing", "x": ' + b'{"a":' * 10_000
               + b"1" + b"}" * 10_000 + b"}",
               b'{"id": 5, "created_at": "2026-11-25T08:00:00Z", "category": "billing"}',
               b'{"id": "y9999", "created_at": "9999-12-31T23:59:59-05:00", "category": "billing"}',
               b'{"id": "big", "created_at": "2026-11-25T08:00:00Z", "category": "billing", "n": 1' + b"0" * 400 + b"}",
               json.dumps({"id": "k", "created_at": "2026-11-25T08:00:00Z", "category": "billing",
                           **{f"k{i}": i for i in range(1000)}}).encode(),
               json.dumps({"id": "5mb", "created_at": "2026-11-25T08:00:00Z", "subject": "port down",
                           "body": "x" * 5_000_000, "service": {"location": "L" * 17_000_000}}).encode(),
               "{\"id\": \"rtl\", \"created_at\": \"2026-11-25T08:00:00Z\", \"subject\": \"\u202eנפל 😀\"}".encode()]
    for line in hostile:
        lines.insert(rnd.randrange(len(lines) + 1), line)
    return lines


def test_random_bytes_through_route_and_retriage(tmp_path):
    lines = hostile_lines(300, seed=5)
    data = b"\n".join(lines) + b"\n"
    proc = triage_cmd("route", "--rules", str(RULES), stdin=data)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    decided = proc.stdout.splitlines()
    errors = [json.loads(x) for x in proc.stderr.splitlines()]
    assert len(decided) + len(errors) == len(lines)
    assert len({e["line"] for e in errors}) == len(errors) and all(e["reason"] for e in errors)

    inp = tmp_path / "in.jsonl"
    inp.write_bytes(data)
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    proc = triage_cmd("retriage", str(inp), "--out", str(out), "--errors", str(err), "--rules", str(RULES), "-q")
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert out.read_bytes().splitlines() == decided  # the same decisions, in the same order
    assert sorted(json.loads(x)["line"] for x in err.read_bytes().splitlines()) == sorted(e["line"] for e in errors)


# --- rule files ---------------------------------------------------------------------

def _alias_bomb() -> str:
    text = "decision: tier\ndefs:\n  a: &a {escalation_level: 1}\n"
    prev = "a"
    for name in "bcdefghijk":
        text += f"  {name}: &{name} {{any: [{', '.join([f'*{prev}'] * 9)}]}}\n"
        prev = name
    return text + f"rules:\n  - {{id: bomb, when: *{prev}, then: CSS}}\ndefault: CSS\n"


BAD_RULES = {  # file -> content (None: a folder of that name), and words the error must carry
    "malformed YAML": ({"tier.yaml": "decision: tier\nrules: [\n"}, ["tier.yaml", "invalid YAML"]),
    "empty file": ({"tier.yaml": ""}, ["tier.yaml", "empty file"]),
    "wrong types": ({"tier.yaml": "decision: 5\nrules: 7\n"}, ["tier.yaml:1"]),
    "unknown operator": ({"tier.yaml": "decision: tier\nrules:\n  - {id: a, when: {escalation_level: {'~': 2}}, "
                                       "then: CSS}\ndefault: CSS\n"}, ["tier.yaml:3 [a]", "unknown operator"]),
    "unknown field": ({"tier.yaml": "decision: tier\nrules:\n  - {id: a, when: {categry: billing}, then: CSS}\n"
                                    "default: CSS\n"}, ["tier.yaml:3 [a]", "did you mean 'category'"]),
    "cycle": ({"tier.yaml": "decision: tier\nrules:\n  - {id: a, when: {queue: x}, then: CSS}\ndefault: CSS\n"},
              ["decision cycle"]),
    "duplicate ids": ({"tier.yaml": "decision: tier\nrules:\n  - {id: a, then: CSS}\n  - {id: a, then: NSS}\n"},
                      ["tier.yaml:4 [a]", "duplicate rule id"]),
    "10 MB": ({"tier.yaml": "# " + "x" * (10 * 2**20) + "\n"}, ["tier.yaml", "limited to"]),
    "5,000 rules": ({"tier.yaml": "decision: tier\nrules:\n" + "".join(
        f"  - {{id: r{i}, when: {{escalation_level: {i % 900}}}, then: CSS}}\n" for i in range(5000))
        + "default: CSS\n"}, ["tier.yaml", "at most 4096"]),
    "alias bomb": ({"tier.yaml": _alias_bomb()}, ["tier.yaml", "alias"]),
    "binary garbage": ({"tier.yaml": random.Random(3).randbytes(4000)},
                       ["tier.yaml", "UTF-8"]),
    "NUL byte": ({"tier.yaml": "decision: tier\x00\n"}, ["tier.yaml", "invalid YAML"]),
    "python tag": ({"tier.yaml": "!!python/object/apply:os.system ['echo pwned']\n"}, ["tier.yaml", "constructor"]),
    "nested too deeply": ({"tier.yaml": "decision: tier\nrules: " + "[" * 5000 + "]" * 5000 + "\n"},
                          ["tier.yaml", "invalid YAML"]),
    "a folder named like a rule file": ({"tier.yaml": None}, ["tier.yaml", "not a regular file"]),
    "facts.yaml a folder": ({"facts.yaml": None}, ["facts.yaml", "not a regular file"]),
    "non-finite literal": ({"tier.yaml": "decision: tier\nrules:\n  - {id: a, when: {extra.x: .nan}, then: CSS}\n"
                                         "default: CSS\n"}, ["tier.yaml:3 [a]", "finite"]),
    "two bad files": ({"tier.yaml": "", "region.yaml": "decision: [\n"}, ["tier.yaml", "region.yaml"]),
}
ENGINE_LIMITS = {  # valid rule files that durable_rules cannot take: Triage refuses them
    "513 conditions after one another": ({"codes.yaml": "decision: codes\nrules:\n" + "".join(
        f"  - {{id: c{i}, when: {{extra.code: C{i}}}, then: x}}\n" for i in range(513)) + "default: y\n"},
        ["codes.yaml:515 [c512]", "512"]),
}


def write_rules(tmp_path: Path, files: dict) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(RULES, d)
    for name, content in files.items():
        p = d / name
        if p.exists():
            p.unlink()
        if content is None:
            p.mkdir()
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return d


@pytest.mark.parametrize("name", list(BAD_RULES) + list(ENGINE_LIMITS))
def test_bad_rule_files_are_refused_whole_by_every_loader(tmp_path, monkeypatch, name):
    files, words = {**BAD_RULES, **ENGINE_LIMITS}[name]
    d = write_rules(tmp_path, files)
    monkeypatch.setenv("TRIAGE_MODEL", "")  # no model: only the rules are on trial
    t0 = time.perf_counter()
    with pytest.raises(RuleSetErrors) as exc:
        Triage(rules=d, model=False)
    assert time.perf_counter() - t0 < 5
    for w in words:
        assert w in str(exc.value), str(exc.value)

    tickets = tmp_path / "t.jsonl"
    tickets.write_text(json.dumps({**GOOD, "category": "billing"}) + "\n")
    route = invoke("route", str(tickets), "--rules", str(d))
    assert route.exit_code == 2 and route.stdout == "" and all(w in route.stderr for w in words), route.stderr
    out = tmp_path / "out.jsonl"
    retriage = invoke("retriage", str(tickets), "--out", str(out), "--errors", str(tmp_path / "e.jsonl"),
                      "--rules", str(d), "-q")
    assert retriage.exit_code == 2 and all(w in retriage.stderr for w in words), retriage.stderr
    assert not out.exists()  # nothing decided by half a rule set
    check = invoke("check", str(d), "--no-model", "--json")
    assert check.exit_code != 0
    assert all(w.split(":")[0] in check.stdout + check.stderr for w in words[:1])


def test_an_unreadable_rule_file_is_named(tmp_path, monkeypatch):
    d = write_rules(tmp_path, {})
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user
        real = Path.read_bytes

        def read_bytes(p: Path) -> bytes:
            if p.name == "tier.yaml":
                raise PermissionError(13, "Permission denied")
            return real(p)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    else:
        (d / "tier.yaml").chmod(0)
    with pytest.raises(RuleSetErrors, match=r"tier\.yaml: cannot read: Permission denied"):
        Triage(rules=d, model=False)
    res = invoke("route", "--rules", str(d), stdin=b"")
    assert res.exit_code == 2 and "tier.yaml: cannot read: Permission denied" in res.stderr


def test_rule_literals_beyond_the_basic_plane_load_and_match(tmp_path):
    """An emoji literal once made durable_rules refuse the whole ruleset at the first ticket."""
    d = write_rules(tmp_path, {"mood.yaml": "decision: mood\nrules:\n  - {id: fire, when: {extra.mood: '🔥'}, "
                                            "then: hot}\ndefault: calm\n"})
    t = Triage(rules=d, model=False)
    assert t.route({**GOOD, "category": "billing", "mood": "🔥"}).outputs["mood"] == "hot"
    assert t.route({**GOOD, "category": "billing", "mood": "🌊"}).outputs["mood"] == "calm"


# --- threads ---------------------------------------------------------------------------

def test_threads_with_the_cell_cache_and_route_many_give_the_serial_results():
    tickets = random_tickets(3000, seed=21)
    serial = list(Triage(rules=RULES, model=False).route_many(tickets))
    shared = Triage(rules=RULES, model=False)  # cache on: cells filled concurrently
    chunks = [tickets[i::8] for i in range(8)]
    barrier = threading.Barrier(8)

    def work(part: list[dict]) -> list[Decision]:
        barrier.wait()
        return list(shared.route_many(part, chunk_size=37))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, chunks))
    merged = [None] * len(tickets)
    for i, part in enumerate(results):
        merged[i::8] = part
    assert merged == serial


# --- kill safety -------------------------------------------------------------------------

def make_backlog(path: Path, n: int, seed: int) -> int:
    lines = [json.dumps(t).encode() for t in random_tickets(n, seed=seed)]
    rnd = random.Random(seed)
    for _ in range(n // 50):
        lines.insert(rnd.randrange(len(lines)), rnd.choice([b"{not json", b"[]", b"", b"\xff"]))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


NO_MODEL = {**os.environ, "TRIAGE_MODEL": ""}  # every backlog ticket carries its category


def retriage_args(inp: Path, out: Path, err: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "triage", "retriage", str(inp), "--out", str(out), "--errors", str(err),
            "--rules", str(RULES), "-q", *extra]


def test_jobs_2_killed_twice_then_resumed_equals_one_clean_run(tmp_path):
    inp = tmp_path / "in.jsonl"
    n = make_backlog(inp, 40_000, seed=8)
    ref_out, ref_err = tmp_path / "ref.jsonl", tmp_path / "ref.err.jsonl"
    subprocess.run(retriage_args(inp, ref_out, ref_err, "--chunk-size", "800"), env=NO_MODEL, timeout=300)
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    ckpt = Path(str(out) + ".checkpoint")
    kills = 0
    for attempt in range(2):
        extra = ["--jobs", "2", "--chunk-size", "800"] + (["--resume"] if attempt else [])
        proc = subprocess.Popen(retriage_args(inp, out, err, *extra), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, env=NO_MODEL)
        before = ckpt.stat().st_mtime_ns if ckpt.exists() else 0
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:  # wait for a (new) checkpoint
            if ckpt.exists() and ckpt.stat().st_mtime_ns != before:
                break
            time.sleep(0.01)
        time.sleep(random.random() * 0.3)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the job and its worker processes
            kills += 1
        proc.wait()
    resumed = subprocess.run(retriage_args(inp, out, err, "--jobs", "2", "--chunk-size", "800", "--resume"),
                             capture_output=True, timeout=300, env=NO_MODEL)
    assert resumed.returncode == 1 and b"Traceback" not in resumed.stderr, resumed.stderr
    assert kills >= 1
    assert out.read_bytes() == ref_out.read_bytes() and err.read_bytes() == ref_err.read_bytes()
    assert len(out.read_bytes().splitlines()) + len(err.read_bytes().splitlines()) == n
    assert not ckpt.exists()


class Killed(BaseException):
    """Stands for kill -9 at one point of a run (in-process, so the point is exact)."""


def run_job(inp: Path, out: Path, err: Path, resume: bool = False, log=None):
    from triage.batch.runner import Job, retriage

    job = Job(inp, out, err, str(RULES), False, chunk_size=150, resume=resume)
    return retriage(job, log=log or (lambda m: None))


def read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("point", ["before the merged file replaces OUT", "while the parts are removed",
                                   "before the checkpoint is removed"])
def test_a_kill_during_the_final_parquet_merge_is_resumed(tmp_path, monkeypatch, point):
    import triage.batch.checkpoint as checkpoint
    import triage.batch.writers as writers

    inp = tmp_path / "in.jsonl"
    n = make_backlog(inp, 1500, seed=9)
    run_job(inp, tmp_path / "ref.parquet", tmp_path / "ref.err.jsonl")
    reference = read_parquet(tmp_path / "ref.parquet")
    out, err = tmp_path / "out.parquet", tmp_path / "err.jsonl"
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == out:
            raise Killed()
        return real_replace(src, dst)

    def rmtree(path, *a, **kw):
        parts = sorted(Path(path).glob("part-*.parquet"))
        for p in parts[: len(parts) // 2]:
            p.unlink()
        raise Killed()

    def remove(path):
        raise Killed()

    patch = {"before the merged file replaces OUT": (writers.os, "replace", replace),
             "while the parts are removed": (writers.shutil, "rmtree", rmtree),
             "before the checkpoint is removed": (checkpoint, "remove", remove)}[point]
    with monkeypatch.context() as m:
        m.setattr(*patch)
        with pytest.raises(Killed):
            run_job(inp, out, err)
    assert Path(str(out) + ".checkpoint").exists()
    summary = run_job(inp, out, err, resume=True)
    assert read_parquet(out) == reference and err.read_bytes() == (tmp_path / "ref.err.jsonl").read_bytes()
    assert summary.records == n and summary.decided == len(reference)
    assert not Path(str(out) + ".checkpoint").exists() and not Path(str(out) + ".parts").exists()


DAMAGE = {
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "garbage": lambda b: random.Random(1).randbytes(200),
    "not an object": lambda b: b"[1, 2]",
    "wrong types": lambda b: orjson.dumps({**orjson.loads(b), "position": {"records": "many", "offset": -1}}),
    "summary missing": lambda b: orjson.dumps({k: v for k, v in orjson.loads(b).items() if k != "summary"}),
    "beyond the output": lambda b: orjson.dumps({**orjson.loads(b), "out": {"bytes": 10**12}}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_starts_over_cleanly(tmp_path, monkeypatch, damage):
    import triage.batch.checkpoint as checkpoint

    inp = tmp_path / "in.jsonl"
    n = make_backlog(inp, 1500, seed=10)
    run_job(inp, tmp_path / "ref.jsonl", tmp_path / "ref.err.jsonl")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    real_save, saves = checkpoint.save, []

    def save(path, data):
        real_save(path, data)
        saves.append(1)
        if len(saves) == 3:
            raise Killed()

    with monkeypatch.context() as m:
        m.setattr(checkpoint, "save", save)
        with pytest.raises(Killed):
            run_job(inp, out, err)
    ckpt = Path(str(out) + ".checkpoint")
    ckpt.write_bytes(DAMAGE[damage](ckpt.read_bytes()))
    said: list[str] = []
    summary = run_job(inp, out, err, resume=True, log=said.append)
    assert any("starting from the beginning" in s for s in said), said
    assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes()
    assert err.read_bytes() == (tmp_path / "ref.err.jsonl").read_bytes()
    assert summary.records == n and not ckpt.exists()


def test_retriage_refuses_to_write_over_its_input(tmp_path):
    inp = tmp_path / "in.jsonl"
    make_backlog(inp, 50, seed=4)
    before = inp.read_bytes()
    for out, err in ((inp, tmp_path / "e.jsonl"), (tmp_path / "o.jsonl", inp)):
        res = invoke("retriage", str(inp), "--out", str(out), "--errors", str(err), "--rules", str(RULES), "-q")
        assert res.exit_code == 2 and "is the input file" in res.stderr
    assert inp.read_bytes() == before
    blocked = invoke("retriage", str(inp), "--out", str(inp) + "/x.jsonl", "--errors", str(tmp_path / "e.jsonl"),
                     "--rules", str(RULES), "-q")
    assert blocked.exit_code == 2 and "cannot write" in blocked.stderr


# --- info and a bit-flipped model ----------------------------------------------------------

def test_info_json_reports_the_rules_and_model_in_use(tmp_path):
    if MODEL is None:
        pytest.skip("no default model built (models/default): `make model`")
    info = json.loads(triage_cmd("info", "--json").stdout)
    assert info["model"] == str(MODEL.resolve()) and info["model_version"].startswith("sha256:")
    copy = tmp_path / "model"
    shutil.copytree(info["model"], copy)
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    chosen = json.loads(triage_cmd("info", "--json", "--rules", str(rules), "--model", str(copy)).stdout)
    assert (chosen["rules"], chosen["model"]) == (str(rules.resolve()), str(copy.resolve()))
    assert (chosen["ruleset_version"], chosen["model_version"]) == (info["ruleset_version"], info["model_version"])


def test_a_bit_flipped_copy_of_the_default_model_is_refused_by_route(tmp_path):
    if MODEL is None:
        pytest.skip("no default model built (models/default): `make model`")
    info = json.loads(triage_cmd("info", "--json").stdout)
    copy = tmp_path / "model"
    shutil.copytree(info["model"], copy)
    target = next(p for p in copy.iterdir() if p.suffix == ".joblib")
    data = bytearray(target.read_bytes())
    data[random.Random(7).randrange(len(data))] ^= 0x04
    target.write_bytes(bytes(data))
    proc = triage_cmd("route", "--model", str(copy), stdin=json.dumps(GOOD).encode() + b"\n")
    assert proc.returncode == 2 and proc.stdout == b"", proc.stderr
    assert b"Traceback" not in proc.stderr and target.name.encode() in proc.stderr
