"""`triage check`: prove a rule folder complete, every row reachable, and within the engine's limits."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from triage.cli.common import fail
from triage.errors import TriageError


def model_labels(model: str | None, no_model: bool) -> tuple[list[str] | None, str | None, str | None]:
    """(labels, where, problem): the model's labels, or None with the reason.

    An explicit --model that does not load exits 2 (unreadable input); a shipped
    default that does not load is only a note, so that rules can still be checked.
    """
    from triage.defaults import default_model_dir

    if no_model:
        return None, None, None
    path = Path(model) if model else default_model_dir()
    if path is None:
        return None, None, None
    try:
        from triage.model.verify import verify_model

        return list(verify_model(path).labels), str(path), None
    except ImportError as exc:
        problem = f"models cannot be loaded here ({exc})"
    except TriageError as exc:
        problem = str(exc)
    if model:
        fail(f"--model {model}: {problem}", 2)
    return None, str(path), problem


@click.command(help="""Check a rule folder (default: the shipped rules) without routing anything.

Exact over the finite fact domains: rows that can never fire (also when several
earlier rows cover them together), gaps (inputs that reach no row and no default),
overlaps under hit policy `unique`, values outside a field's domain, the model's
categories against the rules, and durable_rules' limits. Every finding names the
file, line and rule id, with an example where it helps.

Exit 0 when there is no error (warnings allowed), 1 on errors, 2 when DIR cannot be read.""")
@click.argument("folder", metavar="[DIR]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {ok, errors, warnings, findings}.")
@click.option("--model", metavar="DIR", help="Model whose labels to check against the rules (default: the shipped model).")
@click.option("--no-model", is_flag=True, help="Skip the checks against the model's labels.")
@click.option("--max-cells", default=200_000, show_default=True, type=click.IntRange(1, 10**9),
              help="Search steps allowed per decision before its analysis is reported incomplete.")
def check(folder: str | None, as_json: bool, model: str | None, no_model: bool, max_cells: int) -> None:
    from triage.analysis import check_folder
    from triage.analysis.findings import Finding
    from triage.defaults import default_rules_dir

    path = Path(folder) if folder else default_rules_dir()
    if not path.exists():
        fail(f"{path}: no such folder", 2)
    if not path.is_dir():
        fail(f"{path}: not a folder of rule files", 2)
    labels, where, problem = model_labels(model, no_model)
    report = check_folder(path, labels=labels, model_where=where, max_cells=max_cells)
    if problem:
        report.findings.append(Finding("warning", "model-unreadable", f"the default model could not be loaded, "
                                       f"its categories were not checked: {problem}", file=where))
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        for f in report.sorted():
            click.echo(f.headline())
            if f.example:
                click.echo("    example: " + _facts(f.example))
            if f.example_ticket:
                click.echo("    ticket:  " + orjson.dumps(f.example_ticket).decode())
        s = report.stats
        e, w, n = report.count("error"), report.count("warning"), report.count("info")
        cells = s.get("cells", 0)
        cells = f"{cells:.3g}" if isinstance(cells, float) else str(cells)
        size = (f" ({s['decisions']} decisions, {s['rows']} rows, {cells} cells in {s['seconds']:.2f} s)"
                if s.get("loaded") else "")
        click.echo(f"{path}: {_n(e, 'error')}, {_n(w, 'warning')}, {_n(n, 'note')}{size}")
    sys.exit(0 if report.ok else 1)


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _facts(facts: dict, shown: int = 12) -> str:
    from triage.analysis.describe import facts_text

    items = list(facts.items())
    more = f", ... ({len(items) - shown} more in --json)" if len(items) > shown else ""
    return facts_text(dict(items[:shown])) + more
