"""A rule folder to a validated `RuleSet`, all or nothing.

Every problem in every file is collected (file, line, rule id, reason) and raised
together as `RuleSetErrors`; a rule set is never partially loaded. Decisions that
read other decisions are put in dependency order; a cycle is refused.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import ValidationError

from triage.errors import RuleFileError, RuleSetErrors
from triage.rules.domains import TEMPORAL, Domain, suggest, temporal_value, type_class, undeclared
from triage.rules.durable_engine import MAX_RULES
from triage.rules.ir import Compound, ConditionParser, DecisionIR, Row, Template, parse_output
from triage.rules.layout import FACTS_FILE, decision_entries, deciding_files
from triage.rules.spec import DecisionFile, FactsFile
from triage.rules.yamlio import LineDict, line_at, load_yaml

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

def ruleset_version(folder: Path) -> str:
    """Content hash of every file that decides (decision files, facts, schedule, correlation)."""
    h = hashlib.sha256()
    for name in deciding_files(folder):
        data = (folder / name).read_bytes()
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + h.hexdigest()


def pydantic_errors(exc: ValidationError, raw: Any, file: str) -> list[RuleFileError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        rule_id = None
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            try:
                rule_id = raw["rules"][loc[1]].get("id")
            except (AttributeError, IndexError, KeyError, TypeError):
                pass
        path = ".".join(str(p) for p in loc) or "<file>"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {str(loc[-1])!r}"
        out.append(RuleFileError(f"{path}: {msg}", file=file, line=line_at(raw, loc),
                                 rule_id=rule_id if isinstance(rule_id, str) else None))
    return out


def load_domains(folder: Path, standard: Mapping[str, Domain], errors: list[RuleFileError]) -> dict[str, Domain]:
    """The standard fact domains (the caller's: `triage.facts`), narrowed or extended by facts.yaml."""
    domains = dict(standard)
    path = folder / FACTS_FILE
    if not path.exists():
        return domains
    try:
        raw = load_yaml(path)
        spec = FactsFile.model_validate(raw if raw is not None else {})
    except RuleFileError as exc:
        errors.append(exc)
        return domains
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, raw, str(path)))
        return domains
    for name, d in spec.facts.items():
        line = line_at(raw, ("facts", name))
        own = name not in standard and not name.startswith("extra.")
        if own and not _IDENT.match(name):
            errors.append(RuleFileError(
                f"{name!r} is not a fact name (letters, digits, _; a ticket's own fields may also be "
                "declared as extra.<name>)", file=str(path), line=line))
            continue
        if d.from_ is not None and not own:
            errors.append(RuleFileError(f"{name}: `from` is for facts of the rule set's own name",
                                        file=str(path), line=line))
            continue
        if d.type == "enum" and not d.values:
            errors.append(RuleFileError(f"{name}: an enum needs values", file=str(path), line=line))
            continue
        base = standard.get(name)
        if base is not None and set(Domain(name, d.type).type_classes) != set(base.type_classes):
            errors.append(RuleFileError(f"{name}: the ticket gives {base.type} values, not {d.type}",
                                        file=str(path), line=line))
            continue
        try:
            lo, hi = (None if b is None else temporal_value(d.type, b) if d.type in TEMPORAL else b
                      for b in (d.min, d.max))
            if any(isinstance(b, (str, date)) for b in (lo, hi)):
                raise ValueError(f"min and max of a {d.type} are numbers")
        except ValueError as exc:
            errors.append(RuleFileError(f"{name}: {exc}", file=str(path), line=line))
            continue
        domains[name] = Domain(name, d.type, tuple(d.values) if d.values else None, lo, hi,
                               d.nullable or (base.nullable if base else False),
                               description=d.description,
                               source=(d.from_ or f"extra.{name}") if own else None)
    return domains


class _Names:
    """Field lookup for conditions: facts, decisions, and undeclared extras."""

    def __init__(self, domains: dict[str, Domain], decisions: dict[str, Domain]):
        self.domains = domains
        self.decisions = decisions

    def __call__(self, name: str) -> Domain | None:
        if name in self.decisions:
            return self.decisions[name]
        if name in self.domains:
            return self.domains[name]
        if name.startswith("extra.") and len(name) > 6:
            return undeclared(name)
        return None

    def known(self) -> list[str]:
        return sorted(set(self.domains) | set(self.decisions))


def decision_domain(spec: DecisionFile) -> Domain:
    if not isinstance(spec.values, list) or any(isinstance(r.then, dict) for r in spec.rules):
        pass  # several named outputs: a mapping, which no condition compares
    elif spec.values and all(isinstance(v, str) for v in spec.values):
        return Domain(spec.decision, "enum", tuple(spec.values), nullable=True)
    elif spec.values and all(type_class(v) == "n" for v in spec.values):
        return Domain(spec.decision, "float", nullable=True)
    return Domain(spec.decision, "any", nullable=True, declared=False)


