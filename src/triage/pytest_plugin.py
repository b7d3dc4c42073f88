"""pytest plugin (entry point `pytest11`): rule tests (`*.test.yaml`) become test items.

Importing this module is cheap: triage's rule engine and model load only when a
`*.test.yaml` file is actually collected and run. One `Triage` per rule folder is
shared by the session (no model: rule tests give their category) and closed at the end.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

PATTERNS = (".test.yaml", ".test.yml")
_POOL = pytest.StashKey[Any]()


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(PATTERNS):
        return RuleTestFile.from_parent(parent, path=file_path)
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


def _pool(config: pytest.Config) -> Any:
    pool = config.stash.get(_POOL, None)
    if pool is None:
        from triage.ruletests.runner import TriagePool

        pool = config.stash[_POOL] = TriagePool()
    return pool


class RuleTestFailure(Exception):
    """A rule test whose decision differs from what it expects (or could not run)."""


class RuleTestFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from triage.errors import RuleFileError
        from triage.ruletests.runner import load_test_file

        try:
            cases = load_test_file(self.path)
        except RuleFileError as exc:
            yield BrokenRuleTestFile.from_parent(self, name="<file>", error=str(exc))
            return
        for lc in cases:
            yield RuleTestItem.from_parent(self, name=lc.name, loaded=lc)


class RuleTestItem(pytest.Item):
    def __init__(self, *, loaded: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded

    def runtest(self) -> None:
        from triage.ruletests.runner import run_case

        result = run_case(_pool(self.config).get(self.loaded.rules_dir), self.loaded)
        if not result.ok:
            lines = list(result.problems) + ([result.error] if result.error else [])
            decided = [f"  {name} = {'null' if v is None else v}  <- {', '.join(c.split('/', 1)[1] for c in cited)}"
                       for name, (v, cited) in result.decided.items()]
            raise RuleTestFailure("\n".join(lines + (["decided:"] + decided if decided else [])))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, RuleTestFailure):
            where = f"{self.path}:{self.loaded.line}" if self.loaded.line else str(self.path)
            return f"rule test {self.name!r} ({where}) failed:\n{excinfo.value}"
        from triage.errors import TriageError

        if isinstance(excinfo.value, TriageError):
            return f"rule test {self.name!r}: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.loaded.line - 1 if self.loaded.line else None
        return self.path, line, f"rule test: {self.name}"


class BrokenRuleTestFile(pytest.Item):
    """Stands for a test file that cannot be read, so that the run fails and says why."""

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise RuleTestFailure(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        return f"invalid rule test file: {self.error}"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, "rule test file"
