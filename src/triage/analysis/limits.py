"""durable_rules' hard limits, checked before a rule file gets near them.

Measured on durable_rules 2.0.28 (see the design notes):
- more than 512 distinct conditions below one node of its network hangs
  `create_ruleset` (the next-node hash table has 512 buckets). Each row compiles to
  `_t == 1` followed by its condition; `any`/lists expand into alternatives (disjunctive
  normal form) whose tests hang side by side, so the width of a level is the number
  of distinct next tests after a common prefix;
- more than 64 alternatives matching one message fails the assert (error 303): every
  alternative of every row that holds counts, so a row whose `any` holds twice
  counts twice;
- more than 255 properties in one message is refused: a message carries `id`, `sid`,
  `_t` and one key per input the decision reads.
The checker warns at 80 % of each limit and reports an error beyond it.
"""
from __future__ import annotations

from itertools import product
from typing import Any

from triage.analysis.explore import Budget, BudgetExceeded, max_holding
from triage.analysis.findings import Finding
from triage.analysis.space import FieldSpace
from triage.rules.ir import And, Cond, DecisionIR, Or, to_nnf

LEVEL_LIMIT = 512
MATCH_LIMIT = 64
PROPERTY_LIMIT = 255
MESSAGE_OVERHEAD = 3  # id, sid, _t
WARN_AT = 0.8
TERM_CAP = 4096  # alternatives of one row beyond which we stop expanding


def dnf(c: Cond) -> list[tuple[Cond, ...]] | None:
    """The alternatives of a condition in negation normal form (None: more than TERM_CAP)."""
    if isinstance(c, Or):
        out: list[tuple[Cond, ...]] = []
        for i in c.items:
            sub = dnf(i)
            if sub is None:
                return None
            out += sub
            if len(out) > TERM_CAP:
                return None
        return out
    if isinstance(c, And):
        acc: list[tuple[Cond, ...]] = [()]
        for i in c.items:
            sub = dnf(i)
            if sub is None or len(acc) * len(sub) > TERM_CAP:
                return None
            acc = [a + b for a, b in product(acc, sub)]
        return acc
    return [(c,)]


def widest_level(terms: list[tuple[Cond, ...]]) -> int:
    """The most distinct next tests below one node of the network the terms build."""
    root: dict[Cond, Any] = {}
    for t in terms:
        node = root
        for leaf in t:
            node = node.setdefault(leaf, {})
    widest = 0
    stack = [root]
    while stack:
        node = stack.pop()
        widest = max(widest, len(node))
        stack.extend(node.values())
    return widest


def check_limits(d: DecisionIR, spaces: dict[str, FieldSpace], budget: Budget) -> list[Finding]:
    out: list[Finding] = []

    def report(limit: int, measured: int, what: str, consequence: str, code: str) -> None:
        if measured > limit:
            out.append(Finding("error", code, f"{what} is {measured}, beyond durable_rules' limit of {limit}: "
                               f"{consequence}", file=d.file))
        elif measured >= WARN_AT * limit:
            out.append(Finding("warning", code, f"{what} is {measured}, near durable_rules' limit of {limit} "
                               f"({consequence} beyond it)", file=d.file))

    props = MESSAGE_OVERHEAD + len(d.inputs)
    report(PROPERTY_LIMIT, props, f"a message for {d.name!r} carries {len(d.inputs)} inputs; its property count",
           "the engine refuses the message", "limit-properties")

    terms_by_row = []
    for r in d.rows:
        t = dnf(to_nnf(r.cond))
        if t is None:
            out.append(Finding("warning", "limit-alternatives", f"the condition expands into more than {TERM_CAP} "
                               "alternatives in the engine; simplify it", file=d.file, line=r.line, rule_id=r.id))
            return out
        terms_by_row.append(t)
    all_terms = [t for ts in terms_by_row for t in ts]
    report(LEVEL_LIMIT, widest_level(all_terms), f"the widest level of {d.name!r}'s condition network "
           "(distinct tests after a common prefix)", "create_ruleset hangs", "limit-conditions")

    if len(all_terms) >= WARN_AT * MATCH_LIMIT:
        try:
            n, assign = max_holding([And(t) for t in all_terms], spaces, budget)
        except BudgetExceeded:
            out.append(Finding("warning", "limit-matches", f"{len(all_terms)} alternatives in {d.name!r}: too "
                               "many cells to prove that no input matches more than "
                               f"{MATCH_LIMIT}", file=d.file))
            return out
        before = len(out)
        report(MATCH_LIMIT, n, f"the number of alternatives matching one input of {d.name!r}",
               "the engine fails on such input", "limit-matches")
        for f in out[before:]:
            f.example = assign
    return out
