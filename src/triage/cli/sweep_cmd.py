"""`triage sweep`: every open case of a backlog decided at a time `now`."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from triage.cli.common import Instant
from triage.cli.retriage_cmd import batch_options, run_job


@click.command(help="""Sweep CASES (.jsonl, .csv or .parquet) at a time NOW: each case's SLA clocks,
the escalation ladder (one step per sweep), and its routing at NOW (open P1/P2 cases go
to the region on shift then). One output line per case in input order, in OUT's format:
the decision at NOW plus `as_of`, `sla`, `escalated_to` and `escalation_level`
(shared/formats.md); bad records go to ERRORS (always JSON Lines) with the reason.

It runs on the machinery of `triage retriage`: streaming, chunked, kill-safe with
--resume, parallel with --jobs or --dask. --changed-only keeps only the cases whose
tier, queue, region or SLA state (met, breached, at risk, paused) differs from the
record's `previous` (a record without one counts as changed). The summary counts
escalations, breaches and risks per region and tier. Exit 0 when every case was
decided, 1 when some went to ERRORS, 2 on usage errors.""")
@click.argument("input_path", metavar="CASES", type=click.Path(dir_okay=False))
@click.option("--now", type=Instant(), default=None, help="Evaluation time, ISO 8601 with a zone (default: now).")
@batch_options
@click.option("--changed-only", is_flag=True, help="Write only cases whose routing or SLA state changed.")
def sweep(input_path: str, now: Any, out: str, errors: str, changed_only: bool, resume: bool, jobs: int,
          dask: str | None, rules: str | None, model: str | None, chunk_size: int, summary_json: str | None,
          quiet: bool) -> None:
    from triage.batch.runner import Job, retriage

    at = now if now is not None else datetime.now(timezone.utc)
    if resume and now is None:
        raise click.UsageError("--resume needs the --now of the interrupted run (a sweep is a function of it)")
    job = Job(Path(input_path), Path(out), Path(errors), rules, model, jobs, dask, chunk_size, resume,
              own_process=True, now=at, changed_only=changed_only)
    run_job(job, retriage, summary_json, quiet, "sweep")
