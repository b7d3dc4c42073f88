"""`triage test`: run the `*.test.yaml` rule tests, one PASS/FAIL line per case, with row coverage."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from triage.cli.common import fail
from triage.errors import TriageError


def _rel(p: Path | str) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


@click.command(help="""Run the rule tests (*.test.yaml) under PATH (default: the shipped rules).

PATH is a rule folder (its tests are found below it), a folder of tests, or one test
file; each test file runs against the rule folder above it (or `rules:` in the file,
or --rules). Prints one PASS/FAIL line per case and a closing `N passed, M failed`.
With --coverage, lists the rows (and defaults) no case reaches.

Exit 0 when every case passes (and coverage is at least --fail-under), 1 otherwise,
2 when the rules cannot be loaded.""")
@click.argument("path", metavar="[PATH]", required=False)
@click.option("--rules", "rules", metavar="DIR", help="Rule folder every test file runs against.")
@click.option("--coverage", is_flag=True, help="Report which rows and defaults the cases reach.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail when row coverage is below PCT percent (implies --coverage).")
@click.option("-v", "--verbose", is_flag=True, help="Show what decided each case, passed or not.")
def test(path: str | None, rules: str | None, coverage: bool, fail_under: float | None, verbose: bool) -> None:
    from triage.defaults import default_rules_dir
    from triage.ruletests.runner import TriagePool, find_test_files, run_paths

    root = Path(path) if path else default_rules_dir()
    if not root.exists():
        fail(f"{root}: no such file or folder", 2)
    rules_dir = Path(rules) if rules else None
    if rules_dir is not None and not rules_dir.is_dir():
        fail(f"--rules {rules}: not a folder", 2)
    files = find_test_files(root)
    if not files:
        click.echo(f"no rule tests (*.test.yaml) under {root}")
        click.echo("0 passed, 0 failed")
        sys.exit(1)
    pool = TriagePool()
    try:
        run = run_paths(files, rules_dir, pool)
    except TriageError as exc:
        fail(exc, 2)
    finally:
        pool.close()

    for err in run.file_errors:
        click.echo(f"{_rel(err.file or root)}{':' + str(err.line) if err.line else ''}: "
                   f"{('[' + err.rule_id + '] ') if err.rule_id else ''}ERROR: {err.reason}")
    for r in run.results:
        lc = r.case
        where = f"{_rel(lc.file)}:{lc.line}" if lc.line else _rel(lc.file)
        status = "PASS" if r.ok else ("ERROR" if r.error else "FAIL")
        click.echo(f"{where}: {lc.name}: {status} ({r.seconds * 1000:.1f}ms)")
        for p in r.problems:
            click.echo(f"    {p}")
        if r.error:
            click.echo(f"    {r.error}")
        if verbose or not r.ok:
            for name, (value, cited) in r.decided.items():
                shown = "null" if value is None else value
                click.echo(f"      {name} = {shown}  <- {', '.join(c.split('/', 1)[1] for c in cited)}")
    click.echo("-" * 80)
    click.echo(f"{run.passed} passed, {run.failed} failed")

    below = False
    if coverage or fail_under is not None:
        for folder, cov in run.coverage.items():
            click.echo(f"coverage of {_rel(folder)}: {cov.covered}/{len(cov.items)} rows and defaults "
                       f"({cov.percent:.1f}%)")
            by_file: dict[str, list] = {}
            for item in cov.items:
                by_file.setdefault(item.file, []).append(item)
            for file, items in by_file.items():
                n = sum(1 for i in items if i.hits)
                click.echo(f"  {_rel(file)}: {n}/{len(items)}")
                for i in items:
                    if not i.hits:
                        click.echo(f"    {_rel(i.file)}:{i.line} [{i.rule_id}] not reached by any case")
            if fail_under is not None and cov.percent + 1e-9 < fail_under:
                click.echo(f"coverage {cov.percent:.1f}% is below --fail-under {fail_under:g}%")
                below = True
    sys.exit(1 if run.failed or below else 0)
