"""The common ticket read straight into its fact values, for the batch hot path.

Validating a ticket with pydantic and then reading its facts costs more than deciding
it once the rules are cached by cell. A ticket as JSON sends it (exact types, an ISO
time with `Z` or `+HH:MM`, known enum values, text that is Unicode) is checked here and
turned into its fact values in one pass; anything else, valid or not, gives None and
takes the pydantic path, which stays the definition of a valid ticket and of its errors.

The checks are not written by hand: one straight-line function is generated from
`facts.TICKET_FACTS` (the `Ticket` model's schema), so a field added to the model is
checked here too. `tests/test_fastticket.py` holds the two readers equal under
hypothesis: whenever `read_fast` accepts, pydantic accepts too with the same facts.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

from triage.facts import TICKET_FACTS, TICKET_OBJECTS, extra_facts
from triage.ticket import MAX_CREATED, MIN_CREATED, SURROGATE, lone_surrogate

# ISO times that Python's `fromisoformat` and pydantic read alike (the tests hold them to it).
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
                  r"(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)")
_UTC = timezone.utc


class FastTicket(NamedTuple):
    """What the hot path needs of a valid ticket: `values` in `TICKET_FACTS` order and
    `extras` its flattened extra fields, for `facts.make_facts`."""

    id: str
    created_at: datetime
    category: str | None
    subject: str | None
    body: str | None
    values: tuple[Any, ...]
    extras: dict[str, Any]

    @property
    def text(self) -> str:
        return f"{self.subject or ''}\n{self.body or ''}"


def _utc(v: Any) -> datetime | None:
    """`created_at` in UTC when it is an ISO time pydantic reads the same way, else None."""
    if type(v) is str:
        if _ISO.fullmatch(v) is None:
            return None
        try:
            v = datetime.fromisoformat(v)
        except ValueError:  # e.g. 31 February: pydantic words the error
            return None
    elif type(v) is not datetime or v.utcoffset() is None:
        return None
    try:
        v = v.astimezone(_UTC)
    except OverflowError:
        return None
    return v if MIN_CREATED <= v < MAX_CREATED else None


def _check(var: str, f: Any, env: dict[str, Any]) -> list[str]:
    """Lines that normalise `var` as the model does and return None unless it is of `f`'s type."""
    lines = []
    if f.null_means is not None:
        lines.append(f"    if {var} is None: {var} = {f.null_means!r}")
    if f.type == "enum":
        env[f"E_{var}"] = frozenset(f.values)
        ok = f"(type({var}) is str and {var} in E_{var})"
    elif f.type == "int":
        ok = f"(type({var}) is int and {f.min!r} <= {var} <= {f.max!r})" if f.min is not None and f.max is not None \
            else f"type({var}) is int"
    elif f.type == "bool":
        ok = f"type({var}) is bool"
    else:
        ok = f"type({var}) is str"
        if f.min_length is not None or f.max_length is not None:
            ok = f"({ok} and {f.min_length or 0} <= len({var}) <= {f.max_length or 10**9})"
    if f.nullable:
        ok = f"({var} is None or {ok})"
    lines.append(f"    if not {ok}: return None")
    if f.blank_is_null:
        lines.append(f"    if {var} == '': {var} = None")
    return lines


def _generate() -> tuple[Callable[..., Any], str]:
    """The reader: one straight-line function over the ticket model's facts."""
    env: dict[str, Any] = {"_utc": _utc, "_EMPTY": {}, "FastTicket": FastTicket, "SURROGATE": SURROGATE,
                           "lone_surrogate": lone_surrogate, "extra_facts": extra_facts,
                           "TOP": TICKET_OBJECTS[()]}
    lines = ["def read_fast(data, wanted=frozenset()):",
             "    g = data.get",
             "    tid, subject, body, category = g('id'), g('subject'), g('body'), g('category')",
             "    if (type(tid) is not str or not 0 < len(tid) <= 512",
             "            or not (subject is None or type(subject) is str) or not (body is None or type(body) is str)",
             "            or not (category is None or type(category) is str)): return None",
             "    if category is None and not (subject and not subject.isspace())"
             " and not (body and not body.isspace()): return None",
             "    created = _utc(g('created_at'))",
             "    if created is None: return None"]
    getters = {(): "g"}
    for path, names in TICKET_OBJECTS.items():
        if not path:
            continue
        obj = "o_" + "_".join(path)
        env[f"K_{obj}"] = names
        lines += [f"    {obj} = {getters[path[:-1]]}({path[-1]!r})",
                  f"    if {obj} is None: {obj} = _EMPTY",
                  f"    if type({obj}) is not dict or not {obj}.keys() <= K_{obj}: return None"]
        getters[path] = f"{obj}.get"
    texts = ["tid", "(subject or '')", "(body or '')", "(category or '')"]
    for i, f in enumerate(TICKET_FACTS):
        var = f"v{i}"
        lines.append(f"    {var} = {getters[f.path[:-1]]}({f.path[-1]!r}, {f.default!r})")
        lines += _check(var, f, env)
        if f.type == "string":
            texts.append(f"({var} or '')")
    values = ", ".join(f"v{i}" for i in range(len(TICKET_FACTS)))
    lines += [f"    plain = {' + '.join(texts)}",
              "    if not plain.isascii() and SURROGATE.search(plain): return None",
              "    extras = _EMPTY",
              "    if not data.keys() <= TOP:",
              "        extra = {k: v for k, v in data.items() if k not in TOP}",
              "        if any(type(k) is not str for k in extra) or lone_surrogate(extra) is not None: return None",
              "        extras = extra_facts(extra, wanted)",
              f"    return FastTicket(tid, created, category, subject, body, ({values},), extras)"]
    source = "\n".join(lines)
    exec(compile(source, "<triage fast reader>", "exec"), env)  # noqa: S102 - generated from the ticket schema
    return env["read_fast"], source


read_fast, SOURCE = _generate()
read_fast.__doc__ = """`data` read as a valid ticket with its fact values, or None when pydantic must decide.

`wanted`: the extra fields the rule set reads (see `facts.extra_facts`)."""
