"""Decision tables of the public DMN conformance suite (dmn-tck/tck, compliance level 2),
translated by hand to rule folders under `tests/tck/` (each file names its source table;
the test files say which cases are the suite's and which are ours).

Each folder decides only its own decision (no schedule, no routing decisions): `triage
check` must find no error, its cases must pass on `triage test` (the pytest plugin also
collects them, one item per case), and the three evaluators must agree on random inputs.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.analysis.checker import check_folder
from triage.cli import cli
from triage.facts import load_rules as load_ruleset
from triage.rules.ruleset import RuleEvaluationError

TCK = Path(__file__).parent / "tck"
FOLDERS = sorted(p for p in TCK.iterdir() if p.is_dir())


def test_the_translations_are_here():
    assert len(FOLDERS) >= 6


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_checker_finds_no_error_and_the_cases_pass(folder):
    report = check_folder(folder)
    assert [f.headline() for f in report.findings if f.severity == "error"] == []
    res = CliRunner().invoke(cli, ["test", str(folder), "--coverage"])
    assert res.exit_code == 0, res.stdout
    assert " 0 failed" in res.stdout


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_durable_rules_the_interpreter_and_the_cache_agree(folder):
    rs = load_ruleset(folder)
    rng = random.Random(folder.name)
    for _ in range(200):
        facts = {"Age": rng.choice([0, 11.999, 12, 17, 17.5, 18, 19, 40]),
                 "RiskCategory": rng.choice(["High", "Low", "Medium"]), "isAffordable": rng.random() < 0.7,
                 "NumOfYears": rng.choice([0, 1, 1.5, 2, 3, 4, 4.001, 9])}
        got = []
        for how in ("durable", "python", "cache"):
            f = dict(facts)
            try:
                if how == "cache":
                    rs.decide(f)
                    got.append(f[rs.decisions[0].name])
                else:
                    got.append(rs.evaluate(f, how)[rs.decisions[0].name].value)
            except RuleEvaluationError as exc:
                got.append(type(exc))
        assert got[0] == got[1] == got[2], (facts, got)
    rs.close()
