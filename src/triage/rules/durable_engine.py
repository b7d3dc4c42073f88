"""The IR compiled to durable_rules rulesets and evaluated on its engine.

Built on `durable.engine` (never the global `durable.lang` host), with the traps we
know about handled here:
- `Host` starts two background threads that race with the caller: `_QuietHost`
  disables them; we drive the engine ourselves.
- At most 1,024 live sessions per ruleset: one fixed session, a unique increasing
  `id` per fact, `assert_fact` then `retract_fact` in `finally`.
- The session's own state is a message too: an absence test (`$nex`) matches it. Every
  rule therefore also requires the marker `_t: 1` that only our facts carry.
- Type coercion (`5` matches `"5"`, `False` matches `0`): each field is sent under
  one key per type class (`f3s`, `f3n`, `f3b`), so values of different types never meet.
- Floats printed with an exponent are rejected: numbers go as integers in thousandths.
- Not thread-safe and never releases the GIL: one lock per engine.
"""
from __future__ import annotations

import itertools
import json
import threading
from typing import Any

from durable import engine as durable_engine
from durable.engine import durable_rules_engine as _native

from triage.errors import TriageError
from triage.rules.domains import NUMBER_SCALE, type_class
from triage.rules.ir import Absent, And, Cmp, Cond, DecisionIR, Match, Or, Present, to_nnf

_DOLLAR = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_names = itertools.count(1)
SESSION = "0"


class EngineError(TriageError):
    """durable_rules refused a ruleset or a message."""


class _QuietHost(durable_engine.Host):
    """A Host without its background dispatch threads (they race with the caller)."""

    def _run(self) -> None:
        pass


def _noop(_closure: Any) -> None:
    pass


class FieldKeys:
    """Message keys per (field, type class): short, safe names instead of user strings."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def key(self, field: str, tc: str) -> str:
        i = self.index.setdefault(field, len(self.index))
        return f"f{i}{tc}"


def encode_value(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    return int(round(value * NUMBER_SCALE))


def compile_condition(c: Cond, keys: FieldKeys) -> dict[str, Any]:
    """One IR condition (already in negation normal form) as a durable_rules expression."""
    if isinstance(c, Cmp):
        k = keys.key(c.field, type_class(c.value))
        op = _DOLLAR[c.op]
        v = encode_value(c.value)
        return {k: v} if op is None else {op: {k: v}}
    if isinstance(c, Absent):
        return {"$nex": {keys.key(c.field, c.tc): 1}}
    if isinstance(c, Present):
        return {"$ex": {keys.key(c.field, c.tc): 1}}
    if isinstance(c, Match):
        return {"$mt": {keys.key(c.field, "s"): c.pattern}}
    if isinstance(c, And):
        if not c.items:
            return {"_t": 1}
        items = [compile_condition(i, keys) for i in c.items]
        return items[0] if len(items) == 1 else {"$and": items}
    if isinstance(c, Or):
        if not c.items:
            return {"_t": 0}  # never true: our facts carry _t = 1
        items = [compile_condition(i, keys) for i in c.items]
        return items[0] if len(items) == 1 else {"$or": items}
    raise TypeError(f"cannot compile {c!r}")


def ruleset_definition(decision: DecisionIR, keys: FieldKeys) -> dict[str, Any]:
    """JSON ruleset: one rule per row, `pri` in row order (1-based: negative pri wraps)."""
    rules = {}
    for row in decision.rows:
        cond = compile_condition(to_nnf(row.cond), keys)
        rules[f"r{row.index}"] = {"all": [{"m": {"$and": [{"_t": 1}, cond]}}], "pri": row.index + 1}
    return rules


class DurableDecision:
    """One decision's ruleset inside the engine; reports which rows a fact matches."""

    def __init__(self, host: _QuietHost, decision: DecisionIR, keys: FieldKeys):
        self.decision = decision
        self.keys = keys
        self.fields = sorted(decision.inputs)
        self.name = f"triage_{decision.name}_{next(_names)}"
        definition = ruleset_definition(decision, keys)
        self.json_definition = definition
        if not definition:
            self.handle = None
            return
        for rule in definition.values():
            rule["run"] = _noop
        try:
            host.register_rulesets({self.name: definition})
        except Exception as exc:  # the native module raises its own error type
            raise EngineError(f"durable_rules refused decision {decision.name!r}: {exc}") from None
        self.handle = host.get_ruleset(self.name)._handle

    def message(self, facts: dict[str, Any], fact_id: int) -> dict[str, Any]:
        msg: dict[str, Any] = {"id": fact_id, "sid": SESSION, "_t": 1}
        for f in self.fields:
            v = facts.get(f)
            if v is None:
                continue
            tc = type_class(v)
            if tc is None:
                continue
            msg[self.keys.key(f, tc)] = encode_value(v)
        return msg

    def matching_rows(self, facts: dict[str, Any], fact_id: int, first_only: bool) -> list[int]:
        if self.handle is None:
            return []
        payload = json.dumps(self.message(facts, fact_id), ensure_ascii=False)
        code, state = _native.assert_fact(self.handle, payload)
        rows: list[int] = []
        try:
            if code == 0:
                action = _native.start_action_for_state(self.handle, state)
                while action:
                    fired = json.loads(action[1])
                    for rule, msg in fired.items():
                        if _fact_id(msg) == fact_id:
                            rows.append(int(rule[1:]))
                    nxt = _native.complete_and_start_action(self.handle, state)
                    action = (None, nxt) if nxt else None
        finally:
            _native.retract_fact(self.handle, payload)
        rows.sort()
        return rows[:1] if first_only else rows


def _fact_id(msg: Any) -> Any:
    if isinstance(msg, dict):
        if "id" in msg:
            return msg["id"]
        for v in msg.values():  # a rule's message may come wrapped under its alias
            if isinstance(v, dict) and "id" in v:
                return v["id"]
    return None


class DurableEngine:
    """All decisions of a rule set compiled into one private host; one lock for all."""

    def __init__(self, decisions: tuple[DecisionIR, ...]):
        self.host = _QuietHost()
        self.keys = FieldKeys()
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.decisions = {d.name: DurableDecision(self.host, d, self.keys) for d in decisions}

    def matching_rows(self, decision: str, facts: dict[str, Any], first_only: bool = False) -> list[int]:
        with self.lock:
            return self.decisions[decision].matching_rows(facts, next(self._ids), first_only)

    def close(self) -> None:
        for d in self.decisions.values():
            if d.handle is not None:
                try:
                    _native.delete_ruleset(d.handle)
                except Exception:
                    pass
                d.handle = None
