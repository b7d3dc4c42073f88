"""`triage info`: which rules and model are in use, and their versions."""
from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import TYPE_CHECKING, Any

import click
import orjson

from triage.cli.common import build_triage

if TYPE_CHECKING:
    from triage.router import Triage


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def info_data(triage: Triage) -> dict[str, Any]:
    """What `triage info --json` prints about a built `Triage` (also `GET /v1/info` of the service)."""
    return {
        "rules": str(triage.ruleset.folder.resolve()),
        "model": None if triage.model is None else str(triage.model.path.resolve()),
        "ruleset_version": triage.ruleset_version,
        "model_version": triage.model_version,
        "decisions": list(triage.ruleset.decision_names),
        "versions": {
            "triage": _version("triage"),
            "python": platform.python_version(),
            "durable_rules": _version("durable_rules"),
            "pydantic": _version("pydantic"),
            "scikit-learn": _version("scikit-learn"),
            "numpy": _version("numpy"),
        },
    }


@click.command(help="Show the rules and model in use, their versions and library versions.")
@click.option("--rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(rules: str | None, model: str | None, as_json: bool) -> None:
    data = info_data(build_triage(rules, model))
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        return
    for key in ("rules", "ruleset_version", "model", "model_version"):
        click.echo(f"{key:16} {data[key]}")
    click.echo(f"{'decisions':16} {', '.join(data['decisions'])}")
    click.echo(f"{'versions':16} " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()))
