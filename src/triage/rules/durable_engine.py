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
- Strings: a ruleset holding a character beyond U+FFFF is refused, a lone surrogate
  cannot be sent, a message over 16 MiB is refused. Such strings (and long ones) go as
  a digest on both sides, facts and literals alike, so equality still means equality.
- `$mt` is not Python's regex dialect and runs on the JSON-escaped text (a quote, a
  backslash or a control character counts as 2 to 6 characters): `matches` is decided
  by Python's `re` (as the interpreter does) and reaches the engine as a boolean.
- More than 512 different conditions following one node (e.g. 513 rows testing one
  field first) hang `create_ruleset` inside C, holding the GIL: counted and refused
  before registering. Its other limits fail cleanly: a refused ruleset is a
  `RuleFileError` (`Triage` builds the engine at once, so it refuses such a rule set
  before any ticket), a refused message an `EngineError`.
- Not thread-safe and never releases the GIL: one lock per engine.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from typing import Any

from durable import engine as durable_engine
from durable.engine import durable_rules_engine as _native

from triage.errors import EngineError, RuleFileError, TriageError
from triage.rules.domains import NUMBER_SCALE, type_class
from triage.rules.interpreter import leaves
from triage.rules.ir import Absent, And, Cmp, Cond, DecisionIR, FieldCmp, Match, Or, Present, to_nnf
from triage.rules.regex import compiled

_DOLLAR = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_names = itertools.count(1)
SESSION = "0"
MAX_NEXT_NODES = 512  # durable_rules' NEXT_BUCKET_LENGTH: one more and create_ruleset spins forever
MAX_RULES = 4096  # rows of one decision; beyond, create_ruleset fails (code 106)
MAX_ALTERNATIVES = 8192  # paths through one row's and/or tree; beyond, create_ruleset fails (code 113)
MAX_CHECKED = 250_000  # paths of one decision walked to check the above (about a second)
MAX_PLAIN_TEXT = 1000  # longer strings travel as a digest (messages stay far below 16 MiB)
# NUL is sent as-is safely today, but a C engine is not where to find out otherwise.
_AWKWARD = re.compile(r"[\x00\ud800-\udfff\ue000\U00010000-\U0010ffff]")
_DIGEST = "\ue000"  # never in a plain string: such strings are digested themselves


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


def encode_text(text: str) -> str:
    """A string as the engine can hold it: itself, or a digest when long or awkward.

    Facts and rule literals go through the same function, so equality is kept (the
    digest is collision-resistant and a plain string never starts with `_DIGEST`).
    """
    if len(text) <= MAX_PLAIN_TEXT and not _AWKWARD.search(text):
        return text
    return _DIGEST + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encode_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return encode_text(value)
    return int(round(value * NUMBER_SCALE))


def match_field(c: Match) -> str:
    """The message key base for one regex test: its result, computed in Python."""
    return f"{c.field}~{c.pattern}"  # `~` never occurs in a field name


def compile_condition(c: Cond, keys: FieldKeys) -> dict[str, Any]:
    """One IR condition (already in negation normal form) as a durable_rules expression."""
    if isinstance(c, Cmp):
        k = keys.key(c.field, type_class(c.value))
        op = _DOLLAR[c.op]
        v = encode_value(c.value)
        return {k: v} if op is None else {op: {k: v}}
    if isinstance(c, FieldCmp):
        # A property against another of the same message: {"$gte": {"a": {"$m": "b"}}}.
        a, b = keys.key(c.field, c.tc), keys.key(c.other, c.tc)
        op = _DOLLAR[c.op]
        test = {a: {"$m": b}} if op is None else {op: {a: {"$m": b}}}
        return {"$and": [{"$ex": {a: 1}}, {"$ex": {b: 1}}, test]}
    if isinstance(c, Absent):
        return {"$nex": {keys.key(c.field, c.tc): 1}}
    if isinstance(c, Present):
        return {"$ex": {keys.key(c.field, c.tc): 1}}
    if isinstance(c, Match):
        return {keys.key(match_field(c), "b"): True}
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