def load_parts(folder: Path, standard: Mapping[str, Domain]) -> tuple[tuple[DecisionIR, ...], dict[str, Domain], str]:
    """Every rule file in `folder` validated and compiled: (decisions in dependency order,
    fact domains, version); or `RuleSetErrors` with every problem found."""
    if not folder.is_dir():
        raise RuleSetErrors([RuleFileError("not a folder of rule files", file=str(folder))])
    errors: list[RuleFileError] = []
    domains = load_domains(folder, standard, errors)
    specs: list[tuple[Path, Any, DecisionFile]] = []
    try:
        files = decision_entries(folder)
    except OSError as exc:
        raise RuleSetErrors([RuleFileError(f"cannot list: {exc.strerror or exc}", file=str(folder))]) from None
    if not files:
        errors.append(RuleFileError("no decision files (*.yaml with a `decision:` key)", file=str(folder)))
    for path in files:
        try:
            raw = load_yaml(path)
        except RuleFileError as exc:
            errors.append(exc)
            continue
        if raw is None:
            errors.append(RuleFileError("empty file", file=str(path)))
            continue
        if not isinstance(raw, dict):
            errors.append(RuleFileError("a rule file must be a mapping with `decision:`, `rules:`",
                                        file=str(path), line=getattr(raw, "line", 1)))
            continue
        rows = raw.get("rules")
        if isinstance(rows, list) and len(rows) > MAX_RULES:
            errors.append(RuleFileError(f"{len(rows)} rules; durable_rules accepts at most {MAX_RULES} in "
                                        "one decision", file=str(path), line=line_at(raw, ("rules",))))
            continue
        try:
            specs.append((path, raw, DecisionFile.model_validate(raw)))
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, raw, str(path)))

    decision_domains: dict[str, Domain] = {}
    seen_files: dict[str, Path] = {}
    for path, raw, spec in specs:
        if spec.decision in seen_files:
            errors.append(RuleFileError(f"decision {spec.decision!r} is also set by {seen_files[spec.decision]}",
                                        file=str(path), line=line_at(raw, ("decision",))))
            continue
        if spec.decision in domains:
            errors.append(RuleFileError(f"{spec.decision!r} is an input fact; a decision needs another name",
                                        file=str(path), line=line_at(raw, ("decision",))))
            continue
        seen_files[spec.decision] = path
        decision_domains[spec.decision] = decision_domain(spec)

    names = _Names(domains, decision_domains)
    decisions: dict[str, DecisionIR] = {}
    for path, raw, spec in specs:
        if seen_files.get(spec.decision) != path:
            continue
        ir = _compile_file(path, raw, spec, names, errors)
        if ir is not None:
            decisions[spec.decision] = ir
    order = _dependency_order(decisions, seen_files, errors)
    if errors:
        raise RuleSetErrors(errors)
    return tuple(decisions[n] for n in order), domains, ruleset_version(folder)


