"""Shared fixtures: the shipped rules, a model-less `Triage`, and ticket generators."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def triage_given():
    """The shipped rules, no model: tickets carry their category."""
    from triage import Triage

    return Triage(rules=RULES, model=False)


UTC = timezone.utc


def utc(s: str) -> datetime:
    """A naive ISO time read as UTC (test tables write times that way)."""
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def sched():
    """The shipped schedule."""
    from triage.schedule import Schedule

    return Schedule.load(RULES / "schedule.yaml")
