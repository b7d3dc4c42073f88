"""The service's parts on their own: the version holder, the adapter's refusals, the
decision log and the command line's size option."""
from __future__ import annotations

import asyncio
import json
import shutil

import pytest

pytest.importorskip("prometheus_client")

from conftest import RULES  # noqa: E402


class FakeVersion:
    def __init__(self, name: str):
        self.ruleset_version = self.name = name
        self.model_version = None
        self.users = 0
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_a_swapped_out_version_is_closed_once_its_last_request_is_done():
    from triage.service.holder import Holder

    old, new = FakeVersion("old"), FakeVersion("new")
    h = Holder(old)
    with h.using() as v:
        assert v is old
        h.swap(new, "test")
        with h.using() as w:
            assert w is new  # a request that starts now gets the new version
        assert old.closed == 0  # still deciding with it
    assert old.closed == 1 and new.closed == 0 and h.generation == 2
    h.swap(FakeVersion("newer"), "test")  # unused: closed at once
    assert new.closed == 1


def test_a_refused_reload_keeps_the_version_and_records_the_problems():
    from triage.service.holder import Holder

    v = FakeVersion("v")
    h = Holder(v)
    h.refuse([{"file": "tier.yaml", "line": 3, "message": "bad"}], "SIGHUP")
    assert h.current is v and h.generation == 1 and h.last_error["problems"][0]["line"] == 3
    h.swap(FakeVersion("w"), "SIGHUP")
    assert h.last_error is None and h.last_reload["ok"]


def test_a_rule_set_the_checker_rejects_is_refused_naming_file_and_line(tmp_path):
    from triage.service.adapter import Refused, load_version

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    f = rules / "priority.yaml"
    # Loads fine, but every later row is shadowed: `triage check` reports errors.
    f.write_text(f.read_text().replace('{affected_customers: {">=": 5}}', '{affected_customers: {">=": 0}}'))
    with pytest.raises(Refused) as err:
        load_version(rules, None)
    problems = err.value.problems
    assert problems and all(p["file"] == str(f) and p["line"] for p in problems)
    assert {p["code"] for p in problems} & {"row-shadowed", "row-covered-jointly"}


def test_a_rule_file_that_does_not_load_is_refused_with_its_line(tmp_path):
    from triage.service.adapter import Refused, load_version

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    (rules / "tier.yaml").write_text("decision: tier\nrules: [\n")
    with pytest.raises(Refused) as err:
        load_version(rules, None)
    assert any(p["file"] and p["file"].endswith("tier.yaml") and p["line"] for p in err.value.problems)


def test_the_decision_log_writes_whole_lines_and_loses_nothing_on_close(tmp_path):
    from triage.service.decisionlog import DecisionLog

    path = tmp_path / "d.jsonl"

    async def run() -> None:
        log = DecisionLog(path, interval=0.01, max_buffered=7)
        log.start()
        for i in range(50):
            log.add(f"r{i}", {"ticket_id": f"T-{i}", "priority": "P1"}, None, "rv", None, 0.001)
            if i % 10 == 0:
                await asyncio.sleep(0.02)
        log.add("bad", None, {"error": "invalid ticket", "id": "T-x"}, "rv", None, 0.0)
        log.close()

    asyncio.run(run())
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == [f"r{i}" for i in range(50)] + ["bad"]
    assert lines[-1]["ticket_id"] == "T-x" and lines[-1]["error"]["error"] == "invalid ticket"


@pytest.mark.parametrize("text, size", [("1MiB", 1 << 20), ("512KiB", 512 * 1024), ("2MB", 2_000_000),
                                        ("1048576", 1048576), (" 3 kb ", 3000)])
def test_max_body_sizes(text, size):
    from triage.cli.serve_cmd import _size

    assert _size(text) == size


def test_max_body_refuses_nonsense():
    import click

    from triage.cli.serve_cmd import _size

    with pytest.raises(click.BadParameter):
        _size("lots")


def test_the_library_and_the_cli_import_without_the_serve_extra():
    import subprocess
    import sys

    code = ("import sys, triage, triage.cli, triage.cli.serve_cmd; from triage import Triage; "
            "bad = {'uvicorn', 'prometheus_client', 'httptools', 'uvloop'} & set(sys.modules); "
            "sys.exit(f'imported {bad}' if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0