def _compile_file(path: Path, raw: Any, spec: DecisionFile, names: _Names,
                  errors: list[RuleFileError]) -> DecisionIR | None:
    file = str(path)
    n_before = len(errors)
    rows: list[Row] = []
    ids: dict[str, int] = {}
    fields: set[str] = set()
    template_fields: set[str] = set()
    raw_rules = raw.get("rules") or []
    compound = isinstance(spec.values, dict) or any(isinstance(r.then, dict) for r in spec.rules)
    output_names: list[tuple[str, ...]] = []  # the first compound output's names, all must match

    def check_output(value: Any, line: int | None, rule_id: str | None,
                     values: Any = spec.values, what: str = "output", inner: bool = False) -> Any:
        def err(reason: str) -> RuleFileError:
            return RuleFileError(reason, file=file, line=line, rule_id=rule_id)
        if compound and not inner and not isinstance(value, dict) and value is not None:
            errors.append(err(f"{what} {value!r}: this decision has several named outputs; give a mapping "
                              "such as {status: Approved, rate: Basic}"))
            return None
        if isinstance(value, dict) and not inner:
            return check_compound(value, line, rule_id, err)
        if isinstance(value, date):  # YAML's unquoted 2026-12-24: the output is its ISO text
            value = _plain_date(value)
        try:
            out = parse_output(value, err)
        except RuleFileError as exc:
            errors.append(exc)
            return None
        if isinstance(out, Template):
            for f in out.fields:
                if names(f) is None:
                    errors.append(err(f"template {out.text!r}: unknown field {f!r}{suggest(f, names.known())}"))
                elif f == spec.decision:
                    errors.append(err(f"template {out.text!r} refers to its own decision"))
                template_fields.add(f)
        elif values is not None and out not in values and out is not None:
            # null (`then: null`, `default: null`) is "no value", whatever `values` lists.
            errors.append(err(f"{what} {out!r} is not among values {list(values)}{suggest(out, values)}"))
        return out

    def check_compound(value: dict[str, Any], line: int | None, rule_id: str | None,
                       err: Callable[[str], RuleFileError]) -> Compound | None:
        names_ = tuple(value)
        if not output_names:
            output_names.append(names_)
        bad = [k for k in names_ if not isinstance(k, str) or not _IDENT.match(k)]
        if bad:
            errors.append(err(f"{bad[0]!r} is not an output name (letters, digits, _)"))
            return None
        if names_ != output_names[0]:
            errors.append(err(f"outputs {list(names_)} differ from the first row's {list(output_names[0])} "
                              "(every row gives the same outputs, in the same order)"))
            return None
        per = spec.values if isinstance(spec.values, dict) else {}
        items = tuple((k, check_output(v, line, rule_id, per.get(k), f"output {k}:", inner=True))
                      for k, v in value.items())
        text = "{" + ", ".join(f"{k}: {v.text if isinstance(v, Template) else v}" for k, v in items) + "}"
        return Compound(text, (), items)

    for i, row in enumerate(spec.rules):
        rraw = raw_rules[i]
        line = rraw.line if isinstance(rraw, LineDict) else None
        if row.id in ids:
            errors.append(RuleFileError(f"duplicate rule id (first at row {ids[row.id] + 1})",
                                        file=file, line=line, rule_id=row.id))
        ids.setdefault(row.id, i)
        parser = ConditionParser(names, file, row.id, row.unanalysable)
        try:
            cond = parser.parse(rraw.get("when"), line_at(rraw, ("when",)) or line)
        except RuleFileError as exc:
            errors.append(exc)
            continue
        if spec.decision in parser.fields:
            errors.append(RuleFileError("a condition reads its own decision", file=file, line=line,
                                        rule_id=row.id))
        fields |= parser.fields
        then = check_output(row.then, line_at(rraw, ("then",)) or line, row.id)
        rows.append(Row(row.id, i, cond, then, file, line, row.description, row.unanalysable))
    has_default = "default" in raw
    default = check_output(spec.default, line_at(raw, ("default",)), "default") if has_default else None
    if spec.hit_policy in ("priority", "output_order") and not spec.values:
        errors.append(RuleFileError(f"hit policy `{spec.hit_policy}` needs `values` (their order ranks the "
                                    "outputs)", file=file, line=line_at(raw, ("hit_policy",))))
    if spec.aggregate and spec.hit_policy != "collect":
        errors.append(RuleFileError("`aggregate` applies only to hit policy `collect`",
                                    file=file, line=line_at(raw, ("aggregate",))))
    if len(errors) > n_before:
        return None
    return DecisionIR(
        name=spec.decision, file=file, hit_policy=spec.hit_policy, rows=tuple(rows),
        has_default=has_default, default=default, default_line=line_at(raw, ("default",)) if has_default else None,
        values=tuple(spec.values) if isinstance(spec.values, list) else None, aggregate=spec.aggregate,
        output_values=tuple((k, tuple(v)) for k, v in spec.values.items()) if isinstance(spec.values, dict) else None,
        inputs=frozenset(fields), template_fields=frozenset(template_fields))


def _plain_date(value: date) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def depends_on(d: DecisionIR, decision_names: set[str]) -> set[str]:
    return {f for f in d.inputs | d.template_fields if f in decision_names}


def _dependency_order(decisions: dict[str, DecisionIR], files: dict[str, Path],
                      errors: list[RuleFileError]) -> list[str]:
    """Topological order, stable by file name; a cycle is reported with its path."""
    names = set(decisions)
    deps = {n: depends_on(d, names) for n, d in decisions.items()}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = stack[stack.index(n):] + [n]
            line, rule_id = _first_reader(decisions[n], cycle[1])
            errors.append(RuleFileError(f"decision cycle: {' -> '.join(cycle)}", file=str(files[n]),
                                        line=line, rule_id=rule_id))
            return
        state[n] = 1
        for m in sorted(deps[n]):
            visit(m, stack + [n])
        state[n] = 2
        order.append(n)

    for n in sorted(decisions, key=lambda n: str(files[n])):
        visit(n, [])
    return order


def _first_reader(d: DecisionIR, name: str) -> tuple[int | None, str | None]:
    """The line and id of the first row of `d` that reads decision `name` (or its default)."""
    from triage.rules.interpreter import leaves

    for row in d.rows:
        if any(getattr(leaf, "field", None) == name for leaf in leaves(row.cond)) or (
                isinstance(row.then, Template) and name in row.then.fields):
            return row.line, row.id
    if isinstance(d.default, Template) and name in d.default.fields:
        return d.default_line, "default"
    return None, None