def _paths(expr: dict[str, Any]) -> list[tuple[str, ...]]:
    """The condition sequences durable_rules chains for one expression ($and in order)."""
    if "$and" in expr:
        out: list[tuple[str, ...]] = [()]
        for item in expr["$and"]:
            out = [p + q for p in out for q in _paths(item)]
            if len(out) > MAX_ALTERNATIVES:
                raise _TooMany()
        return out
    if "$or" in expr:
        out = [p for item in expr["$or"] for p in _paths(item)]
        if len(out) > MAX_ALTERNATIVES:
            raise _TooMany()
        return out
    return [(json.dumps(expr, sort_keys=True),)]


class _TooMany(Exception):
    pass


def check_limits(decision: DecisionIR, definition: dict[str, Any]) -> None:
    """Refuse, naming the row, what would hang or fail `create_ruleset`.

    The engine chains each row's conditions in order and shares equal prefixes, so the
    conditions form a tree; no node may have more than `MAX_NEXT_NODES` children.
    """
    root: dict[str, Any] = {}
    total = 0
    for row in decision.rows:
        def refuse(reason: str) -> RuleFileError:
            return RuleFileError(reason, file=decision.file, line=row.line, rule_id=row.id)
        try:
            paths = _paths(definition[f"r{row.index}"]["all"][0]["m"])
        except _TooMany:
            raise refuse(f"the any/not/list tests of this row combine into more than {MAX_ALTERNATIVES} "
                         "alternatives, more than durable_rules accepts") from None
        total += len(paths)
        if total > MAX_CHECKED:
            raise refuse(f"the rows of decision {decision.name!r} combine into more than {MAX_CHECKED:,} "
                         "alternatives, too many to prove they keep within durable_rules' limits")
        for path in paths:
            node = root
            for cond in path:
                nxt = node.get(cond)
                if nxt is None:
                    if len(node) >= MAX_NEXT_NODES:
                        raise refuse(f"more than {MAX_NEXT_NODES} different conditions follow one another at "
                                     f"the same point of decision {decision.name!r} (durable_rules hangs "
                                     "beyond that): split the decision, or test a shared field first")
                    nxt = node[cond] = {}
                node = nxt


class DurableDecision:
    """One decision's ruleset inside the engine; reports which rows a fact matches."""

    def __init__(self, host: _QuietHost, decision: DecisionIR, keys: FieldKeys):
        self.decision = decision
        self.keys = keys
        self.fields = sorted(decision.inputs)
        self.name = f"triage_{decision.name}_{next(_names)}"
        self.matches = sorted({leaf for row in decision.rows for leaf in leaves(row.cond)
                               if isinstance(leaf, Match)}, key=match_field)
        definition = ruleset_definition(decision, keys)
        self.json_definition = definition
        if not definition:
            self.handle = None
            return
        check_limits(decision, definition)
        for rule in definition.values():
            rule["run"] = _noop
        try:
            host.register_rulesets({self.name: definition})
        except Exception as exc:  # the native module raises its own error type
            raise RuleFileError(f"durable_rules refused decision {decision.name!r}: {exc}",
                                file=decision.file) from None
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
        for m in self.matches:
            v = facts.get(m.field)
            if isinstance(v, str):
                msg[self.keys.key(match_field(m), "b")] = compiled(m.pattern).fullmatch(v) is not None
        return msg

    def matching_rows(self, facts: dict[str, Any], fact_id: int, first_only: bool) -> list[int]:
        if self.handle is None:
            return []
        payload = json.dumps(self.message(facts, fact_id), ensure_ascii=False)
        try:
            code, state = _native.assert_fact(self.handle, payload)
        except Exception as exc:  # the native module's own error type: a limit of the engine
            raise EngineError(f"durable_rules refused the facts for decision {self.decision.name!r}: {exc}") from None
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
        # A row fires once per alternative of its condition that holds (`any: [a, b]` with
        # both true fires twice): report each row once, as the interpreter does.
        rows = sorted(set(rows))
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
        self.decisions: dict[str, DurableDecision] = {}
        try:
            for d in decisions:
                self.decisions[d.name] = DurableDecision(self.host, d, self.keys)
        except BaseException:
            self.close()  # no native ruleset outlives a refused rule set
            raise

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
