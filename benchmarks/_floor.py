"""Plain-Python baselines generated from the rule set's IR, and the same rows as a
zen-engine (GoRules JDM) decision graph.

`compile_floor(ruleset)` writes one Python function for the whole rule set: every input
field is read from the facts once into a local, each decision is an `if/elif` chain of
precompiled row predicates (membership tests against frozensets, null guards only where
the domain is nullable), decision outputs flow on as locals, templates are f-strings.
It returns, per decision, the value and the cited rule, the same information the
project's `RuleSet.evaluate` returns. That is the floor: the fastest honest first-match
we know how to write in Python, and it is checked to agree with the project.

`PlainPolicy` is the rest of a plain implementation of the policy (facts from a ticket
dict, follow-the-sun hand-over and response deadlines from the schedule's data), used as
the "pure-Python rules" half of the end-to-end baseline.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from triage.rules.domains import type_class
from triage.rules.ir import Absent, And, Cmp, DecisionIR, Match, Not, Or, Present, Template, to_nnf

PY_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _tc(v: Any) -> str | None:
    return type_class(v)


class _FieldInfo:
    """What the generator may assume about a field: its type classes and nullability."""

    def __init__(self, classes: tuple[str, ...] | None, nullable: bool):
        self.classes = classes  # None: anything
        self.nullable = nullable

    def single(self, tc: str) -> bool:
        return self.classes == (tc,)


def _decision_info(d: DecisionIR) -> _FieldInfo:
    outs = [r.then for r in d.rows] + ([d.default] if d.has_default else [])
    classes = {"s" if isinstance(o, Template) else type_class(o) for o in outs}
    nullable = None in classes or (not d.has_default)
    classes.discard(None)
    return _FieldInfo(tuple(sorted(classes)) if len(classes) == 1 else None, nullable)


class _Gen:
    def __init__(self, ruleset: Any):
        self.ruleset = ruleset
        self.decisions = {d.name: d for d in ruleset.decisions}
        self.consts: dict[str, Any] = {"_text": _text, "_tc": _tc}
        self.locals: dict[str, str] = {}

    def info(self, field: str) -> _FieldInfo:
        if field in self.decisions:
            return _decision_info(self.decisions[field])
        dom = self.ruleset.domains.get(field)
        if dom is None or not dom.declared:
            return _FieldInfo(None, True)
        return _FieldInfo(dom.type_classes, dom.nullable)

    def var(self, field: str) -> str:
        if field not in self.locals:
            self.locals[field] = f"x{len(self.locals)}"
        return self.locals[field]

    def const(self, value: Any) -> str:
        name = f"K{len(self.consts)}"
        self.consts[name] = value
        return name

    def cond(self, c: Any) -> str:
        if isinstance(c, Cmp):
            x, info, tc = self.var(c.field), self.info(c.field), type_class(c.value)
            guard = "" if info.single(tc) else f"_tc({x}) == {tc!r} and "
            if c.op == "==":
                if tc == "b" and not guard:
                    return f"{x} is {c.value!r}"
                # `None == lit` is False, so equality needs no null guard.
                return f"({guard}{x} == {c.value!r})" if guard else f"{x} == {c.value!r}"
            if not guard and info.nullable:
                guard = f"{x} is not None and "
            return f"({guard}{x} {PY_OPS[c.op]} {c.value!r})"
        if isinstance(c, Or) and c.items and all(isinstance(i, Cmp) and i.op == "==" and i.field == c.items[0].field
                                                 and type_class(i.value) == "s" for i in c.items):
            x, info = self.var(c.items[0].field), self.info(c.items[0].field)
            k = self.const(frozenset(i.value for i in c.items))
            return f"{x} in {k}" if info.single("s") else f"(_tc({x}) == 's' and {x} in {k})"
        if isinstance(c, Absent):
            x, info = self.var(c.field), self.info(c.field)
            return f"{x} is None" if info.single(c.tc) else f"_tc({x}) != {c.tc!r}"
        if isinstance(c, Present):
            x, info = self.var(c.field), self.info(c.field)
            return f"{x} is not None" if info.single(c.tc) else f"_tc({x}) == {c.tc!r}"
        if isinstance(c, Match):
            from triage.rules.regex import compiled

            x = self.var(c.field)
            k = self.const(compiled(c.pattern).fullmatch)
            return f"(type({x}) is str and {k}({x}) is not None)"
        if isinstance(c, And):
            if not c.items:
                return "True"
            parts = [self.cond(i) for i in c.items]
            return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"
        if isinstance(c, Or):
            if not c.items:
                return "False"
            parts = [self.cond(i) for i in c.items]
            return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
        if isinstance(c, Not):
            return f"not {self.cond(c.item)}"
        raise TypeError(c)

    def output(self, out: Any) -> str:
        if isinstance(out, Template) and len(out.parts) == 1 and not isinstance(out.parts[0], str):
            x, info = self.var(out.parts[0][0]), self.info(out.parts[0][0])
            if info.single("s"):
                return f"({x} or '')" if info.nullable else x
        if isinstance(out, Template):
            pieces = []
            for p in out.parts:
                if isinstance(p, str):
                    pieces.append(p.replace("{", "{{").replace("}", "}}"))
                else:
                    x, info = self.var(p[0]), self.info(p[0])
                    if info.single("s"):
                        pieces.append("{" + (f"({x} or '')" if info.nullable else x) + "}")
                    else:
                        pieces.append("{_text(" + x + ")}")
            return "f" + repr("".join(pieces)).replace("\\\\", "\\")
        return repr(out)


def compile_floor(ruleset: Any) -> tuple[Callable[[dict[str, Any]], tuple], str]:
    """(decide, source): `decide(facts)` returns ((value, cited), ...) per decision in order."""
    g = _Gen(ruleset)
    body: list[str] = []
    results = []
    for d in ruleset.decisions:
        if d.hit_policy not in ("first", "unique"):
            raise NotImplementedError(f"floor: hit policy {d.hit_policy!r}")
        v, c = g.var(d.name), f"c_{d.name}"
        body.append(f"    # {d.name} ({d.hit_policy})")
        if d.hit_policy == "first":
            kw = "if"
            for row in d.rows:
                body.append(f"    {kw} {g.cond(row.cond)}:")
                body.append(f"        {v} = {g.output(row.then)}; {c} = {d.cite(row)!r}")
                kw = "elif"
            body.append("    else:" if d.rows else "    if True:")
            if d.has_default:
                body.append(f"        {v} = {g.output(d.default)}; {c} = {d.cite(None)!r}")
            else:
                body.append(f"        raise LookupError({(d.name + ': no row matched')!r})")
        else:  # unique: every row is tested
            body.append(f"    m = [i for i, ok in enumerate(({', '.join(g.cond(r.cond) for r in d.rows)},)) if ok]")
            body.append("    if len(m) > 1: raise LookupError('unique clash')")
            for i, row in enumerate(d.rows):
                body.append(f"    {'if' if i == 0 else 'elif'} m and m[0] == {i}: "
                            f"{v} = {g.output(row.then)}; {c} = {d.cite(row)!r}")
            body.append(f"    {'else' if d.rows else 'if True'}: {v} = {g.output(d.default)}; {c} = {d.cite(None)!r}")
        results.append(f"({v}, {c})")
    decided = set(g.decisions)
    head = ["def decide(f):", "    get = f.get"]
    head += [f"    {x} = get({field!r})" for field, x in g.locals.items() if field not in decided]
    src = "\n".join(head + body + [f"    return ({', '.join(results)},)", ""])
    ns = dict(g.consts)
    exec(compile(src, "<floor>", "exec"), ns)
    return ns["decide"], src


def project_tuple(ruleset: Any, results: dict[str, Any]) -> tuple:
    """The project's results in the floor's shape, for the agreement check."""
    return tuple((results[d.name].value, results[d.name].cited[0] if results[d.name].cited else None)
                 for d in ruleset.decisions)


# --- zen-engine ----------------------------------------------------------------------------


def _zen_lit(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def _dnf(c: Any) -> list[list[Any]]:
    """Disjunctive normal form of an NNF condition; a same-field `==` list stays one leaf."""
    if isinstance(c, And):
        out: list[list[Any]] = [[]]
        for i in c.items:
            out = [a + b for a in out for b in _dnf(i)]
        return out
    if isinstance(c, Or):
        if c.items and all(isinstance(i, Cmp) and i.op == "==" and i.field == c.items[0].field for i in c.items):
            return [[("in", c.items[0].field, tuple(i.value for i in c.items))]]
        return [conj for i in c.items for conj in _dnf(i)]
    return [[c]]


def _zen_cell(leaf: Any, nullable: Callable[[str], bool]) -> tuple[str, str]:
    if isinstance(leaf, tuple):
        return leaf[1], ", ".join(_zen_lit(v) for v in leaf[2])
    if isinstance(leaf, Cmp):
        if leaf.op == "==":
            return leaf.field, _zen_lit(leaf.value)
        # zen refuses to order null (typed semantics: an absent value never matches)
        guard = "$ != null and " if nullable(leaf.field) else ""
        return leaf.field, f"{guard}$ {leaf.op} {_zen_lit(leaf.value)}"
    if isinstance(leaf, Absent):
        return leaf.field, "$ == null"
    if isinstance(leaf, Present):
        return leaf.field, "$ != null"
    raise NotImplementedError(f"zen: {leaf!r}")


def _zen_output(out: Any) -> str:
    if isinstance(out, Template):
        text = "".join(p.replace("`", "\\`").replace("$", "\\$") if isinstance(p, str) else "${" + p[0] + "}"
                       for p in out.parts)
        return f"`{text}`"
    return _zen_lit(out)


def zen_graph(ruleset: Any) -> tuple[dict[str, Any], int]:
    """A JDM graph: input -> one first-hit decision table per decision (in order, passing
    the facts through) -> output. Each table also outputs `rule_<decision>`, the cited rule."""
    nodes: list[dict[str, Any]] = [{"id": "in", "name": "input", "type": "inputNode", "position": {"x": 0, "y": 0}}]
    edges = []
    prev, n_rows = "in", 0
    gen = _Gen(ruleset)
    nullable = lambda f: gen.info(f).nullable
    for k, d in enumerate(ruleset.decisions):
        if d.hit_policy != "first":
            raise NotImplementedError("zen: only first-hit tables are generated")
        fields: list[str] = []
        rows = []
        for row in d.rows:
            for conj in _dnf(to_nnf(row.cond)):
                cells: dict[str, list[str]] = {}
                for leaf in conj:
                    f, expr = _zen_cell(leaf, nullable)
                    if f not in fields:
                        fields.append(f)
                    cells.setdefault(f, []).append(expr)
                rows.append((cells, row.then, d.cite(row)))
        rows.append(({}, d.default if d.has_default else None, d.cite(None)))
        ids = {f: f"i{j}" for j, f in enumerate(fields)}
        table_rows = []
        for r, (cells, then, cited) in enumerate(rows):
            tr = {"_id": f"r{r}", "o": _zen_output(then), "c": _zen_lit(cited)}
            for f in fields:
                exprs = cells.get(f, [])
                tr[ids[f]] = "" if not exprs else exprs[0] if len(exprs) == 1 else " and ".join(
                    e if e.startswith("$") else f"$ == {e}" for e in exprs)
            table_rows.append(tr)
        n_rows += len(table_rows)
        node = f"t{k}"
        nodes.append({"id": node, "name": d.name, "type": "decisionTableNode", "position": {"x": 0, "y": 0},
                      "content": {"hitPolicy": "first", "passThrough": True, "inputField": None, "outputPath": None,
                                  "executionMode": "single",
                                  "inputs": [{"id": ids[f], "name": f, "field": f} for f in fields],
                                  "outputs": [{"id": "o", "name": d.name, "field": d.name},
                                              {"id": "c", "name": f"rule_{d.name}", "field": f"rule_{d.name}"}],
                                  "rules": table_rows}})
        edges.append({"id": f"e{k}", "sourceId": prev, "targetId": node, "type": "edge"})
        prev = node
    nodes.append({"id": "out", "name": "output", "type": "outputNode", "position": {"x": 0, "y": 0}})
    edges.append({"id": "e_out", "sourceId": prev, "targetId": "out", "type": "edge"})
    return {"nodes": nodes, "edges": edges}, n_rows


def zen_tuple(ruleset: Any, result: dict[str, Any]) -> tuple:
    return tuple((result.get(d.name), result.get(f"rule_{d.name}")) for d in ruleset.decisions)


# --- the rest of a plain policy implementation ----------------------------------------------


class PlainPolicy:
    """Ticket dict (+ category) -> decision dict, in plain Python: facts, the generated
    first-match rules, follow-the-sun hand-over and both deadlines. Schedule *data*
    (shifts, targets) comes from the rule folder, the code is ours, except business time
    on the regional calendars (local dates, holidays), which both sides take from
    `Schedule.add_business_time`: the floor is about the rules, not calendars."""

    def __init__(self, ruleset: Any, schedule: Any, model_version: str | None = None):
        self.decide, self.source = compile_floor(ruleset)
        self.names = [d.name for d in ruleset.decisions]
        self.version = ruleset.version
        self.model_version = model_version
        self.by_minute = [schedule.on_shift(datetime(2026, 1, 1, m // 60, m % 60)) for m in range(1440)]
        self.shift_of = {s.region: s for s in schedule.shifts}
        self.handover = {r: schedule.handover[(i + 1) % len(schedule.handover)]
                         for i, r in enumerate(schedule.handover)}
        self.response = schedule.response
        self.resolution = schedule.resolution
        self.paused_in = schedule.paused_in
        self.schedule = schedule
        self.handoff_priorities = schedule.handoff_priorities

    def facts(self, t: dict[str, Any], category: str, confidence: float | None, source: str,
              created: datetime) -> dict[str, Any]:
        c = t.get("customer") or {}
        s = t.get("service") or {}
        partner = c.get("partner_id") or None
        return {"category": category, "category_source": source,
                "confidence": None if confidence is None else round(confidence, 3),
                "channel": t.get("channel", "email"), "customer_tier": c.get("tier", "standard"),
                "account_id": c.get("account_id"), "partner_managed": partner is not None, "partner_id": partner,
                "home_region": c.get("home_region"), "reported_severity": t.get("reported_severity"),
                "affected_customers": t.get("affected_customers", 1),
                "affected_services": t.get("affected_services", 1),
                "product": s.get("product") or "none", "cloud_provider": s.get("cloud_provider") or "none",
                "service_id": s.get("service_id"), "location": s.get("location"),
                "escalation_level": t.get("escalation_level", 0), "status": t.get("status", "new"),
                "carrier": s.get("carrier") or None,
                "created_hour": created.hour, "created_weekday": created.weekday(),
                "shift_region": self.by_minute[created.hour * 60 + created.minute],
                "created_shift_region": self.by_minute[created.hour * 60 + created.minute],
                "responded": False, "age_minutes": 0, "response_used": 0, "resolution_used": 0}

    def shift_end(self, t: datetime) -> datetime:
        region = self.by_minute[t.hour * 60 + t.minute]
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        end = day + timedelta(minutes=self.shift_of[region].end)
        return end if end > t else end + timedelta(days=1)

    def due(self, target: tuple[timedelta, str], t: datetime, region: str) -> datetime:
        within, clock = target
        return t + within if clock == "always" else self.schedule.add_business_time(t, within, region)

    def route(self, t: dict[str, Any], category: str, confidence: float | None, source: str) -> dict[str, Any]:
        created = datetime.fromisoformat(t["created_at"]).astimezone(timezone.utc)
        res = self.decide(self.facts(t, category, confidence, source, created))
        out = dict(zip(self.names, res))
        priority, region = out["priority"][0], out["region"][0]
        handoff = None
        if priority in self.handoff_priorities:
            handoff = {"at": _iso(self.shift_end(created)),
                       "to": self.handover[self.by_minute[created.hour * 60 + created.minute]]}
        due = self.due(self.response[priority], created, region)
        resolution = None if t.get("status", "new") in self.paused_in else _iso(
            self.due(self.resolution[priority], created, region))
        third = out.get("third_party")
        return {"ticket_id": t["id"], "category": category, "category_source": source,
                "confidence": None if confidence is None else round(float(confidence), 4),
                "needs_review": source == "model" and category == "unknown",
                "priority": priority, "tier": out["tier"][0], "region": region, "queue": out["queue"][0],
                "handoff": handoff, "third_party": None if third is None else third[0], "response_due": _iso(due),
                "resolution_due": resolution,
                "incident_id": None, "rules": {n: [v[1]] for n, v in out.items()},
                "ruleset_version": self.version, "model_version": self.model_version}


def _iso(t: datetime) -> str:
    s = t.isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def plain_route_many(policy: PlainPolicy, tickets: list[dict[str, Any]], classify: Callable | None,
                     chunk: int = 512) -> list[dict[str, Any]]:
    """The baseline pipeline: classify each chunk's free-text tickets in one call, then the
    plain policy. No validation beyond what the policy needs."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(tickets), chunk):
        part = tickets[i:i + chunk]
        need = [t for t in part if t.get("category") is None]
        classes = iter(classify([f"{t.get('subject') or ''}\n{t.get('body') or ''}" for t in need])) if need else None
        for t in part:
            cat = t.get("category")
            if cat is not None:
                out.append(policy.route(t, cat, None, "given"))
            else:
                c = next(classes)
                out.append(policy.route(t, c.category, c.confidence, "model"))
    return out
