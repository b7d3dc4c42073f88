"""Loading `*.test.yaml` files, running their cases through `Triage`, measuring row coverage.

Every case goes through the same `Triage` object and the same deciding function
(the rule set's cell cache) as production routing (the rule folder, no model): a
ticket case via `Triage.trace`, a facts case via `RuleSet.decide` on the facts the
router would build, with the case's facts (and decisions) laid over them. Coverage counts, for every decision, each row (and the default) that
decided at least one case.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from triage.errors import RuleEvaluationError, RuleFileError, RuleTestFileError, TriageError
from triage.rules.layout import SCHEDULE_FILE, TEST_PATTERNS
from triage.ruletests.spec import Case, TestFile

DEFAULT_CREATED = "2026-11-23T09:00:00Z"  # a Monday, EMEA on shift
SCHEDULE_FIELDS = ("handoff", "response_due")


@dataclass
class LoadedCase:
    file: Path
    line: int | None
    case: Case
    defaults: dict[str, Any]
    rules_dir: Path

    @property
    def name(self) -> str:
        return self.case.name


@dataclass
class CaseResult:
    case: LoadedCase
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the case could not run (invalid ticket, rules hole)
    decided: dict[str, tuple[Any, list[str]]] = field(default_factory=dict)  # field -> (value, cited)
    reached: set[tuple[str, int | None]] = field(default_factory=set)  # (decision, row index; None = default)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems


# --- finding and loading ------------------------------------------------------------

def find_test_files(path: Path) -> list[Path]:
    """`*.test.yaml` files: the file itself, or every one under a folder."""
    if path.is_file():
        return [path]
    found: set[Path] = set()
    for pattern in TEST_PATTERNS:
        found.update(p for p in path.rglob(pattern) if p.is_file())
    return sorted(found)


def rules_dir_for(test_file: Path, declared: str | None) -> Path:
    """The folder a test file tests: `rules:` relative to it, else the nearest folder above with decision files."""
    from triage.rules.layout import rule_files

    if declared:
        return (test_file.parent / declared).resolve()
    for folder in [test_file.parent, *test_file.parent.parents]:
        try:
            if rule_files(folder):
                return folder
        except OSError:
            continue
    raise RuleTestFileError("no rule folder above this test file; give `rules: <folder>`", file=str(test_file))


def _plain(value: Any) -> Any:
    """YAML timestamps back to ISO strings (unquoted dates are parsed by YAML)."""
    if isinstance(value, datetime):
        v = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_test_file(path: Path, rules_dir: Path | None = None) -> list[LoadedCase]:
    """The cases of one file; a bad file raises `RuleTestFileError` naming file and line."""
    from triage.rules.loader import pydantic_errors
    from triage.rules.yamlio import LineList, load_yaml

    try:
        raw = load_yaml(path)
    except RuleFileError as exc:
        raise RuleTestFileError(exc.reason, file=exc.file, line=exc.line) from None
    if not isinstance(raw, dict):
        raise RuleTestFileError("a rule test file is a mapping with `cases:`", file=str(path),
                                line=getattr(raw, "line", 1))
    try:
        spec = TestFile.model_validate(_plain(raw))
    except ValidationError as exc:
        errs = pydantic_errors(exc, raw, str(path))
        reasons = "; ".join(e.reason for e in errs[:5]) + (f" (and {len(errs) - 5} more)" if len(errs) > 5 else "")
        raise RuleTestFileError(reasons, file=str(path), line=errs[0].line, rule_id=_case_name(raw, exc)) from None
    cases_raw = raw.get("cases")
    lines = cases_raw.item_lines if isinstance(cases_raw, LineList) else [None] * len(spec.cases)
    seen: dict[str, int | None] = {}
    for c, line in zip(spec.cases, lines):
        if c.name in seen:
            raise RuleTestFileError(f"duplicate case name (first at line {seen[c.name]})", file=str(path),
                                    line=line, rule_id=c.name)
        seen[c.name] = line
    folder = rules_dir or rules_dir_for(path, spec.rules)
    return [LoadedCase(path, line, c, dict(spec.defaults or {}), folder) for c, line in zip(spec.cases, lines)]


def _case_name(raw: Any, exc: ValidationError) -> str | None:
    try:
        loc = exc.errors()[0]["loc"]
        if loc[0] == "cases":
            name = raw["cases"][loc[1]].get("name")
            return name if isinstance(name, str) else None
    except (IndexError, KeyError, TypeError, AttributeError):
        pass
    return None


# --- running --------------------------------------------------------------------------

def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`; nested mappings (customer, service) merge key by key."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_case(triage: Any, lc: LoadedCase) -> CaseResult:
    """Run one case through `triage` (a `Triage` built on the case's rule folder, no model)."""
    res = CaseResult(lc)
    t0 = time.perf_counter()
    try:
        if lc.case.ticket is not None:
            _run_ticket(triage, lc, res)
        else:
            _run_facts(triage, lc, res)
    except RuleEvaluationError as exc:  # the rules could not decide: expected, or a failure
        want = lc.case.expect_error
        if want is None or want not in str(exc):
            res.error = str(exc) if want is None else f"expected an error with {want!r}, got: {exc}"
    except TriageError as exc:
        res.error = str(exc)
    else:
        if lc.case.expect_error is not None and res.error is None:
            res.problems.append(f"expected an error with {lc.case.expect_error!r}, but the rules decided")
    res.seconds = time.perf_counter() - t0
    return res


def _ticket(lc: LoadedCase) -> dict[str, Any]:
    t = merge(lc.defaults, lc.case.ticket or {})
    t.setdefault("id", lc.case.name[:512])
    t.setdefault("created_at", DEFAULT_CREATED)
    return t


def _run_ticket(triage: Any, lc: LoadedCase, res: CaseResult) -> None:
    from triage.errors import TicketError

    if triage.schedule is None:
        raise TriageError(f"{triage.ruleset.folder} decides only its own decisions (no {SCHEDULE_FILE}, no "
                          "priority, tier, region, queue): it cannot route a ticket; give `facts` instead")
    ticket = _ticket(lc)
    if ticket.get("category") is None:
        raise TicketError([("category", "rule tests give the category (they never ask the model)")],
                          ticket_id=str(ticket.get("id")))
    traced = triage.trace(ticket)
    decision = traced.decision.to_dict()
    actual = {k: v for k, v in decision.items() if k not in ("rules", "outputs")}
    # every decision of the rule set, also one that is not a decision field (escalation)
    actual.update({n: traced.facts[n] for n in triage.ruleset.decision_names if n not in actual})
    _record(triage, traced.facts, decision["rules"], res)
    _compare(lc, actual, res)


def _run_facts(triage: Any, lc: LoadedCase, res: CaseResult) -> None:
    from triage.rules.domains import suggest
    from triage.ticket import parse_ticket

    rs = triage.ruleset
    given = lc.case.facts or {}
    base = merge(lc.defaults, {"id": lc.case.name[:512]})
    base.setdefault("created_at", DEFAULT_CREATED)
    base.setdefault("category", given.get("category") if isinstance(given.get("category"), str) else "unknown")
    t = parse_ticket(base)
    facts = triage.facts_of(t, base["category"])
    names = set(rs.domains) | set(rs.decision_names)
    problems = []
    facts.update(given)
    rs.derive_facts(facts, t.id)  # a date given as text becomes its integer, as from a ticket
    for k in given:
        v = facts[k]
        if k in rs.decision_names:
            continue
        dom = rs.domains.get(k)
        if dom is None and not k.startswith("extra."):
            problems.append(f"unknown fact {k!r}{suggest(k, names)}")
        elif dom is not None and not dom.contains(v):
            problems.append(f"{k}: {v!r} is outside its domain ({dom.type}"
                            f"{': ' + ', '.join(map(str, dom.values)) if dom.values else ''})")
    bad_expect = [k for k in lc.case.expect.given() if k in SCHEDULE_FIELDS]
    if bad_expect:
        problems.append(f"a facts case tests the rules only; expect {', '.join(bad_expect)} from a ticket case")
    if problems:
        res.error = "; ".join(problems)
        return
    # decisions the case gives are taken as decided: later decisions are tested on their own
    cited = rs.decide(facts, given=frozenset(n for n in rs.decision_names if n in given))
    _record(triage, facts, cited, res)
    _compare(lc, dict(facts), res)


def _record(triage: Any, facts: dict[str, Any], cited: dict[str, list[str]], res: CaseResult) -> None:
    for name, rules in cited.items():
        res.decided[name] = (facts[name], list(rules))
        rows = triage.ruleset.rows_of(name, rules)
        if rows:
            res.reached.update((name, i) for i in rows)
        else:
            res.reached.add((name, None))


def _same(key: str, expected: Any, actual: Any) -> bool:
    if key == "response_due" and isinstance(expected, str) and isinstance(actual, str):
        return _instant(expected) == _instant(actual)
    if key == "handoff" and isinstance(expected, dict) and isinstance(actual, dict):
        return expected.get("to") == actual.get("to") and _same("response_due", expected.get("at"), actual.get("at"))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def _instant(text: str) -> Any:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return t.astimezone(timezone.utc) if t.tzinfo else text
    except ValueError:
        return text


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def _compare(lc: LoadedCase, actual: dict[str, Any], res: CaseResult) -> None:
    for key, expected in lc.case.expect.given().items():
        if key not in actual:
            res.problems.append(f"{key}: no such decision field")
            continue
        got = actual[key]
        if not _same(key, expected, got):
            by = res.decided.get(key)
            why = f" (decided by {', '.join(by[1])})" if by else ""
            res.problems.append(f"{key}: expected {_show(expected)}, got {_show(got)}{why}")
    for key, rule_id in (lc.case.decided_by or {}).items():
        by = res.decided.get(key)
        if by is None:
            res.problems.append(f"decided_by {key}: no such decision")
            continue
        want = rule_id if "/" in rule_id else f"{key}/{rule_id}"
        if want not in by[1]:
            res.problems.append(f"{key}: expected to be decided by {want}, was decided by {', '.join(by[1])}")


# --- coverage ---------------------------------------------------------------------------

@dataclass
class CoverageItem:
    decision: str
    file: str
    line: int | None
    rule_id: str  # or "default"
    index: int | None
    hits: int = 0


def coverage_items(ruleset: Any) -> list[CoverageItem]:
    out = []
    for d in ruleset.decisions:
        for r in d.rows:
            out.append(CoverageItem(d.name, r.file, r.line, r.id, r.index))
        if d.has_default:
            out.append(CoverageItem(d.name, d.file, d.default_line, "default", None))
    return out


@dataclass
class Coverage:
    items: list[CoverageItem]

    @property
    def covered(self) -> int:
        return sum(1 for i in self.items if i.hits)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / len(self.items) if self.items else 100.0

    @property
    def missed(self) -> list[CoverageItem]:
        return [i for i in self.items if not i.hits]


def measure(ruleset: Any, results: Iterable[CaseResult]) -> Coverage:
    items = coverage_items(ruleset)
    index = {(i.decision, i.index): i for i in items}
    for r in results:
        for key in r.reached:
            if key in index:
                index[key].hits += 1
    return Coverage(items)


# --- a whole run -------------------------------------------------------------------------

@dataclass
class Run:
    results: list[CaseResult] = field(default_factory=list)
    file_errors: list[RuleFileError] = field(default_factory=list)
    coverage: dict[Path, Coverage] = field(default_factory=dict)  # per rule folder

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed + len(self.file_errors)


class RulesOnly:
    """A rule folder that decides only decisions of its own (a DMN table, say): no schedule,
    none of the routing decisions. `Triage` cannot route with it, but facts cases test it
    on the same engine; a ticket case is refused with the reason."""

    schedule = None

    def __init__(self, ruleset: Any):
        self.ruleset = ruleset
        try:
            ruleset.engine  # durable_rules' limits refuse a rule set here, as `Triage` does
        except RuleFileError as exc:
            from triage.errors import RuleSetErrors

            raise RuleSetErrors([exc]) from None

    def facts_of(self, ticket: Any, category: str) -> dict[str, Any]:
        """A ticket's facts as `Triage.facts_of` gives them, without a schedule (no shift)."""
        from triage.facts import add_category, ticket_facts

        facts = ticket_facts(ticket, self.ruleset.extra_fields)
        facts["shift_region"] = None
        return add_category(facts, category, None, "given")

    def close(self) -> None:
        self.ruleset.close()


class TriagePool:
    """One `Triage` per rule folder (no model), built on first use and closed at the end."""

    def __init__(self) -> None:
        self._by_dir: dict[Path, Any] = {}

    def get(self, rules_dir: Path) -> Any:
        key = rules_dir.resolve()
        if key not in self._by_dir:
            from triage.analysis.checker import decides_own_only
            from triage.facts import load_rules
            from triage.router import Triage

            rs = load_rules(rules_dir)
            self._by_dir[key] = RulesOnly(rs) if decides_own_only(rs) else Triage(rules=rs, model=False)
        return self._by_dir[key]

    def close(self) -> None:
        for t in self._by_dir.values():
            t.close()
        self._by_dir.clear()


def run_paths(files: list[Path], rules_dir: Path | None, pool: TriagePool) -> Run:
    """Run every case of `files`; rule-folder errors propagate as `RuleSetErrors`."""
    run = Run()
    for path in files:
        try:
            cases = load_test_file(path, rules_dir)
        except RuleFileError as exc:
            run.file_errors.append(exc)
            continue
        for lc in cases:
            run.results.append(run_case(pool.get(lc.rules_dir), lc))
    folders = {lc.case.rules_dir.resolve() for lc in run.results}
    for folder in sorted(folders):
        run.coverage[folder] = measure(pool.get(folder).ruleset,
                                       [r for r in run.results if r.case.rules_dir.resolve() == folder])
    return run
