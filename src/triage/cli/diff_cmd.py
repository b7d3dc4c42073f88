"""`triage diff`: what a rule or model change would do to a backlog, before it goes live."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from triage.cli.common import build_triage, fail
from triage.errors import TriageError


@click.command(help="""Replay INPUT (.jsonl, .csv, .parquet) through old and new rules (and models) and
report, per decision field, the transitions (e.g. P3 -> P2: 1,204) with sample
tickets, and the rule rows that gain or lose tickets. Markdown by default (to
stdout or --out), --json for tools.""")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--old-rules", metavar="DIR", help="Rule folder before the change (default: shipped rules).")
@click.option("--new-rules", metavar="DIR", help="Rule folder after the change (default: shipped rules).")
@click.option("--old-model", metavar="DIR", help="Model before (default: shipped model).")
@click.option("--new-model", metavar="DIR", help="Model after (default: shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write the Markdown report here.")
@click.option("--samples", default=3, show_default=True, type=click.IntRange(0, 100),
              help="Sample ticket ids per transition.")
def diff(input_path: str, old_rules: str | None, new_rules: str | None, old_model: str | None,
         new_model: str | None, as_json: bool, out: str | None, samples: int) -> None:
    from triage.batch.diff import diff as run

    if not Path(input_path).is_file():
        fail(f"{input_path}: no such file", 2)
    old = build_triage(old_rules, old_model)
    new = build_triage(new_rules, new_model)
    try:
        report = run(Path(input_path), old, new, samples=samples)
    except TriageError as exc:
        fail(exc, 2)
    label = lambda t, r, m: f"{r or 'shipped rules'} ({t.ruleset_version[7:19]})" + (f", model {m}" if m else "")
    md = report.to_markdown(label(old, old_rules, old_model), label(new, new_rules, new_model))
    if out:
        try:
            Path(out).write_text(md)
        except OSError as exc:
            fail(f"{out}: {exc.strerror or exc}", 2)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_NON_STR_KEYS) + b"\n")
    elif not out:
        click.echo(md, nl=False)
