"""Correlated routing of a whole input: `triage route --correlate`, `triage retriage --correlate`.

Incidents are found in `created_at` order, so every record is read first (a ticket at
the end of a file may belong with one at the start), the valid tickets are ordered by
`created_at` (stable: equal times keep input order) and fed to one `Correlator`.
Each ticket's decision is followed by the revised decisions of the tickets its
incident changed: the last decision per ticket is final. Memory holds the parsed
tickets of the input (and, for a backlog's summary, each one's final decision); the
correlator itself holds only the last window + lateness.

A backlog run is therefore not resumable (a checkpoint would need the correlator's
state) and runs in one process; it is short enough to start over, and OUT is
rewritten from the beginning each time.
"""
from __future__ import annotations

import sys
from collections import Counter
from typing import Any, Callable, Iterable, Iterator

from triage.batch.work import count, error_record, parse_payload, summary_fields
from triage.decision import Decision
from triage.errors import TriageError
from triage.ticket import Ticket, parse_ticket


def read_tickets(records: Iterable[tuple[int, Any]], unit: str) -> tuple[list[tuple[int, Any, Ticket]], list[dict]]:
    """Valid tickets as (number, raw mapping, Ticket) in created_at order, and the error
    records of the rest (as `decide_chunk` reports them)."""
    tickets: list[tuple[int, Any, Ticket]] = []
    errors: list[dict] = []
    for n, payload in records:
        obj = parse_payload(payload)
        if isinstance(obj, TriageError):
            errors.append(error_record(n, unit, None, obj))
            continue
        try:
            tickets.append((n, obj, parse_ticket(obj)))
        except TriageError as exc:
            errors.append(error_record(n, unit, obj, exc))
    tickets.sort(key=lambda x: x[2].created_at)  # list.sort is stable
    return tickets, errors


def correlate(triage: Any, correlator: Any, tickets: list[tuple[int, Any, Ticket]], unit: str,
              chunk_size: int) -> Iterator[tuple[list[tuple[int, Decision]], list[dict]]]:
    """Per chunk of ordered tickets: the decisions in emission order, each with the number
    of the record it decides (revisions name earlier records), and the error records."""
    for start in range(0, len(tickets), chunk_size):
        part = tickets[start:start + chunk_size]
        out: list[tuple[int, Decision]] = []
        errors: list[dict] = []
        for (n, obj, _), c in zip(part, triage.classify_many([t for _, _, t in part])):
            try:
                if isinstance(c, TriageError):
                    raise c
                out.extend(correlator.feed_tagged(c, n))
            except TriageError as exc:
                errors.append(error_record(n, unit, obj, exc))
        yield out, errors


def retriage_correlated(job: Any, on_progress: Callable[[int, int], None] | None = None,
                        log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Any:
    """`retriage` with multi-customer incidents: one process, no checkpoint; see module doc."""
    from triage.batch import checkpoint
    from triage.batch.records import Position, read_records
    from triage.errors import InputError
    from triage.batch.runner import Summary, check_paths
    from triage.batch.work import get_triage
    from triage.batch.writers import error_sink, make_sink
    from triage.decision import columns
    from triage.correlation import Correlator

    if job.resume:
        raise InputError("--resume cannot continue a --correlate run (incidents need every earlier "
                         "ticket); run it again without --resume")
    if job.jobs != 1 or job.dask:
        raise InputError("--correlate runs in one process: leave out --jobs and --dask")
    check_paths(job)
    triage = get_triage(job.rules, job.model)
    correlator = Correlator(triage)
    if job.checkpoint_path.exists():
        # A checkpoint of an earlier plain run would let a later --resume cut this OUT.
        log(f"removing {job.checkpoint_path} of an earlier run: --correlate rewrites {job.out}")
        checkpoint.remove(job.checkpoint_path)

    unit = job.unit
    records: list[tuple[int, Any]] = []
    read = 0
    for chunk, pos in read_records(job.input, Position(), job.chunk_size):
        records.extend(chunk)
        read = pos.records
        if on_progress:
            on_progress(read, pos.offset)
    tickets, errors = read_tickets(records, unit)
    del records
    summary = Summary()
    out = make_sink(job.out, columns(triage.own_decisions))
    err = error_sink(job.errors)
    out.open(None)
    err.open(None)
    err.write_rows(errors)
    final: dict[int, Decision] = {}
    for decisions, bad in correlate(triage, correlator, tickets, unit, job.chunk_size):
        if decisions:
            out.write_jsonl(b"".join(d.to_json() + b"\n" for _, d in decisions))
        err.write_rows(bad)
        errors.extend(bad)
        for n, d in decisions:
            final[n] = d
        out.sync()
        err.sync()
    correlator.close()
    out.finish()
    err.finish()
    previous = {n: obj.get("previous") for n, obj, _ in tickets if isinstance(obj.get("previous"), dict)}
    fields = summary_fields(triage)
    counts: dict[str, Counter] = {f: Counter() for f in (*fields, "changed")}
    for n, d in final.items():
        count(counts, fields, d.to_dict(), previous.get(n))
    summary.add(read, len(errors), counts)
    return summary
