"""The decision: what `route` returns and what a ticketing system stores.

This is the one definition of the decision's fields (the contract of
`shared/formats.md`, in its order). Everything else derives from it: the JSON a
decision writes, the flat columns of CSV and Parquet outputs (`columns`, `flatten`:
nested fields with a dot, a user's own decisions as `outputs.<name>`), the table
`triage route --format table` prints, the fields `triage diff` compares and the counts
a batch summary keeps. Each field's `metadata` says where it appears beyond the JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Iterable

import orjson

SUMMARY = "summary"  # counted per value in batch summaries
DIFF = "diff"  # compared by `triage diff`
TABLE = "table"  # the column header in `triage route --format table`
JSON_TEXT = "json_text"  # a structured value kept whole as JSON text in CSV and Parquet
TIME = "time"  # an instant: diff counts its changes, not its values
CASE = "case"  # set only when a case is decided at a time `now` (`sweep`): absent from `route`'s JSON
NESTED = "nested"  # the dataclass of a field whose value is an object (flattened with dots)


def _meta(*, summary: bool = False, diff: bool = False, table: str | None = None,
          json_text: bool = False, time: bool = False, case: bool = False, nested: type | None = None
          ) -> dict[str, Any]:
    return {SUMMARY: summary, DIFF: diff, TABLE: table, JSON_TEXT: json_text, TIME: time, CASE: case,
            NESTED: nested}


@dataclass(frozen=True, slots=True)
class Handoff:
    """Where a P1/P2 case goes when the current shift ends."""

    at: str = field(metadata={TIME: True})
    to: str = field(metadata={})


@dataclass(frozen=True, slots=True)
class Clock:
    """One SLA clock of a case at `as_of` (reference policy, "Clocks at `now`")."""

    due: str | None = field(metadata={TIME: True})
    used_pct: int = field(metadata={})
    met: bool = field(metadata={SUMMARY: True})
    breached: bool = field(metadata={SUMMARY: True, DIFF: True})
    at_risk: bool = field(metadata={SUMMARY: True, DIFF: True})


@dataclass(frozen=True, slots=True)
class ResolutionClock(Clock):
    """The resolution clock, which pauses while the case is pending the customer (`due`
    is then null)."""

    paused: bool = field(default=False, metadata={SUMMARY: True, DIFF: True})


@dataclass(frozen=True, slots=True)
class Sla:
    """Both clocks of a case at `as_of`."""

    response: Clock = field(metadata={NESTED: Clock})
    resolution: ResolutionClock = field(metadata={NESTED: ResolutionClock})


@dataclass(frozen=True, slots=True)
class Decision:
    """A complete, explained routing decision for one ticket."""

    ticket_id: str = field(metadata=_meta(table="ticket"))
    category: str = field(metadata=_meta(summary=True, diff=True, table="category"))
    category_source: str = field(metadata=_meta())  # "model" or "given"
    confidence: float | None = field(metadata=_meta(table="conf"))
    needs_review: bool = field(metadata=_meta(diff=True))
    # The text's language (en, de, ... or other): identified where the model reads the
    # text, or a rule reads `language`; null otherwise.
    language: str | None = field(metadata=_meta(summary=True, diff=True, table="lang"))
    priority: str = field(metadata=_meta(summary=True, diff=True, table="prio"))
    tier: str = field(metadata=_meta(summary=True, diff=True, table="tier"))
    region: str = field(metadata=_meta(summary=True, diff=True, table="region"))
    queue: str = field(metadata=_meta(summary=True, diff=True, table="queue"))
    handoff: Handoff | None = field(metadata=_meta(diff=True, table="hand-over", nested=Handoff))
    third_party: str | None = field(metadata=_meta(summary=True, diff=True, table="third party"))
    response_due: str = field(metadata=_meta(diff=True, table="response due", time=True))
    resolution_due: str | None = field(metadata=_meta(diff=True, time=True))  # null while paused
    incident_id: str | None = field(metadata=_meta())
    rules: dict[str, list[str]] = field(metadata=_meta(json_text=True, table="decided by"))
    ruleset_version: str = field(metadata=_meta())
    model_version: str | None = field(metadata=_meta())
    # Outputs of a user's own decision files (absent from the JSON when there are none).
    outputs: dict[str, Any] | None = field(default=None, metadata=_meta(summary=True, diff=True))
    # A case decided at a time `now` (`Triage.sweep`): when, its clocks then, the ladder's step.
    as_of: str | None = field(default=None, metadata=_meta(case=True, time=True))
    sla: Sla | None = field(default=None, metadata=_meta(case=True, nested=Sla))
    escalated_to: str | None = field(default=None, metadata=_meta(case=True, summary=True, diff=True))
    escalation_level: int | None = field(default=None, metadata=_meta(case=True, diff=True))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Decision":
        """From a decision's JSON object (the router's own, or one read back from a file)."""
        return _build(cls, {**d, "rules": {k: list(v) for k, v in d["rules"].items()}})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `shared/formats.md`, in its field order; `outputs` only with
        decisions of the rule set's own, the case fields only for a case (`as_of` set)."""
        d = plain(self)
        if not self.outputs:
            del d["outputs"]
        if self.as_of is None:
            for name in _CASE_FIELDS:
                del d[name]
        return d

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


