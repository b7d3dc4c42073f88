"""Decisions reused by cell: durable_rules decides each distinct cell once.

Every stateless decision depends only on which *cell* of the finite input domains a
ticket's facts fall in: numbers matter only by their position among the cut points
the rows use (below, equal to, between, above), enumerations and booleans by their
value, free strings only as one of the literals the rows compare them with or
"something else", and, where a template's output is later read by a condition or
ranked by a hit policy, the exact values that template reads.

`CellDecider` generates one Python function for a rule set that computes each
decision's cell and looks it up; on a miss durable_rules decides that decision and
the outcome is stored: a constant output or one to render per ticket (templates such
as "partner:{partner_id}" still see each ticket's own values), and the cited rules.
Caches are bounded; the generated code is kept in `source` for inspection.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from triage.rules.domains import type_class
from triage.rules.interpreter import leaves
from triage.rules.ir import Cmp, Compound, DecisionIR, FieldCmp, Match, Template, _text, leaf_fields
from triage.rules.spec import MULTI_HIT

CACHE_LIMIT = 65_536
ENUM_LIMIT = 64  # enumerations up to this size key by value; larger ones by cell


def _typed(v: Any) -> Any:
    """An exact value that keeps 1, 1.0 and True apart (they hash alike)."""
    return None if v is None else (type_class(v), v)


def _number_cell(var: str, cuts: list[float], nullable: bool) -> str:
    """An inline expression numbering v's position among the cut points."""
    expr = str(2 * len(cuts))
    for i in reversed(range(len(cuts))):
        c = repr(cuts[i])
        expr = f"{2 * i} if {var} < {c} else {2 * i + 1} if {var} == {c} else ({expr})"
    return f"-1 if {var} is None else ({expr})" if nullable else expr


def _renderer(tpl: Template) -> Callable[[dict[str, Any]], str]:
    """A compiled f-string for a template (None renders as "", booleans as true/false)."""
    pieces = []
    for p in tpl.parts:  # strings go straight in; anything else through _text
        pieces.append(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str)
                      else f"{{v if (v := g({p[0]!r})).__class__ is str else _t(v)}}")
    src = "def render(facts):\n    g = facts.get\n    return f" + repr("".join(pieces))
    env: dict[str, Any] = {"_t": _text}
    exec(compile(src, "<triage template>", "exec"), env)  # noqa: S102 - generated from a parsed template
    return env["render"]


