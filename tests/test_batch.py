"""Batch re-triage: nothing lost, kill-safe, identical however the run is split; and diff."""
from __future__ import annotations

import csv
import json
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import RULES
from test_cli_route import random_tickets

BAD_LINES = [b"{not json", b"[1, 2, 3]", b"\"just a string\"", b"", b"\xff\xfe invalid utf-8",
             b'{"id": "no-date", "category": "billing"}', b'{"id": "bad-cat", "created_at": "2026-11-25T08:00:00Z", "category": "teleport"}',
             b'{"id": 5, "created_at": "2026-11-25T08:00:00Z", "category": "billing"}',
             b'{"id": "neg", "created_at": "2026-11-25T08:00:00Z", "category": "billing", "affected_customers": -2}']


def make_backlog(path: Path, n: int, seed: int = 1) -> tuple[int, int]:
    """Tickets with planted bad records; returns (records, planted bad)."""
    rnd = random.Random(seed)
    lines, bad = [], 0
    for t in random_tickets(n, seed=seed):
        t["previous"] = {"tier": rnd.choice(["CSS", "NSS"]), "priority": "P3"}
        lines.append(json.dumps(t).encode())
        if rnd.random() < 0.02:
            lines.append(rnd.choice(BAD_LINES))
            bad += 1
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines), bad


def triage_cmd(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True, timeout=600, **kw)


def retriage(inp: Path, out: Path, err: Path, *extra: str) -> subprocess.CompletedProcess:
    return triage_cmd("retriage", str(inp), "--out", str(out), "--errors", str(err), "--rules", str(RULES),
                      "-q", *extra)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_bytes().splitlines()]


def assert_complete(n_records: int, out: Path, err: Path) -> list[dict]:
    decided, errors = lines_of(out), lines_of(err)
    assert len(decided) + len(errors) == n_records
    ids = [d["ticket_id"] for d in decided]
    assert len(ids) == len(set(ids))
    assert len({e["line"] for e in errors}) == len(errors)
    assert all(e["reason"] for e in errors)
    return decided


def test_every_record_is_decided_or_reported(tmp_path):
    inp = tmp_path / "in.jsonl"
    n, bad = make_backlog(inp, 3000)
    proc = retriage(inp, tmp_path / "out.jsonl", tmp_path / "err.jsonl", "--summary-json", str(tmp_path / "s.json"))
    assert proc.returncode == 1, proc.stderr
    assert_complete(n, tmp_path / "out.jsonl", tmp_path / "err.jsonl")
    assert len(lines_of(tmp_path / "err.jsonl")) == bad
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["records"] == n and summary["errors"] == bad
    assert summary["changed"]["tier"]["compared"] == n - bad
    assert sum(summary["counts"]["priority"].values()) == n - bad


def test_jsonl_blocks_split_into_the_lines_a_file_gives(tmp_path):
    """Workers get a JSONL chunk as one block and split it again: the same numbered lines
    (newline kept, a lone \\r inside a line), and positions that resume where they say."""
    from triage.batch.records import Position, read_chunks, read_records

    data = b'{"a": 1}\n\n{"b": 2}\r\n\xff\xfe\n{"c": "x\ry"}\n  \n{"d": 4}'  # no final newline
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as f:
        expected = list(enumerate(f, 1))
    for size in (1, 2, 3, 100):
        chunks = list(read_chunks(path, Position(), size))
        assert [r for chunk, _ in chunks for r in pickle.loads(pickle.dumps(chunk))] == expected
        assert [len(chunk) for chunk, _ in chunks] == [min(size, len(expected) - i) for i in range(0, len(expected), size)]
        assert chunks[-1][1] == Position(len(expected), len(data))
        for _, pos in chunks:
            assert [r for chunk, _ in read_records(path, pos, size) for r in chunk] == expected[pos.records:]


def test_all_good_exits_0_and_usage_errors_exit_2(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(json.dumps(t) for t in random_tickets(50)) + "\n")
    assert retriage(inp, tmp_path / "o.jsonl", tmp_path / "e.jsonl").returncode == 0
    assert retriage(tmp_path / "missing.jsonl", tmp_path / "o.jsonl", tmp_path / "e.jsonl").returncode == 2
    assert retriage(inp, tmp_path / "o.txt", tmp_path / "e.jsonl").returncode == 2
    assert triage_cmd("retriage", str(inp)).returncode == 2


