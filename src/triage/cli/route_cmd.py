"""`triage route`: JSON Lines of tickets in, one decision per line out, in input order.

With `--correlate`, tickets are read in full, ordered by `created_at` and fed to the
correlator: after each ticket's decision come revised decision lines for the tickets
an incident changed, so the last line per `ticket_id` is final.
"""
from __future__ import annotations

import sys

import click
import orjson

from triage.cli.common import build_triage, fail, open_input


@click.command(help="""Route tickets given as JSON Lines (FILE, or - / nothing for stdin).

Writes one decision per line to stdout, in input order. An invalid line (bad JSON,
bad fields, an unknown category, a blank line) is reported on stderr as a JSON object
{"line", "id", "error", "reason"} and the other lines are still decided. Exit 0 when
every line was decided, 1 when some line was invalid, 2 on usage errors (bad
options, unreadable rules or model).

With --correlate, multi-customer incidents are found by the rule folder's
correlation.yaml: all lines are read first and tickets are decided in created_at
order (stable for equal times), not input order. When a ticket forms or grows an
incident, its decision line is followed by a revised decision line for every
earlier ticket the incident changed (incident_id set, affected_customers = its
distinct accounts, priority, tier and queue re-decided). The LAST line per
ticket_id is that ticket's final decision. --format table shows final decisions.""")
@click.argument("file", required=False, default="-")
@click.option("--rules", "rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", "model", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True,
              help="jsonl: one decision per line (the contract); table: a readable summary.")
@click.option("--chunk-size", default=512, show_default=True, type=click.IntRange(1, 100_000),
              help="Tickets classified per vectorised call.")
@click.option("--correlate", is_flag=True,
              help="Find multi-customer incidents (correlation.yaml): decide in created_at order and "
                   "add revised lines; the last line per ticket_id is final.")
def route(file: str, rules: str | None, model: str | None, fmt: str, chunk_size: int, correlate: bool) -> None:
    from triage.batch.work import Work, decide_chunk
    from triage.process import tune_for_streaming

    triage = build_triage(rules, model)
    stream = open_input(file)
    tune_for_streaming()
    if correlate:
        sys.exit(_route_correlated(triage, stream, fmt, chunk_size))
    out, err = sys.stdout.buffer, sys.stderr.buffer
    bad = 0
    table: list[dict] = []
    chunk: list[tuple[int, bytes]] = []

    def flush() -> None:
        nonlocal bad
        body, errors, _ = decide_chunk(None, None, chunk, Work(), triage, summarise=False)
        try:
            if fmt == "table":
                table.extend(orjson.loads(x) for x in body.splitlines())
            else:
                out.write(body)
            for e in errors:
                err.write(orjson.dumps(e) + b"\n")
        except BrokenPipeError:
            raise  # click ends quietly on a closed pipe
        except OSError as exc:  # e.g. a full disk: a clear line, not a traceback
            fail(f"cannot write the decisions: {exc.strerror or exc}", 2)
        bad += len(errors)
        chunk.clear()

    for n, raw in enumerate(stream, 1):
        chunk.append((n, raw))
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    out.flush()
    if fmt == "table":
        from triage.cli.table import print_decisions

        print_decisions(table, triage)
    sys.exit(1 if bad else 0)



def _route_correlated(triage, stream, fmt: str, chunk_size: int) -> int:
    """Read every line, order the tickets by created_at and feed them to a correlator."""
    from triage.batch.correlated import correlate, read_tickets
    from triage.correlation import Correlator
    from triage.errors import TriageError

    try:
        correlator = Correlator(triage)
    except TriageError as exc:
        fail(exc, 2)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    tickets, errors = read_tickets(enumerate(stream, 1), "line")
    for e in errors:
        err.write(orjson.dumps(e) + b"\n")
    bad = len(errors)
    final: dict[str, dict] = {}
    for decisions, errors in correlate(triage, correlator, tickets, "line", chunk_size):
        if fmt == "table":
            final.update((d.ticket_id, d.to_dict()) for _, d in decisions)
        elif decisions:
            out.write(b"".join(d.to_json() + b"\n" for _, d in decisions))
        for e in errors:
            err.write(orjson.dumps(e) + b"\n")
        bad += len(errors)
    out.flush()
    correlator.close()
    if fmt == "table":
        from triage.cli.table import print_decisions

        print_decisions(list(final.values()), triage)
    return 1 if bad else 0