class CellDecider:
    """`decide(facts) -> cited`: every decision's value put into `facts`, reused by cell.

    Each decision has its own cache keyed by the cells of the inputs its conditions
    read (a few hundred cells for the reference policy), so a cold stream of varied
    tickets hits after the first few thousand; a key over the whole ticket would be
    the product of them all and almost never repeat.
    """

    def __init__(self, decisions: tuple[DecisionIR, ...], domains: dict[str, Any],
                 engine_rows: Callable[[DecisionIR, dict[str, Any]], list[int]], resolve: Callable[..., Any],
                 limit: int = CACHE_LIMIT):
        self.decisions = decisions
        self.engine_rows = engine_rows
        self.resolve = resolve
        self.limit = limit
        self.caches: list[dict[tuple, tuple]] = [{} for _ in decisions]
        # Named outputs render into a fresh dict per ticket: a cached one would be shared.
        self.renderers = {id(t): t.render if isinstance(t, Compound) else _renderer(t) for d in decisions
                          for t in [r.then for r in d.rows] + [d.default] if isinstance(t, Template)}
        names = {d.name for d in decisions}
        all_domains = dict(domains)
        for d in decisions:  # a decision read by a later one has the domain of its values
            all_domains[d.name] = _decision_domain(d)
        # A field's cell is computed once and shared by every decision reading it, so it is
        # cut at the cut points (and literals) of all of them: one decision's coarser cells
        # would merge inputs another decision tells apart.
        self.cuts: dict[str, set[Any]] = {}
        self.literals: dict[str, Any] = {}
        for d in decisions:
            _, cuts, literals = self._cell_fields(d, names)
            for f, c in cuts.items():
                self.cuts.setdefault(f, set()).update(c)
            for f, lits in literals.items():
                if lits == "exact" or self.literals.get(f) == "exact":
                    self.literals[f] = "exact"
                else:
                    self.literals.setdefault(f, set()).update(lits)
        env: dict[str, Any] = {"_typed": _typed, "_tc": type_class}
        for j in range(len(decisions)):
            env[f"E{j}"] = self.caches[j]
            env[f"M{j}"] = partial(self._miss, j)
        shared: dict[str, str] = {}  # `decide` computes each field's cell once, for every decision
        src = ["def decide(facts):", "    g = facts.get", "    cited = {}"]
        for j in range(len(decisions)):
            src += self._block(j, names, all_domains, shared, "v", env)
        # `decide_given` takes the decisions named in `given` as decided (their values in
        # facts), as a rule test of later decisions does; each block computes its own cells.
        src += ["    return cited", "", "def decide_given(facts, given):", "    g = facts.get", "    cited = {}"]
        for j, d in enumerate(decisions):
            src += [f"    if {d.name!r} in given:", f"        _d{j} = facts[{d.name!r}]", "    else:"]
            src += ["    " + line for line in self._block(j, names, all_domains, {}, f"w{j}_", env)]
        src.append("    return cited")
        self.source = "\n".join(src)
        exec(compile(self.source, "<triage cell decider>", "exec"), env)  # noqa: S102 - generated from the IR
        self.decide: Callable[[dict[str, Any]], dict[str, list[str]]] = env["decide"]
        self.decide_given: Callable[[dict[str, Any], Any], dict[str, list[str]]] = env["decide_given"]

    def _block(self, j: int, names: set[str], all_domains: dict[str, Any], cell_var: dict[str, str],
               prefix: str, env: dict[str, Any]) -> list[str]:
        """The lines deciding decision j: its cell key, the cache look-up, the value."""
        d = self.decisions[j]
        order = {e.name: i for i, e in enumerate(self.decisions)}
        fields = self._cell_fields(d, names)[0]
        cuts, literals = self.cuts, self.literals
        lines: list[str] = []
        for f in fields:
            if f in cell_var:
                continue
            if f in names and self._kind(all_domains[f], literals.get(f)) == "value":
                cell_var[f] = f"_d{order[f]}"  # an earlier decision's value is its own cell
                continue
            var = cell_var[f] = f"{prefix}{len(cell_var)}"
            source = f"_d{order[f]}" if f in names else f"g({f!r})"
            lines += self._cell_lines(var, source, all_domains.get(f), cuts.get(f, ()), literals.get(f), env)
        key = f"({', '.join(cell_var[f] for f in fields)}{',' if len(fields) == 1 else ''})"
        return lines + [f"    k = {key}",
                        f"    e = E{j}.get(k)",
                        "    if e is None:",
                        f"        e = M{j}(facts, k)",
                        f"    _d{j}, r, c{j} = e",
                        "    if r is not None:",
                        f"        _d{j} = r(facts)",
                        f"    facts[{d.name!r}] = _d{j}",
                        f"    cited[{d.name!r}] = c{j}"]

    @staticmethod
    def _cell_fields(d: DecisionIR, names: set[str]) -> tuple[list[str], dict, dict]:
        """The fields a decision's cell is made of, with their cut points and literals.

        Fields compared by a regular expression, and the fields a template reads when
        the hit policy ranks the rendered outputs, count by exact value ("exact").
        """
        cuts: dict[str, set[float]] = {}
        literals: dict[str, Any] = {}
        for row in d.rows:
            for leaf in leaves(row.cond):
                if isinstance(leaf, Cmp):
                    if type_class(leaf.value) == "n":
                        cuts.setdefault(leaf.field, set()).add(leaf.value)
                    elif literals.get(leaf.field) != "exact":
                        literals.setdefault(leaf.field, set()).add((type_class(leaf.value), leaf.value))
                elif isinstance(leaf, (Match, FieldCmp)):
                    # A fact compared with another: every value of either side may matter.
                    for f in leaf_fields(leaf):
                        literals[f] = "exact"
        fields = set(d.inputs)
        if d.hit_policy in ("priority", "output_order") or d.aggregate in ("min", "max"):
            for out in [r.then for r in d.rows] + [d.default]:
                if isinstance(out, Template):
                    for f in out.fields:
                        fields.add(f)
                        literals[f] = "exact"
        return sorted(fields), cuts, literals

    @staticmethod
    def _kind(dom: Any, literals: Any) -> str:
        if literals == "exact":
            return "exact"
        if dom is None or not dom.declared:
            return "any"
        if dom.type == "bool" or (dom.type == "enum" and dom.values and len(dom.values) <= ENUM_LIMIT):
            return "value"  # a boolean or a small enumeration is its own cell
        return "number" if dom.ordered else "literal"

    @classmethod
    def _cell_lines(cls, var: str, source: str, dom: Any, cuts: Any, literals: Any,
                    env: dict[str, Any]) -> list[str]:
        cuts = sorted(cuts)
        lines = [f"    {var} = {source}"]
        kind = cls._kind(dom, literals)
        if kind == "exact":
            lines.append(f"    {var} = _typed({var})")
        elif kind == "any":  # any type: keep the type class, and the literal if compared
            env[f"L_{var}"] = frozenset(literals or ())
            lines.append(f"    t = None if {var} is None else _tc({var})")
            lines.append(f"    {var} = None if t is None else (t, {_number_cell(var, cuts, False)}) if t == 'n' "
                         f"else (t, {var}) if (t, {var}) in L_{var} else (t, '*')")
        elif kind == "number":
            lines.append(f"    {var} = {_number_cell(var, cuts, True)}")
        elif kind == "literal":
            env[f"L_{var}"] = frozenset(v for _, v in (literals or ()))
            lines.append(f"    {var} = {var} if {var} in L_{var} or {var} is None else '*'")
        return lines

    def _miss(self, j: int, facts: dict[str, Any], key: tuple) -> tuple:
        """Decide decision j on durable_rules and store how it came out for this cell."""
        d = self.decisions[j]
        rows = self.engine_rows(d, facts)
        r = self.resolve(d, rows, facts)
        if d.hit_policy in ("first", "unique"):
            then = d.rows[r.rows[0]].then if r.rows else d.default
            render = self.renderers[id(then)] if isinstance(then, Template) else None
            entry = (None if render else then, render, tuple(r.cited))
        else:
            entry = (None, partial(self._general, d, tuple(rows)), tuple(r.cited))
        cache = self.caches[j]
        if len(cache) >= self.limit:
            cache.clear()
        cache[key] = entry
        return entry

    def _general(self, d: DecisionIR, rows: tuple[int, ...], facts: dict[str, Any]) -> Any:
        return self.resolve(d, list(rows), facts).value


def _decision_domain(d: DecisionIR) -> Any:
    from triage.rules.domains import Domain

    values = d.values or ()
    if d.hit_policy in MULTI_HIT:  # a list or an aggregate: any value, keyed by type and cut
        return Domain(d.name, "any", nullable=True, declared=False)
    if values and all(isinstance(v, str) for v in values) and not any(
            isinstance(o, Template) for o in [r.then for r in d.rows] + [d.default]):
        return Domain(d.name, "enum", tuple(values), nullable=True)
    return Domain(d.name, "any", nullable=True, declared=False)
