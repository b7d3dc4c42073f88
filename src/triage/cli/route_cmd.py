"""`triage route`: JSON Lines of tickets in, one decision per line out, in input order."""
from __future__ import annotations

import sys
from typing import IO, Any, Iterator

import click
import orjson

from triage.cli.common import build_triage, open_input
from triage.errors import TicketError, TriageError


def read_records(stream: IO[bytes]) -> Iterator[tuple[int, Any, TriageError | None]]:
    """(line number, parsed object or None, parse error) for each non-blank line."""
    for n, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            yield n, orjson.loads(raw), None
        except orjson.JSONDecodeError as exc:
            reason = "invalid UTF-8" if "utf-8" in str(exc).lower() else f"invalid JSON: {exc}"
            yield n, None, TicketError([("", reason)])


@click.command(help="""Route tickets given as JSON Lines (FILE, or - / nothing for stdin).

Writes one decision per line to stdout, in input order. An invalid line is reported
on stderr as a JSON object {"line", "id", "error", "reason"} and the other lines are
still decided. Exit 0 when every line was decided, 1 when some line was invalid,
2 on usage errors (bad options, unreadable rules or model).""")
@click.argument("file", required=False, default="-")
@click.option("--rules", "rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", "model", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True,
              help="jsonl: one decision per line (the contract); table: a readable summary.")
@click.option("--chunk-size", default=512, show_default=True, type=click.IntRange(1, 100_000),
              help="Tickets classified per vectorised call.")
def route(file: str, rules: str | None, model: str | None, fmt: str, chunk_size: int) -> None:
    triage = build_triage(rules, model)
    stream = open_input(file)
    out = sys.stdout.buffer
    bad = 0
    table = [] if fmt == "table" else None
    records = read_records(stream)
    pending: list[tuple[int, Any]] = []

    def flush() -> None:
        nonlocal bad
        good = [(n, obj) for n, obj in pending if not isinstance(obj, TriageError)]
        results = iter(triage.route_batch([obj for _, obj in good]))
        lines = []
        for n, obj in pending:
            res = obj if isinstance(obj, TriageError) else next(results)
            if isinstance(res, TriageError):
                bad += 1
                _report(n, obj, res)
            elif table is not None:
                table.append(res)
            else:
                lines.append(res.to_json())
        if lines:
            out.write(b"\n".join(lines) + b"\n")
        pending.clear()

    for n, obj, err in records:
        pending.append((n, err if err is not None else obj))
        if len(pending) >= chunk_size:
            flush()
    flush()
    out.flush()
    if table is not None:
        from triage.cli.table import print_decisions

        print_decisions(table, triage)
    sys.exit(1 if bad else 0)


def _report(line: int, obj: Any, err: TriageError) -> None:
    tid = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), (str, int)) else None
    payload = {"line": line, "id": tid, **{k: v for k, v in err.to_dict().items() if k != "id"}}
    sys.stderr.buffer.write(orjson.dumps(payload) + b"\n")
