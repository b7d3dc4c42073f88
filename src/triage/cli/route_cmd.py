"""`triage route`: JSON Lines of tickets in, one decision per line out, in input order."""
from __future__ import annotations

import sys

import click
import orjson

from triage.cli.common import build_triage, open_input


@click.command(help="""Route tickets given as JSON Lines (FILE, or - / nothing for stdin).

Writes one decision per line to stdout, in input order. An invalid line (bad JSON,
bad fields, an unknown category, a blank line) is reported on stderr as a JSON object
{"line", "id", "error", "reason"} and the other lines are still decided. Exit 0 when
every line was decided, 1 when some line was invalid, 2 on usage errors (bad
options, unreadable rules or model).""")
@click.argument("file", required=False, default="-")
@click.option("--rules", "rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", "model", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True,
              help="jsonl: one decision per line (the contract); table: a readable summary.")
@click.option("--chunk-size", default=512, show_default=True, type=click.IntRange(1, 100_000),
              help="Tickets classified per vectorised call.")
def route(file: str, rules: str | None, model: str | None, fmt: str, chunk_size: int) -> None:
    from triage.batch.work import decide_chunk

    triage = build_triage(rules, model)
    stream = open_input(file)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    bad = 0
    table: list[dict] = []
    chunk: list[tuple[int, bytes]] = []

    def flush() -> None:
        nonlocal bad
        body, errors, _ = decide_chunk(None, None, chunk, "line", triage)
        if fmt == "table":
            table.extend(orjson.loads(x) for x in body.splitlines())
        else:
            out.write(body)
        for e in errors:
            err.write(orjson.dumps(e) + b"\n")
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
