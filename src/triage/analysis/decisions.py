"""The checks of one decision over its cells: what can fire, what falls through, what clashes.

- a row whose condition can never hold in the domains (`row-unsatisfiable`);
- under `first`, a row that every earlier row together takes first: shadowed by one
  earlier row (`row-shadowed`) or covered jointly by several, none alone
  (`row-covered-jointly`); under `priority`, a row always outranked (`row-outranked`);
- cells that reach no row when there is no default (`gap`), and a default no cell reaches;
- under `unique`, two rows that match the same cell (`unique-overlap`); under `any`,
  two rows that match the same cell with different outputs (`any-conflict`);
- under the multiple-hit policies (`collect`, `rule_order`, `output_order`) no match is
  an answer (the empty list, 0 or null, as `resolve` gives it), never a gap;
- numeric literals outside a field's range; templates that can leave `values`;
- rows marked `unanalysable` (their `matches` leaves count as "may hold"), and rows
  comparing one fact with another (`{fact: other}`), which count as "may hold" too:
  reported as notes, never as wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from triage.analysis.describe import describe, facts_text, output_text
from triage.analysis.explore import Budget, Region, explore
from triage.analysis.findings import Finding
from triage.analysis.space import FieldSpace
from triage.rules.domains import TEMPORAL, Domain, temporal_text, type_class
from triage.rules.interpreter import leaves
from triage.rules.ir import Cmp, Compound, DecisionIR, FieldCmp, Row, Template
from triage.rules.ruleset import output_rank
from triage.rules.spec import MULTI_HIT

TicketOf = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass
class DecisionStats:
    cells: int = 0
    regions: int = 0
    findings: list[Finding] = field(default_factory=list)


def _row_ref(r: Row) -> str:
    return f"`{r.id}` (line {r.line})" if r.line else f"`{r.id}`"


def _example(reg: Region) -> dict[str, Any]:
    return dict(reg.assign)


def analyse_decision(d: DecisionIR, spaces: dict[str, FieldSpace], budget: Budget,
                     ticket_of: TicketOf, domain_of: Callable[[str], Domain | None]) -> DecisionStats:
    st = DecisionStats()
    F = st.findings

    def finding(severity: str, code: str, message: str, row: Row | None = None,
                example: dict[str, Any] | None = None, line: int | None = None,
                rule_id: str | None = None) -> None:
        F.append(Finding(severity, code, message, file=d.file,
                         line=row.line if row is not None else line,
                         rule_id=row.id if row is not None else rule_id,
                         example=example, example_ticket=ticket_of(example) if example is not None else None))

    cells = 1
    for s in spaces.values():
        cells *= len(s.values)
    st.cells = cells
    rows = d.rows

    for r in rows:
        refs = [leaf for leaf in leaves(r.cond) if isinstance(leaf, FieldCmp)]
        if r.unanalysable:
            finding("info", "unanalysable", "uses `matches`: the checker treats it as possibly matching "
                    "any input; test it with rule tests", r)
        elif refs:
            finding("info", "unanalysable", f"compares facts with each other ({describe(refs[0])}): the "
                    "checker treats it as possibly matching where both have values; test it with rule tests", r)
    _literal_checks(d, domain_of, finding)
    _template_checks(d, domain_of, finding)

    satisfiable = []
    for r in rows:
        regs = explore([r.cond], spaces, "all", budget)
        ok = any(reg.status[0] is not False for reg in regs)
        satisfiable.append(ok)
        if not ok:
            finding("error", "row-unsatisfiable", "can never fire: its condition holds for no input "
                    "in the fact domains", r)

    conds = [r.cond for r in rows]
    mode = "first" if d.hit_policy == "first" else "all"
    regions = explore(conds, spaces, mode, budget)
    st.regions = len(regions)
    fires = [False] * len(rows)
    to_default: list[Region] = []
    maybe_default: list[Region] = []
    overlaps: dict[tuple[int, int], tuple[Region, bool]] = {}
    order = list(d.values or ())

    def rank(i: int) -> Any:
        out = rows[i].then
        if isinstance(out, Compound) and not out.fields:
            return output_rank(d, out.render({}))
        if isinstance(out, Template):  # rendered per ticket: ranked last, as an unlisted output
            return tuple(len(o) for _, o in d.output_values) if d.output_values else len(order)
        return output_rank(d, out)

    for reg in regions:
        status = reg.status
        matched = [i for i, s in enumerate(status) if s is True]
        maybe = [i for i, s in enumerate(status) if s is None]
        if d.hit_policy == "first":
            first = matched[0] if matched else len(rows)
            for i in maybe:
                if i < first:
                    fires[i] = True
            if matched:
                fires[first] = True
            elif maybe:
                maybe_default.append(reg)
            else:
                to_default.append(reg)
            continue
        if not matched:
            (maybe_default if maybe else to_default).append(reg)
        if d.hit_policy in ("unique", "any"):
            if len(matched) == 1 or d.hit_policy == "any":  # `any`: every agreeing row decides
                for i in matched:
                    fires[i] = True
            for i in maybe:
                fires[i] = True
            for a in range(len(matched)):
                for b in range(a + 1, len(matched)):
                    overlaps.setdefault((matched[a], matched[b]), (reg, True))
            for i in maybe:
                for j in matched + maybe:
                    if i != j:
                        overlaps.setdefault((min(i, j), max(i, j)), (reg, False))
        elif d.hit_policy == "priority":
            if matched:
                fires[min(matched, key=lambda i: (rank(i), i))] = True
            for i in maybe:
                if not matched or (rank(i), i) < min((rank(j), j) for j in matched):
                    fires[i] = True
        else:  # collect
            for i in matched + maybe:
                fires[i] = True

    if d.hit_policy in MULTI_HIT and not d.has_default:
        pass  # no match is an answer (`no_match`): nothing to report
    elif not d.has_default:
        if to_default:
            n = sum(r.weight for r in to_default)
            ex = _example(to_default[0])
            finding("error", "gap", f"decision {d.name!r} has no default and {n} of {cells} input cells "
                    "reach no row", example=ex, line=_head_line(d))
        elif maybe_default:
            ex = _example(maybe_default[0])
            finding("warning", "gap-possible", f"decision {d.name!r} has no default and some inputs reach "
                    "only unanalysable rows", example=ex, line=_head_line(d))
    elif not to_default and not maybe_default and rows:
        finding("warning", "default-unused", f"the default of {d.name!r} is never used: every input "
                "reaches a row", line=d.default_line, rule_id="default")

    for (i, j), (reg, certain) in sorted(overlaps.items()):
        a, b = rows[i], rows[j]
        ex = _example(reg)
        if d.hit_policy == "any":
            _any_conflict(a, b, certain, ex, finding)
        elif not certain:
            finding("warning", "unique-overlap-possible", f"may overlap row {_row_ref(a)} (unanalysable "
                    "conditions)", b, ex)
        elif output_text(a.then) != output_text(b.then):
            finding("error", "unique-overlap", f"overlaps row {_row_ref(a)} with a different outcome "
                    f"({output_text(a.then)} there, {output_text(b.then)} here) under hit policy unique", b, ex)
        else:
            finding("error", "unique-overlap", f"overlaps row {_row_ref(a)} (same outcome "
                    f"{output_text(b.then)}, but hit policy unique allows one matching row)", b, ex)

    for i, r in enumerate(rows):
        if fires[i] or not satisfiable[i]:
            continue
        if d.hit_policy == "first":
            _explain_dead_first(d, i, spaces, budget, finding)
        elif d.hit_policy == "priority":
            regs = explore(conds, spaces, "all", budget, guard=r.cond)
            winners = dict.fromkeys(min((k for k, s in enumerate(reg.status) if s), key=lambda k: (rank(k), k))
                                    for reg in regs if reg.status[i])
            names = ", ".join(_row_ref(rows[k]) for k in winners if k != i)
            ex = _example(regs[0]) if regs else None
            finding("error", "row-outranked", f"never decides: whenever it matches, {names} match too "
                    "with an output listed earlier in `values`", r, ex)
    for f in F:  # dates, datetimes and durations shown as written, not as their integers
        if f.example:
            f.example = {k: _shown(domain_of(k), v) for k, v in f.example.items()}
    return st


def _shown(dom: Domain | None, value: Any) -> Any:
    return temporal_text(dom.type, value) if dom is not None and dom.type in TEMPORAL and value is not None else value


def _any_conflict(a: Row, b: Row, certain: bool, ex: dict[str, Any], finding: Callable[..., None]) -> None:
    """Under `any`, overlapping rows must agree: equal literals do, templates may not."""
    literal_a, literal_b = _literal(a.then), _literal(b.then)
    same_literal = literal_a and literal_b and type_class(a.then) == type_class(b.then) and a.then == b.then
    same_template = isinstance(a.then, Template) and isinstance(b.then, Template) and a.then.text == b.then.text
    if same_literal or same_template:
        return
    if certain and literal_a and literal_b:
        finding("error", "any-conflict", f"overlaps row {_row_ref(a)} with a different outcome "
                f"({output_text(a.then)} there, {output_text(b.then)} here) under hit policy any", b, ex)
    else:
        finding("warning", "any-conflict-possible", f"may overlap row {_row_ref(a)} with a different outcome "
                f"({output_text(a.then)} there, {output_text(b.then)} here) under hit policy any "
                "(unanalysable conditions or templates)", b, ex)


def _literal(out: Any) -> bool:
    """An output known without a ticket: a value, or named outputs that are all values."""
    return not isinstance(out, Template) or (isinstance(out, Compound) and not out.fields)


def _explain_dead_first(d: DecisionIR, i: int, spaces: dict[str, FieldSpace], budget: Budget,
                        finding: Callable[..., None]) -> None:
    rows = d.rows
    r = rows[i]
    regs = explore([x.cond for x in rows[:i]], spaces, "first", budget, guard=r.cond)
    deciders: dict[int, Region] = {}
    for reg in regs:
        first = next((k for k, s in enumerate(reg.status) if s is True), None)
        if first is not None:
            deciders.setdefault(first, reg)
    single = [k for k in sorted(deciders)
              if all(reg.status[0] is True for reg in explore([rows[k].cond], spaces, "all", budget, guard=r.cond))]
    ex = _example(regs[0]) if regs else None
    if single:
        k = single[0]
        also = f" (and so does {', '.join(_row_ref(rows[x]) for x in single[1:])})" if len(single) > 1 else ""
        finding("error", "row-shadowed", f"can never fire: every input it matches is taken first by row "
                f"{_row_ref(rows[k])}{also}", r, ex)
        return
    parts = "; ".join(f"{_row_ref(rows[k])} takes e.g. {facts_text(reg.assign)}" for k, reg in sorted(deciders.items()))
    finding("error", "row-covered-jointly", f"can never fire: earlier rows cover it jointly (no single one "
            f"does): {parts}", r, ex)


def _head_line(d: DecisionIR) -> int | None:
    """The line of `decision:` (where a missing default is reported)."""
    try:
        with open(d.file, encoding="utf-8") as fh:
            for n, text in enumerate(fh, 1):
                if text.startswith("decision:"):
                    return n
    except OSError:
        pass
    return None


def _literal_checks(d: DecisionIR, domain_of: Callable[[str], Domain | None], finding: Callable[..., None]) -> None:
    """Numbers compared with values outside the field's declared range."""
    for r in d.rows:
        for leaf in leaves(r.cond):
            if not isinstance(leaf, Cmp) or type_class(leaf.value) != "n":
                continue
            dom = domain_of(leaf.field)
            if dom is None or not dom.declared or dom.type not in ("int", "float"):
                continue
            lo, hi, v = dom.min, dom.max, leaf.value
            if (lo is None or v >= lo) and (hi is None or v <= hi):
                continue
            rng = f"{'' if lo is None else lo}..{'' if hi is None else hi}"
            if leaf.op == "==":
                finding("error", "value-outside-domain", f"{leaf.field} == {v} can never hold: "
                        f"{leaf.field} ranges over {rng}", r)
            else:
                finding("warning", "value-outside-domain", f"{leaf.field} {leaf.op} {v} compares with a value "
                        f"outside {leaf.field}'s range {rng}: the test is the same for every input", r)


def _template_checks(d: DecisionIR, domain_of: Callable[[str], Domain | None], finding: Callable[..., None]) -> None:
    """`then: "{field}"` whose field can take values outside the decision's `values`."""
    if not d.values:
        return
    outs = [(r, r.then) for r in d.rows] + ([(None, d.default)] if d.has_default else [])
    for r, out in outs:
        if not isinstance(out, Template) or len(out.parts) != 1 or not isinstance(out.parts[0], tuple):
            continue
        dom = domain_of(out.parts[0][0])
        if dom is None or dom.type != "enum" or not dom.values:
            continue
        extra = [v for v in dom.values if v not in d.values]
        if extra:
            finding("warning", "template-outside-values", f"{output_text(out)} can give "
                    f"{', '.join(map(str, extra))}, which {d.name!r} does not list in `values`", r,
                    line=d.default_line if r is None else None, rule_id="default" if r is None else None)
