"""What one worker does with one chunk: parse, route, and return compact results.

Runs in the main process, in joblib worker processes or on Dask workers. Each process
builds its `Triage` once (the durable_rules engine cannot be pickled) and keeps it
for later chunks. Results are compact: decisions as JSON Lines bytes, errors as small
dicts, and the summary counts of the chunk.
"""
from __future__ import annotations

import atexit
from collections import Counter
from typing import Any, Iterable

import orjson

from triage.decision import SUMMARY, marked, value_at
from triage.errors import TicketError, TriageError

_TRIAGE: dict[tuple[Any, Any], Any] = {}


@atexit.register
def close_all() -> None:
    """Close every `Triage` this process built (their rule engines) and forget them."""
    while _TRIAGE:
        _TRIAGE.popitem()[1].close()


def summary_fields(triage: Any) -> list[str]:
    """The decision columns a batch summary counts (a user's own decisions among them)."""
    return marked(SUMMARY, triage.own_decisions)


def get_triage(rules: str | None, model: str | None | bool) -> Any:
    """This process's `Triage` for (rules, model), built on first use."""
    key = (rules, model)
    if key not in _TRIAGE:
        from triage.router import Triage

        _TRIAGE[key] = Triage(rules=rules, model=model)
    return _TRIAGE[key]


def worker_triage(rules: str | None, model: str | None | bool) -> Any:
    """`get_triage` for a worker process we started, tuned for streaming once it is built.

    Such a process only routes chunks, so its start-up objects can leave the collector's
    passes and freed heap can be kept for the next chunk: without that, each worker
    spent measurably more CPU per record than the serial run (full collections over
    the model and rule engine, and the heap trimmed and faulted in again per chunk).
    """
    if (rules, model) in _TRIAGE:
        return _TRIAGE[(rules, model)]
    from triage.process import tune_for_streaming

    triage = get_triage(rules, model)
    tune_for_streaming()
    return triage


def count(counts: dict[str, Counter], fields: list[str], decision: dict[str, Any], previous: Any) -> None:
    """Add one decision to the summary counts; with the record's `previous` routing, count
    which summary fields it names and which of them changed."""
    values = [value_at(decision, f) for f in fields]
    for f, v in zip(fields, values):
        counts[f][_key(v)] += 1
    if isinstance(previous, dict):
        for f, v in zip(fields, values):
            if f in previous or f.partition(".")[0] in previous:
                counts["changed"][f"{f}:compared"] += 1
                if (previous[f] if f in previous else value_at(previous, f)) != v:
                    counts["changed"][f] += 1


def _key(v: Any) -> str:
    """A summary count's key: the value as text (null as "none"), sortable and JSON-safe."""
    return "none" if v is None else v if isinstance(v, str) else orjson.dumps(v).decode()


def parse_payload(payload: Any) -> Any:
    """A record's payload as a ticket mapping, or the `TicketError` saying why not."""
    if isinstance(payload, Exception):
        return TicketError([("", str(payload))])
    if isinstance(payload, (bytes, bytearray)):
        if not payload.strip():
            return TicketError([("", "empty line")])
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            try:
                bytes(payload).decode("utf-8")
            except UnicodeDecodeError:
                return TicketError([("", "invalid UTF-8")])
            return TicketError([("", f"invalid JSON: {exc}")])
    return payload


def error_record(number: int, unit: str, obj: Any, err: TriageError) -> dict[str, Any]:
    tid = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), (str, int)) else None
    d = err.to_dict()
    rec = {unit: number, "id": tid, "error": d.get("error", "invalid ticket"), "reason": d.get("reason", str(err))}
    if d.get("fields"):
        rec["fields"] = d["fields"]
    return rec


def decide_chunk(rules: str | None, model: str | None, records: Iterable[tuple[int, Any]], unit: str = "line",
                 triage: Any = None, summarise: bool = True) -> tuple[bytes, list[dict[str, Any]], dict[str, Counter]]:
    """Route one chunk: (decisions as JSONL bytes, error records, summary counts if asked)."""
    triage = triage or get_triage(rules, model)
    parsed = [(n, parse_payload(p)) for n, p in records]
    good = [(n, obj) for n, obj in parsed if not isinstance(obj, TriageError)]
    results = iter(triage.route_dicts([obj for _, obj in good]))
    lines: list[bytes] = []
    errors: list[dict[str, Any]] = []
    fields = summary_fields(triage)
    counts: dict[str, Counter] = {f: Counter() for f in (*fields, "changed")}
    for n, obj in parsed:
        res = obj if isinstance(obj, TriageError) else next(results)
        if isinstance(res, TriageError):
            errors.append(error_record(n, unit, obj, res))
            continue
        lines.append(orjson.dumps(res))
        if not summarise:
            continue
        count(counts, fields, res, obj.get("previous") if isinstance(obj, dict) else None)
    body = b"\n".join(lines) + b"\n" if lines else b""
    return body, errors, counts
