"""`triage explain`: why one ticket got its decision, row by row."""
from __future__ import annotations

import sys

import click
import orjson

from triage.cli.common import build_triage, fail, open_input
from triage.errors import TicketError, TriageError


def read_one(file: str) -> object:
    """One ticket: a JSON object in FILE or on stdin (a single JSON Lines line is fine too)."""
    stream = open_input(file)
    try:
        data = stream.read()
    except OSError as exc:
        fail(f"{file}: {exc.strerror}", 2)
    if not data.strip():
        raise TicketError([("", "no ticket given (expected one JSON object)")])
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        lines = [ln for ln in data.splitlines() if ln.strip()]
        if len(lines) > 1:
            raise TicketError([("", f"explain takes one ticket; got {len(lines)} lines")]) from None
        raise TicketError([("", f"invalid JSON: {exc}")]) from None


@click.command(help="""Explain the decision for ONE ticket (a JSON object in FILE, or - / nothing for stdin).

For each decision, in evaluation order: the row that decided it (file:line, id,
output), then for every earlier row the first condition that failed, with the
actual value. Also the model's top three categories with probabilities and its
threshold (or that the category was given), and the schedule's hand-over and due time.

Exit 0 when explained, 2 on an invalid ticket (with the reason) or unreadable rules/model.""")
@click.argument("file", required=False, default="-")
@click.option("--rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for tools.")
def explain(file: str, rules: str | None, model: str | None, as_json: bool) -> None:
    from triage.explain import render_text

    try:
        ticket = read_one(file)
    except TicketError as exc:
        fail(exc, 2, as_json)
    triage = build_triage(rules, model)
    try:
        e = triage.explain(ticket)
    except TriageError as exc:
        fail(exc, 2, as_json)
    finally:
        triage.close()
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(e, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        click.echo(render_text(e))