@pytest.mark.parametrize("kill_after", [0.3, 0.9, 1.6])
def test_kill_minus_9_then_resume_loses_and_repeats_nothing(tmp_path, kill_after):
    inp = tmp_path / "in.jsonl"
    n, _ = make_backlog(inp, 30000, seed=2)
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    args = [sys.executable, "-m", "triage", "retriage", str(inp), "--out", str(out), "--errors", str(err),
            "--rules", str(RULES), "-q", "--chunk-size", "700"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after + random.random() * 0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(args + ["--resume"], capture_output=True, timeout=600)
    assert resumed.returncode == 1, resumed.stderr
    decided = assert_complete(n, out, err)
    assert not Path(str(out) + ".checkpoint").exists()
    reference = tmp_path / "ref.jsonl"
    retriage(inp, reference, tmp_path / "referr.jsonl")
    assert out.read_bytes() == reference.read_bytes()
    assert len(decided) > 0


def test_resume_refuses_a_different_input(tmp_path):
    inp = tmp_path / "in.jsonl"
    make_backlog(inp, 200)
    out, err = tmp_path / "o.jsonl", tmp_path / "e.jsonl"
    from triage.batch import checkpoint

    checkpoint.save(Path(str(out) + ".checkpoint"), {"identity": {"input": "elsewhere"}, "position": {},
                                                   "out": {}, "errors": {}, "summary": {}})
    proc = retriage(inp, out, err, "--resume")
    assert proc.returncode == 2 and b"different input" in proc.stderr


def test_jobs_and_dask_give_identical_decisions(tmp_path):
    inp = tmp_path / "in.jsonl"
    make_backlog(inp, 6000, seed=3)
    runs = {}
    for name, extra in {"serial": [], "jobs2": ["--jobs", "2"], "dask": ["--dask", "local", "--jobs", "2"]}.items():
        out, err = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.err.jsonl"
        proc = retriage(inp, out, err, "--chunk-size", "500", *extra)
        assert proc.returncode == 1, proc.stderr
        runs[name] = (out.read_bytes(), err.read_bytes())
    assert runs["serial"] == runs["jobs2"] == runs["dask"]


def test_csv_and_parquet_in_and_out(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tickets = random_tickets(400, seed=9)
    flat = []
    for t in tickets:
        row = {}
        for k, v in t.items():
            if isinstance(v, dict):
                row.update({f"{k}.{kk}": vv for kk, vv in v.items()})
            else:
                row[k] = v
        flat.append(row)
    flat[5]["affected_customers"] = "many"  # planted bad record
    cols = sorted({k for r in flat for k in r})
    with open(tmp_path / "in.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows({k: "" if r.get(k) is None else r[k] for k in cols} for r in flat)
    proc = retriage(tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "err.csv")
    assert proc.returncode == 1, proc.stderr
    with open(tmp_path / "out.csv") as f:
        rows = list(csv.DictReader(f))
    errs = [json.loads(x) for x in (tmp_path / "err.csv").read_text().splitlines()]  # JSON Lines whatever its name
    assert len(rows) == 399 and [e["row"] for e in errs] == [6] and "affected_customers" in errs[0]["reason"]
    assert rows[0]["ticket_id"] == tickets[0]["id"] and "handoff.at" in rows[0]

    flat[5]["affected_customers"] = 1
    pq.write_table(pa.Table.from_pylist(flat), tmp_path / "in.parquet")
    proc = retriage(tmp_path / "in.parquet", tmp_path / "out.parquet", tmp_path / "err.jsonl")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 400 and table.column("ticket_id").to_pylist()[:2] == [t["id"] for t in tickets[:2]]


def test_diff_reports_transitions_samples_and_rows(tmp_path):
    import shutil

    new = tmp_path / "new"
    shutil.copytree(RULES, new)
    text = (new / "priority.yaml").read_text().replace('{affected_customers: {">=": 5}}', '{affected_customers: {">=": 4}}')
    (new / "priority.yaml").write_text(text)
    inp = tmp_path / "in.jsonl"
    tickets = random_tickets(2000, seed=4)
    inp.write_text("\n".join(json.dumps(t) for t in tickets) + "\n")
    proc = triage_cmd("diff", str(inp), "--old-rules", str(RULES), "--new-rules", str(new), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    four = [t for t in tickets if t["affected_customers"] == 4]
    from triage import Triage

    old = Triage(rules=RULES, model=False)
    expected = sum(1 for t in four if old.route(t).priority != "P1")
    assert report["fields"]["priority"]["changed"] == expected > 0
    to_p1 = [t for t in report["fields"]["priority"]["transitions"] if t["to"] == "P1"]
    assert sum(t["count"] for t in to_p1) == expected
    assert all(len(t["samples"]) <= 3 for t in to_p1)
    assert any(r["rule"] == "priority/mass-impact" and r["delta"] == len(four) for r in report["rows"])
    md = triage_cmd("diff", str(inp), "--old-rules", str(RULES), "--new-rules", str(new), "--out", str(tmp_path / "r.md"))
    assert md.returncode == 0 and "P1" in (tmp_path / "r.md").read_text()
