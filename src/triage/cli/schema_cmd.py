"""`triage schema`: the JSON Schema (draft-7) of rule files or rule tests, for editors."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from triage.cli.common import fail

KINDS = ("rules", "tests")


def schema_text(kind: str) -> str:
    """The schema as written to disk: sorted keys would lose the reading order, so insertion order, 2 spaces."""
    schema: dict[str, Any]
    if kind == "rules":
        from triage.rules.spec import rule_file_schema

        schema = rule_file_schema()
    else:
        from triage.ruletests.spec import rule_test_schema

        schema = rule_test_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@click.command(help="""Write the JSON Schema (draft-7) of rule files (default) or of rule tests.

Generated from the pydantic models that validate the files. The shipped rules carry
it as rules/rule-file.schema.json (and rules/rule-test.schema.json); a rule file
starting with `# yaml-language-server: $schema=./rule-file.schema.json` is then
completed and checked by editors that use the YAML language server.""")
@click.option("--out", "out", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--kind", type=click.Choice(KINDS), default="rules", show_default=True,
              help="rules: decision files; tests: *.test.yaml files.")
def schema(out: str | None, kind: str) -> None:
    text = schema_text(kind)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: {exc.strerror}", 2)
    click.echo(f"wrote {out}", err=True)
