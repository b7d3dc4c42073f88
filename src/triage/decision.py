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
from typing import Any, Iterable

import orjson

SUMMARY = "summary"  # counted per value in batch summaries
DIFF = "diff"  # compared by `triage diff`
TABLE = "table"  # the column header in `triage route --format table`
JSON_TEXT = "json_text"  # a structured value kept whole as JSON text in CSV and Parquet
TIME = "time"  # an instant: diff counts its changes, not its values


def _meta(*, summary: bool = False, diff: bool = False, table: str | None = None,
          json_text: bool = False, time: bool = False) -> dict[str, Any]:
    return {SUMMARY: summary, DIFF: diff, TABLE: table, JSON_TEXT: json_text, TIME: time}


@dataclass(frozen=True, slots=True)
class Handoff:
    """Where a P1/P2 case goes when the current shift ends."""

    at: str = field(metadata={TIME: True})
    to: str = field(metadata={})


@dataclass(frozen=True, slots=True)
class Decision:
    """A complete, explained routing decision for one ticket."""

    ticket_id: str = field(metadata=_meta(table="ticket"))
    category: str = field(metadata=_meta(summary=True, diff=True, table="category"))
    category_source: str = field(metadata=_meta())  # "model" or "given"
    confidence: float | None = field(metadata=_meta(table="conf"))
    needs_review: bool = field(metadata=_meta(diff=True))
    priority: str = field(metadata=_meta(summary=True, diff=True, table="prio"))
    tier: str = field(metadata=_meta(summary=True, diff=True, table="tier"))
    region: str = field(metadata=_meta(summary=True, diff=True, table="region"))
    queue: str = field(metadata=_meta(summary=True, diff=True, table="queue"))
    handoff: Handoff | None = field(metadata=_meta(diff=True, table="hand-over"))
    third_party: str | None = field(metadata=_meta(summary=True, diff=True, table="third party"))
    response_due: str = field(metadata=_meta(diff=True, table="response due", time=True))
    incident_id: str | None = field(metadata=_meta())
    rules: dict[str, list[str]] = field(metadata=_meta(json_text=True, table="decided by"))
    ruleset_version: str = field(metadata=_meta())
    model_version: str | None = field(metadata=_meta())
    # Outputs of a user's own decision files (absent from the JSON when there are none).
    outputs: dict[str, Any] | None = field(default=None, metadata=_meta(summary=True, diff=True))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Decision":
        """From a decision's JSON object (the router's own, or one read back from a file)."""
        handoff = d.get("handoff")
        rules = d["rules"]
        return cls(**{**d, "handoff": None if handoff is None else Handoff(**handoff),
                      "rules": {k: list(v) for k, v in rules.items()}})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `shared/formats.md`, in its field order."""
        d = {f.name: getattr(self, f.name) for f in FIELDS}
        h = self.handoff
        d["handoff"] = None if h is None else {"at": h.at, "to": h.to}
        if not self.outputs:
            del d["outputs"]
        return d

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


FIELDS = fields(Decision)
_NESTED = {"handoff": fields(Handoff)}  # fields whose value is an object of these fields


def column_meta(own: Iterable[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    """Every flat column with its metadata (a nested field's own over its parent's);
    `own`: the rule set's own decisions, each an `outputs.<name>` column."""
    out: list[tuple[str, dict[str, Any]]] = []
    for f in FIELDS:
        if f.name == "outputs":
            out += [(f"outputs.{n}", dict(f.metadata)) for n in own]
        elif f.name in _NESTED:
            out += [(f"{f.name}.{g.name}", {**f.metadata, **g.metadata}) for g in _NESTED[f.name]]
        else:
            out.append((f.name, dict(f.metadata)))
    return out


def columns(own: Iterable[str] = ()) -> list[str]:
    """The flat column names of a decision in CSV and Parquet."""
    return [c for c, _ in column_meta(own)]


def flatten(d: dict[str, Any]) -> dict[str, Any]:
    """A decision's JSON object as one flat row keyed by `columns`; structured values
    (the cited rules, a list a collect decision gives) become JSON text."""
    row: dict[str, Any] = {}
    for f in FIELDS:
        v = d.get(f.name)
        if f.name == "outputs":
            for name, value in (v or {}).items():
                row[f"outputs.{name}"] = _scalar(value)
        elif f.name in _NESTED:
            for g in _NESTED[f.name]:
                row[f"{f.name}.{g.name}"] = None if v is None else v.get(g.name)
        elif f.metadata[JSON_TEXT]:
            row[f.name] = None if v is None else orjson.dumps(v).decode()
        else:
            row[f.name] = v
    return row


def _scalar(v: Any) -> Any:
    return orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v


def value_at(d: dict[str, Any], column: str) -> Any:
    """A flat column's value in a decision's JSON object (`handoff.to`, `outputs.x`), as a
    hashable scalar (a list a collect decision gives becomes its JSON text)."""
    head, _, sub = column.partition(".")
    v = d.get(head)
    if sub:
        v = v.get(sub) if isinstance(v, dict) else None
    return _scalar(v)


def marked(kind: str, own: Iterable[str] = ()) -> list[str]:
    """The flat columns marked `kind` (SUMMARY, DIFF, TIME, ...); a user's own decisions
    are marked as `outputs` is."""
    return [c for c, m in column_meta(own) if m.get(kind)]