FIELDS = fields(Decision)
_CASE_FIELDS = tuple(f.name for f in FIELDS if f.metadata[CASE])


@cache
def _layout(cls: type) -> tuple[tuple[str, type | None], ...]:
    """(field name, dataclass of its nested object or None) of a contract dataclass."""
    return tuple((f.name, f.metadata.get(NESTED)) for f in fields(cls))


def plain(obj: Any) -> dict[str, Any]:
    """A contract dataclass as its JSON object (nested ones as objects, field order kept)."""
    out = {}
    for name, nested in _layout(type(obj)):
        v = getattr(obj, name)
        out[name] = plain(v) if nested is not None and v is not None else v
    return out


def _build(cls: type, d: dict[str, Any]) -> Any:
    """A contract dataclass from its JSON object (nested objects built too)."""
    kw = {}
    for name, nested in _layout(cls):
        if name in d:
            v = d[name]
            kw[name] = _build(nested, v) if nested is not None and v is not None else v
    return cls(**kw)


def _column_meta(cls: type, prefix: str, inherited: dict[str, Any], own: Iterable[str],
                 case: bool) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for f in fields(cls):
        meta = {**inherited, **{k: v for k, v in f.metadata.items() if v}}
        if f.metadata.get(CASE) and not case:
            continue
        if f.name == "outputs" and cls is Decision:
            out += [(f"outputs.{n}", meta) for n in own]
        elif f.metadata.get(NESTED):
            out += _column_meta(f.metadata[NESTED], f"{prefix}{f.name}.", meta, own, case)
        else:
            out.append((prefix + f.name, meta))
    return out


def column_meta(own: Iterable[str] = (), case: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """Every flat column with its metadata (a nested field's own over its parent's);
    `own`: the rule set's own decisions, each an `outputs.<name>` column; `case`: with the
    fields of a case decided at `now` (`sweep`)."""
    return _column_meta(Decision, "", {}, list(own), case)


def columns(own: Iterable[str] = (), case: bool = False) -> list[str]:
    """The flat column names of a decision in CSV and Parquet."""
    return [c for c, _ in column_meta(own, case)]


def flatten(d: dict[str, Any]) -> dict[str, Any]:
    """A decision's JSON object as one flat row keyed by `columns`; structured values
    (the cited rules, a list a collect decision gives) become JSON text."""
    row: dict[str, Any] = {}
    _flatten(Decision, d, "", row)
    return row


def _flatten(cls: type, d: dict[str, Any] | None, prefix: str, row: dict[str, Any]) -> None:
    for f in fields(cls):
        v = None if d is None else d.get(f.name)
        if f.name == "outputs" and cls is Decision:
            for name, value in (v or {}).items():
                row[f"outputs.{name}"] = _scalar(value)
        elif f.metadata.get(NESTED):
            if v is not None or not f.metadata.get(CASE):
                _flatten(f.metadata[NESTED], v, f"{prefix}{f.name}.", row)
        elif f.metadata.get(JSON_TEXT):
            row[prefix + f.name] = None if v is None else orjson.dumps(v).decode()
        elif not (f.metadata.get(CASE) and d is not None and f.name not in d):
            row[prefix + f.name] = v


def _scalar(v: Any) -> Any:
    return orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v


def value_at(d: dict[str, Any], column: str) -> Any:
    """A flat column's value in a decision's JSON object (`handoff.to`, `outputs.x`,
    `sla.resolution.breached`), as a hashable scalar (a list becomes its JSON text)."""
    v: Any = d
    for part in column.split(".") if not column.startswith("outputs.") else ("outputs", column[8:]):
        v = v.get(part) if isinstance(v, dict) else None
    return _scalar(v)


def marked(kind: str, own: Iterable[str] = (), case: bool = False) -> list[str]:
    """The flat columns marked `kind` (SUMMARY, DIFF, TIME, ...); a user's own decisions
    are marked as `outputs` is."""
    return [c for c, m in column_meta(own, case) if m.get(kind)]
