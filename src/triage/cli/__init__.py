"""The `triage` command line: a thin layer over the `Triage` object.

Subcommands live in their own modules and are imported only when used, so that
`triage route` on one ticket does not pay for scikit-learn plotting or Dask.
Exit codes: 0 success, 1 some input was invalid (or a check failed), 2 usage errors
and unreadable input.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

import click

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "route": ("triage.cli.route_cmd", "route", "Route tickets (JSON Lines) to decisions."),
    "info": ("triage.cli.info_cmd", "info", "Show the rules and model in use and their versions."),
    "train": ("triage.cli.train_cmd", "train", "Train a text model from CSV, JSONL or Parquet."),
    "evaluate": ("triage.cli.evaluate_cmd", "evaluate", "Evaluate a text model on labelled data."),
    "check": ("triage.cli.check_cmd", "check", "Prove a rule set complete and every row reachable."),
    "test": ("triage.cli.test_cmd", "test", "Run the rule tests beside the rule files, with coverage."),
    "explain": ("triage.cli.explain_cmd", "explain", "Explain the decision for one ticket."),
    "schema": ("triage.cli.schema_cmd", "schema", "Write the JSON Schema of rule files."),
    "retriage": ("triage.cli.retriage_cmd", "retriage", "Re-triage a backlog (JSONL/CSV/Parquet), kill-safe."),
    "sweep": ("triage.cli.sweep_cmd", "sweep", "Decide every case at a time: SLA clocks, escalation, routing."),
    "handover": ("triage.cli.handover_cmd", "handover", "The hand-over packet of a shift end (Markdown or JSON)."),
    "diff": ("triage.cli.diff_cmd", "diff", "Replay a backlog through two rule sets/models and report changes."),
    "serve": ("triage.cli.serve_cmd", "serve", "Serve routing over HTTP, with hot reload and metrics."),
    "learn": ("triage.cli.learn_cmd", "learn", "Retrain a text model with corrections, gated on held-out data."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if _module_exists(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attr, _ = COMMANDS[name]
        if not _module_exists(module_name):
            return None
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="triage")
def cli() -> None:
    """Triage support requests: classify, route by rule files, explain."""


def main() -> None:
    """Console-script entry point: usage errors exit 2, never with a traceback."""
    from triage.errors import TriageError

    try:
        cli.main(prog_name="triage", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except TriageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
