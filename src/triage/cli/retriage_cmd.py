"""`triage retriage`: re-triage a backlog, kill-safe, with progress and a summary."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from triage.cli.common import fail
from triage.errors import TriageError


def batch_options(command: Any) -> Any:
    """The options every batch job takes (`retriage`, `sweep`): outputs, resume, parallelism, rules, model."""
    options = [
        click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Decisions file."),
        click.option("--errors", "errors", required=True, type=click.Path(dir_okay=False),
                     help="Rejected records file."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from its checkpoint."),
        click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 256),
                     help="Worker processes (joblib), or Dask workers with --dask local."),
        click.option("--dask", "dask", metavar="ADDRESS|local", help="Run on Dask: 'local' or a scheduler address."),
        click.option("--rules", metavar="DIR", help="Rule folder (default: the shipped rules)."),
        click.option("--model", metavar="DIR", help="Model folder (default: the shipped model)."),
        click.option("--chunk-size", default=2000, show_default=True, type=click.IntRange(1, 1_000_000)),
        click.option("--summary-json", type=click.Path(dir_okay=False), help="Also write the summary as JSON."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command(help="""Re-triage a backlog: INPUT (.jsonl, .csv or .parquet) to decisions in OUT and
rejected records in ERRORS (OUT's format by its extension, CSV/Parquet columns flattening
nested fields with dots, e.g. handoff.to, outputs.<decision>; ERRORS is always JSON
Lines, whatever its name).

Every input record ends as exactly one decision in OUT or one error in ERRORS (with its
line or row number, id when known, and the reason). After `kill -9`, the same command
with --resume completes the job with no record lost or repeated. A summary (counts by
category, priority, tier, region, errors, and changes against `previous.*` fields in
the input) goes to stderr. Exit 0 when all records were decided, 1 when some went to
ERRORS, 2 on usage errors.

With --correlate, multi-customer incidents are found by the rule folder's
correlation.yaml, as `triage route --correlate` does: all records are read first,
tickets are decided in created_at order (stable), and a ticket that forms or grows
an incident is followed in OUT by revised decisions of the earlier tickets it
changed; the LAST decision per ticket_id is final, and the summary counts final
decisions. Errors still go to ERRORS and no record is lost. It runs in one process
(no --jobs, no --dask) and writes no checkpoint: --resume is refused; after a crash
run the same command again, which rewrites OUT and ERRORS.""")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@batch_options
@click.option("--correlate", is_flag=True,
              help="Find multi-customer incidents (correlation.yaml); the last decision per ticket_id "
                   "is final. One process, not resumable.")
def retriage(input_path: str, out: str, errors: str, resume: bool, jobs: int, dask: str | None,
             rules: str | None, model: str | None, chunk_size: int, summary_json: str | None, quiet: bool,
             correlate: bool) -> None:
    from triage.batch.runner import Job, retriage as run_plain

    run = run_plain
    if correlate:
        if resume:
            raise click.UsageError("--resume cannot be combined with --correlate: a correlated run "
                                   "writes no checkpoint; run the same command again without --resume")
        if jobs != 1 or dask:
            raise click.UsageError("--correlate runs in one process: leave out --jobs and --dask")
        from triage.batch.correlated import retriage_correlated

        run = retriage_correlated

    job = Job(Path(input_path), Path(out), Path(errors), rules, model, jobs, dask, chunk_size, resume,
              own_process=True)
    run_job(job, run, summary_json, quiet, "re-triage")


def run_job(job: Any, run: Any, summary_json: str | None, quiet: bool, label: str) -> None:
    """Run a batch job (re-triage or sweep) with a progress bar, print its summary and exit:
    0 when every record was decided, 1 when some went to the error file, 2 on usage errors."""
    progress = None if quiet or not sys.stderr.isatty() else _Progress(job.input, label)
    try:
        if progress:
            with progress:
                summary = run(job, on_progress=progress.update)
        else:
            summary = run(job)
    except TriageError as exc:
        fail(exc, 2)
    except OSError as exc:  # an output cannot be written (full disk, a folder in the way, ...)
        _write_failed(exc)
    data = summary.to_dict()
    if summary_json:
        try:
            Path(summary_json).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            _write_failed(exc)
    if not quiet:
        _print_summary(data)
    sys.exit(1 if summary.errors else 0)


def _write_failed(exc: OSError) -> None:
    if isinstance(exc, BrokenPipeError):
        raise exc  # click ends quietly on a closed pipe
    fail(f"{exc.filename or 'output'}: {exc.strerror or exc}", 2)


class _Progress:
    """A rich progress bar on stderr: records, rate and ETA (by bytes read, or rows)."""

    def __init__(self, path: Path, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from triage.batch.records import count_hint

        self.total, self.unit = count_hint(path)
        self.bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.fields[records]:,} records"),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task(label, total=self.total or None, records=0, rate="")
        self.start_records: int | None = None

    def __enter__(self) -> "_Progress":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def update(self, records: int, offset: int) -> None:
        done = offset if self.unit == "bytes" else records
        task = self.bar.tasks[0]
        rate = f"{records / task.elapsed:,.0f}/s" if task.elapsed else ""
        self.bar.update(self.task, completed=done, records=records, rate=rate)


def _print_summary(data: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    console.print(f"[bold]{data['records']:,} records[/]: {data['decided']:,} decided, {data['errors']:,} errors")
    for field, counts in data["counts"].items():
        top = sorted(counts.items(), key=lambda kv: -kv[1])
        shown = " · ".join(f"{value} {n:,}" for value, n in top[:12]) + (" · …" if len(top) > 12 else "")
        console.print(f"[bold]{field}[/]: {shown}", highlight=False)
    for field, c in data["changed"].items():
        console.print(f"{field}: {c['changed']:,} of {c['compared']:,} changed against previous.{field}")
    from triage.batch.work import ATTENTION

    if data.get(ATTENTION):
        whats = ["cases", "escalated", "response breached", "resolution breached", "at risk", "paused"]
        table = Table(title="cases needing attention, by region/tier")
        table.add_column("region/tier")
        for w in whats:
            table.add_column(w, justify="right")
        for where, c in data[ATTENTION].items():
            table.add_row(where, *(f"{c.get(w, 0):,}" for w in whats))
        console.print(table)
