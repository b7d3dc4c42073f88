"""Helpers every subcommand shares: printing errors as one line and exiting with a code."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click
import orjson

from triage.errors import TriageError

if TYPE_CHECKING:
    from triage.router import Triage


def fail(error: TriageError | str, code: int = 2, as_json: bool = False) -> NoReturn:
    """Print a user error on stderr (one line, or JSON) and exit with `code`."""
    if as_json and isinstance(error, TriageError):
        sys.stderr.write(orjson.dumps(error.to_dict()).decode() + "\n")
    elif isinstance(error, TriageError):
        click.echo(f"error: {error} [{error.code}]", err=True)  # the code a program can match
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(code)


def build_triage(rules: str | None, model: str | None) -> Triage:
    """A `Triage` from CLI options; unreadable rules or model exit 2 with the reason."""
    from triage.router import Triage

    try:
        return Triage(rules=rules, model=model)
    except TriageError as exc:
        fail(exc, 2)


def open_input(path: str):  # -> IO[bytes]
    """A binary stream for FILE or `-` (stdin); a missing file exits 2."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}", 2)
