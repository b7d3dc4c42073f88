"""`triage handover`: the follow-the-sun packet of one shift end."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import click
import orjson

from triage.cli.common import Instant, build_triage, fail
from triage.errors import TriageError


@click.command(help="""Write the hand-over packet of the shift that ends at AT (a shift end, e.g.
2026-11-25T15:00:00Z; default: the next shift end after now) for the open cases in CASES
(.jsonl, .csv or .parquet): every open high-priority case, decided at AT with the
escalation ladder applied and queued for the region taking over, ordered by priority
then resolution due, with its status, first response, due times, used percentages,
breaches, risks, escalation level and incident. Markdown for people, --json for tools.
Invalid records are reported on stderr (one JSON line each). Exit 0, 1 when some record
was invalid, 2 on usage errors (AT not a shift end, unreadable rules, model or file).""")
@click.argument("input_path", metavar="CASES", type=click.Path(dir_okay=False))
@click.option("--at", "at", type=Instant(), default=None, help="The shift end, ISO 8601 with a zone.")
@click.option("--json", "as_json", is_flag=True, help="Print the packet as one JSON object.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the packet here instead of stdout.")
@click.option("--rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", metavar="DIR", help="Model folder (default: the shipped model).")
def handover(input_path: str, at: Any, as_json: bool, out: str | None, rules: str | None, model: str | None) -> None:
    from triage.batch.records import file_format

    triage = build_triage(rules, model)
    try:
        file_format(input_path)
        if not Path(input_path).is_file():
            raise FileNotFoundError(input_path)
        numbers: list[int] = []
        packet = triage.handover(_cases(input_path, numbers), at)
    except FileNotFoundError:
        fail(f"{input_path}: no such file", 2)
    except TriageError as exc:
        fail(exc, 2, as_json)
    for i, err in packet.errors:
        sys.stderr.write(orjson.dumps({"record": numbers[i - 1], **_error(err)}).decode() + "\n")
    text = (orjson.dumps(packet.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n" if as_json
            else packet.to_markdown())
    if out:
        Path(out).write_text(text)
    else:
        sys.stdout.write(text)
    sys.exit(1 if packet.errors else 0)


def _cases(path: str, numbers: list[int]) -> Iterator[Any]:
    """Each record's payload (an unparsable one as its error), noting its line or row number."""
    from triage.batch.records import Position, read_records
    from triage.batch.work import parse_payload

    for chunk, _ in read_records(path, Position(), 2000):
        for n, payload in chunk:
            numbers.append(n)
            yield parse_payload(payload)


def _error(err: TriageError) -> dict[str, Any]:
    d = err.to_dict()
    return {"id": d.get("id"), "error": d.get("error"), "code": d.get("code"), "reason": d.get("reason")}
