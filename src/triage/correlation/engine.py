"""The correlation rule as a stateful durable_rules ruleset: ticket events in one session.

Design. Each correlatable ticket is asserted once per key it names, as an *event* fact
`{k: key, a: account, c: category, ts: created_at}` that stays in the one fixed session
until Python expires it. When a new ticket arrives it is first asserted as a short-lived
*probe* `{k, a, c, lo, hi}` (its time +- the window); one rule joins the probe (of an
eligible category) with every event of the same key, another account, an eligible
category and `lo <= ts <= hi`; each pair fired is a neighbour. The probe is retracted
at once, then the ticket's own events are asserted. Python counts distinct accounts
over the neighbours (a sliding window over a handful of tickets) and keeps incidents.

Why a probe rather than joining events with each other: every probe is a new fact, so
each arrival reports all current neighbours (Rete fires only *new* combinations, and
a symmetric event-event join would fire each pair in both orders); the window bounds
travel on the probe, so the engine compares plain integers and needs no arithmetic;
and an event that matches no rule (an ineligible category) is not even stored by
durable_rules. Why not durable timers: they need the Host's background threads, which
race with the caller (see `triage.rules.durable_engine`); time is the tickets' own
`created_at`, compared explicitly, and old events are retracted from Python.

durable_rules traps met here (measured on 2.0.28), beyond those of `durable_engine`:
- Two rules that each join an alias with references (`{"k": {"p": "k"}}`) crash the
  process (SIGSEGV in `reduceExpressionSequence`) after some thousands of facts, with a
  heap-dependent timing (upstream jruizgit/rules#381). Hence exactly one join rule.
- `delete_ruleset` on a ruleset whose joined facts were retracted corrupts the heap: a
  later call on another ruleset crashes (SIGSEGV in `deleteMessageFromFrame`). Engines
  are therefore never deleted: an emptied engine goes back to a pool and is reused.
- A `$or` placed before a reference in the same `$and` makes the references match
  everything (its short-circuit skips to the wrong `OP_END`). The category `$or` is
  therefore the last test of the joined pattern; a property test guards it.
- Non-ASCII strings compared through a reference never match (equality is false,
  `$neq` true) when sent as UTF-8. Every string sent here is an ASCII token, a
  128-bit digest of the value, which also bounds the message size.
- Times travel as integer milliseconds (scaled integers: no floats, no exponents).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import threading
from typing import Any, Iterable

from durable.engine import durable_rules_engine as _native

from triage.errors import EngineError
from triage.rules.durable_engine import SESSION, _noop, _QuietHost

EVENT, PROBE = 1, 2  # the `_t` marker: the session's own state carries none
_names = itertools.count(1)


def token(kind: str, value: str) -> str:
    """An ASCII stand-in for a string (durable_rules mis-compares non-ASCII through joins)."""
    return kind + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def ruleset_definition(categories: Iterable[str]) -> dict[str, Any]:
    """One rule: a probe of an eligible category x every event of an eligible category with
    the same key, another account and a time within the probe's bounds."""
    cats = [{"c": token("c", c)} for c in categories]
    eligible = cats[0] if len(cats) == 1 else {"$or": cats}
    probe = {"$and": [{"_t": PROBE}, eligible]}
    # The category test comes last: a `$or` before the references breaks them (see above).
    event = {"$and": [{"_t": EVENT}, {"k": {"p": "k"}}, {"$neq": {"a": {"p": "a"}}},
                      {"$gte": {"ts": {"p": "lo"}}}, {"$lte": {"ts": {"p": "hi"}}}, eligible]}
    return {"peer": {"all": [{"p": probe}, {"e": event}]}}


# Idle engines by ruleset definition. `delete_ruleset` on a ruleset whose facts were
# retracted corrupts the heap: some later, unrelated call then crashes the process. So an
# engine is never deleted; `release` empties it and keeps it here for the next user.
_POOL: dict[str, list["CorrelationEngine"]] = {}
_POOL_LOCK = threading.Lock()


