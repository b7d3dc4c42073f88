"""The layout of a rule folder: which file names mean what.

One place for it, read by the loader, the checker, the correlator, the rule-test
runner and the router: a folder holds one YAML file per decision, plus `facts.yaml`
(fact domains), `schedule.yaml` (shifts, calendars, targets), `correlation.yaml`
(multi-customer incidents) and `*.test.yaml` rule tests.
"""
from __future__ import annotations

from pathlib import Path

FACTS_FILE = "facts.yaml"
SCHEDULE_FILE = "schedule.yaml"
CORRELATION_FILE = "correlation.yaml"
SPECIAL_FILES = frozenset({FACTS_FILE, SCHEDULE_FILE, CORRELATION_FILE})
TEST_SUFFIXES = (".test.yaml", ".test.yml")
TEST_PATTERNS = tuple("*" + s for s in TEST_SUFFIXES)


def decision_entries(folder: Path) -> list[Path]:
    """Every entry named like a decision file, whatever it is (a folder is reported, not skipped)."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix in (".yaml", ".yml")
                  and p.name not in SPECIAL_FILES and not p.name.endswith(TEST_SUFFIXES))


def rule_files(folder: Path) -> list[Path]:
    """Decision files of a folder: YAML files other than facts/schedule/correlation/tests."""
    return [p for p in decision_entries(folder) if p.is_file()]


def deciding_files(folder: Path) -> list[str]:
    """Names of every file whose content decides (the rule set's version hashes them)."""
    return sorted({p.name for p in rule_files(folder)} | {n for n in SPECIAL_FILES if (folder / n).is_file()})
