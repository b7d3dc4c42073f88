"""Outputs that can be cut back to the last checkpoint after a crash.

JSONL and CSV are appended and truncated to the checkpointed byte size on resume.
A Parquet file cannot be appended once its footer is missing, so Parquet output is
written as one part file per chunk beside the target and merged at the end; resume
drops the parts after the checkpoint.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path
from typing import Any

import orjson

from triage.batch.records import file_format
from triage.decision import flatten

def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Sink:
    """Append-only output for decisions or errors, with a resumable state."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = path
        self.columns = columns

    def open(self, state: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def write_jsonl(self, body: bytes) -> None:
        """Decisions as JSON Lines bytes (as workers return them)."""
        if body:
            self.write_rows([flatten(orjson.loads(line)) for line in body.splitlines()])

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def sync(self) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self) -> None:
        pass


class JsonlSink(Sink):
    def open(self, state: dict[str, Any] | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if state and (not self.path.is_file() or self.path.stat().st_size < state["bytes"]):
            raise ValueError(f"{self.path} is shorter than its checkpoint says ({state['bytes']} bytes)")
        self.f = open(self.path, "r+b" if state and self.path.exists() else "wb")
        if state:
            self.f.truncate(state["bytes"])
            self.f.seek(state["bytes"])

    def write_jsonl(self, body: bytes) -> None:
        self.f.write(body)

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.f.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))

    def sync(self) -> dict[str, Any]:
        self.f.flush()
        os.fsync(self.f.fileno())
        return {"bytes": self.f.tell()}

    def finish(self) -> None:
        self.f.close()


class CsvSink(JsonlSink):
    def open(self, state: dict[str, Any] | None) -> None:
        super().open(state)
        if not state:
            self._write([self.columns])

    def write_jsonl(self, body: bytes) -> None:
        Sink.write_jsonl(self, body)

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        self._write([[_cell(r.get(c)) for c in self.columns] for r in rows])

    def _write(self, rows: list[list[Any]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self.f.write(buf.getvalue().encode())


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


class ParquetSink(Sink):
    def open(self, state: dict[str, Any] | None) -> None:
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.merged = False
        if not state and self.parts.exists():
            shutil.rmtree(self.parts)
        self.count = state["parts"] if state else 0
        self.pending: list[dict[str, Any]] = []
        if state and any(not self._part(i).is_file() for i in range(self.count)):
            # Parts are removed only once the merged file has replaced the target, so a
            # run killed while removing them (or before its checkpoint went) is finished.
            if not self.path.is_file():
                raise ValueError(f"{self.parts}: parts of the checkpointed output are missing")
            self.merged = True
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        for p in self.parts.glob("part-*.parquet"):
            if int(p.stem.split("-")[1]) >= self.count:
                p.unlink()

    def _part(self, i: int) -> Path:
        return self.parts / f"part-{i:08d}.parquet"

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        self.pending.extend(rows)

    def sync(self) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.pending:
            table = pa.Table.from_pylist([{c: _text(r.get(c)) for c in self.columns} for r in self.pending],
                                         schema=pa.schema([(c, pa.string()) for c in self.columns]))
            tmp = self.parts / f"tmp-{self.count:08d}.parquet"
            pq.write_table(table, tmp)
            os.replace(tmp, self.parts / f"part-{self.count:08d}.parquet")
            fsync_dir(self.parts)
            self.count += 1
            self.pending = []
        return {"parts": self.count}

    def finish(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.merged:
            schema = pa.schema([(c, pa.string()) for c in self.columns])
            tmp = self.path.with_name(self.path.name + ".tmp")
            with pq.ParquetWriter(tmp, schema) as writer:
                for i in range(self.count):
                    writer.write_table(pq.read_table(self._part(i), schema=schema))
            fsync_file(tmp)
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
        shutil.rmtree(self.parts, ignore_errors=True)


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def make_sink(path: str | Path, columns: list[str]) -> Sink:
    """The sink for `path`'s format (by its suffix)."""
    fmt = file_format(path)
    cls = {"jsonl": JsonlSink, "csv": CsvSink, "parquet": ParquetSink}[fmt]
    return cls(Path(path), columns)


def error_sink(path: str | Path) -> Sink:
    """The error output: always JSON Lines, whatever the file is named (`rejected.txt`)."""
    return JsonlSink(Path(path), [])