class CorrelationEngine:
    """Events of live tickets in one durable_rules session; `neighbours` asks the rule.

    Take one with `CorrelationEngine.acquire(categories)` and give it back, emptied,
    with `release()` (see `_POOL` for why engines are reused rather than deleted).
    """

    def __init__(self, categories: Iterable[str]):
        self.host = _QuietHost()
        self.name = f"triage_correlation_{next(_names)}"
        self.definition = ruleset_definition(categories)
        self.key = json.dumps(self.definition, sort_keys=True)
        rules = {n: {**r, "run": _noop} for n, r in self.definition.items()}
        try:
            self.host.register_rulesets({self.name: rules})
        except Exception as exc:  # the native module raises its own error type
            raise EngineError(f"durable_rules refused the correlation ruleset: {exc}") from None
        self.handle = self.host.get_ruleset(self.name)._handle
        self._ids = itertools.count(1)
        self._stored: dict[int, str] = {}  # fact id -> payload of every event the session keeps
        self._session_exists = False  # durable_rules creates the session with its first fact
        self.lock = threading.Lock()

    @classmethod
    def acquire(cls, categories: Iterable[str]) -> "CorrelationEngine":
        """An idle engine for these categories, or a new one."""
        key = json.dumps(ruleset_definition(categories), sort_keys=True)
        with _POOL_LOCK:
            idle = _POOL.get(key)
            if idle:
                return idle.pop()
        return cls(categories)

    def release(self) -> None:
        """Retract every event and return the engine to the pool; do not use it afterwards."""
        self.clear()
        with _POOL_LOCK:
            _POOL.setdefault(self.key, []).append(self)

    close = release

    def add(self, key: str, account: str, category: str, ts_ms: int) -> tuple[int, str] | None:
        """Assert an event; its (fact id, payload) for `remove`, or None when no rule can
        ever use it (durable_rules then keeps nothing)."""
        fid = next(self._ids)
        payload = json.dumps({"id": fid, "sid": SESSION, "_t": EVENT, "k": token("k", key),
                              "a": token("a", account), "c": token("c", category), "ts": int(ts_ms)})
        with self.lock:
            code, _ = _native.assert_fact(self.handle, payload)
            self._session_exists = True
            if code != 0:
                return None
            self._stored[fid] = payload
        return fid, payload

    def remove(self, fact: tuple[int, str]) -> None:
        with self.lock:
            if self._stored.pop(fact[0], None) is not None:
                _native.retract_fact(self.handle, fact[1])

    def clear(self) -> None:
        """Retract every event still in the session."""
        with self.lock:
            for payload in self._stored.values():
                _native.retract_fact(self.handle, payload)
            self._stored.clear()

    def neighbours(self, key: str, account: str, category: str, ts_ms: int, window_ms: int) -> list[int]:
        """Fact ids of the events the rule joins with a probe for this ticket."""
        pid = next(self._ids)
        payload = json.dumps({"id": pid, "sid": SESSION, "_t": PROBE, "k": token("k", key),
                              "a": token("a", account), "c": token("c", category),
                              "lo": int(ts_ms - window_ms), "hi": int(ts_ms + window_ms)})
        found: list[int] = []
        with self.lock:
            code, state = _native.assert_fact(self.handle, payload)
            self._session_exists = True
            try:
                if code == 0:
                    action = _native.start_action_for_state(self.handle, state)
                    while action:
                        for match in json.loads(action[1]).values():
                            if match["p"]["id"] == pid:
                                found.append(match["e"]["id"])
                        nxt = _native.complete_and_start_action(self.handle, state)
                        action = (None, nxt) if nxt else None
            finally:
                if code == 0:
                    _native.retract_fact(self.handle, payload)
        return found

    def live_facts(self) -> int:
        """How many facts the session holds (for tests and monitoring; walks them all)."""
        with self.lock:
            if not self._session_exists:
                return 0  # asking for a session that does not exist yet is an error (309)
            return len(json.loads(_native.get_facts(self.handle, SESSION)))
