"""Streaming input: JSONL, CSV or Parquet by extension, in chunks, resumable.

A record is `(number, payload)`: the 1-based line (JSONL) or data row (CSV/Parquet)
and either raw bytes (JSONL, parsed by the worker) or a dict. `read_chunks` gives a
JSONL chunk as one `Block` of raw lines, which is what runs send to workers. Dotted CSV/Parquet
column names become nested fields (`customer.tier`), and CSV strings are converted
to the ticket's integer fields where the schema expects integers.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from triage.errors import InputError, TriageError
from triage.facts import TICKET_FACTS, TICKET_OBJECTS

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}
# CSV cells are text: the ticket model's integer fields, by their paths, are read as numbers.
INT_PATHS = tuple(f.path for f in TICKET_FACTS if f.type == "int")


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unknown format {suffix or '(no extension)'!r}; use .jsonl, .csv or .parquet")
    return FORMATS[suffix]


@dataclass
class Position:
    """Where reading stands: records consumed and, for JSONL, the byte offset."""

    records: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Block:
    """A JSONL chunk as its raw bytes: `count` lines, the first one numbered `first`.

    One bytes object pickles and crosses a pipe at memcpy cost, where a list of one
    (number, bytes) tuple per line costs the reader, the pickler and the worker an
    object or more per line; the worker splits the block again for little.
    """

    first: int
    data: bytes
    count: int

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        """The records as `read_records` gives them: (line number, line with its newline)."""
        return enumerate(io.BytesIO(self.data), self.first)


Chunk = Block | list[tuple[int, Any]]  # what a worker gets: a JSONL block, or CSV/Parquet records


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"customer.tier": "x"}` -> `{"customer": {"tier": "x"}}`; None/"" cells are left out."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None or value == "":
            continue
        parts = str(key).split(".")
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {}
            node = nxt
        node[parts[-1]] = value
    return out


def _csv_types(rec: dict[str, Any]) -> dict[str, Any]:
    for path in INT_PATHS:
        node = rec
        for p in path[:-1]:
            node = node.get(p) if isinstance(node, dict) else None
        v = node.get(path[-1]) if isinstance(node, dict) else None
        if isinstance(v, str):
            try:
                node[path[-1]] = int(v.strip())  # type: ignore[index]
            except ValueError:
                pass  # left as text: validation names the field
    for key in TICKET_OBJECTS:
        node = rec.get(key[0]) if len(key) == 1 else None
        if isinstance(node, dict):
            for k, v in list(node.items()):
                if v in ("null", "None"):
                    node[k] = None
    return rec


def read_records(path: str | Path, start: Position, chunk_size: int) -> Iterator[tuple[list[tuple[int, Any]], Position]]:
    """Chunks of records from `start`, each with the position after it."""
    for chunk, pos in read_chunks(path, start, chunk_size):
        yield list(chunk), pos


def read_chunks(path: str | Path, start: Position, chunk_size: int) -> Iterator[tuple[Chunk, Position]]:
    """`read_records`, with each JSONL chunk as one `Block` (records lists for CSV/Parquet)."""
    fmt = file_format(path)
    try:
        if fmt == "jsonl":
            yield from _jsonl(Path(path), start, chunk_size)
        elif fmt == "csv":
            yield from _csv(Path(path), start, chunk_size)
        else:
            yield from _parquet(Path(path), start, chunk_size)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def _jsonl(path: Path, start: Position, chunk_size: int) -> Iterator[tuple[Block, Position]]:
    with open(path, "rb") as f:
        f.seek(start.offset)
        n, offset = start.records, start.offset
        while lines := list(islice(f, chunk_size)):  # lines split in C, as `for raw in f` does
            data = b"".join(lines)
            yield Block(n + 1, data, len(lines)), Position(n + len(lines), offset + len(data))
            n, offset = n + len(lines), offset + len(data)


def _csv(path: Path, start: Position, chunk_size: int):
    with open(path, "r", encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        n = 0
        chunk: list[tuple[int, Any]] = []
        rows = iter(reader)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a cell over csv.field_size_limit (see triage.process)
                raise InputError(f"{path}: row {n + 1}: {exc}") from None
            n += 1
            if n <= start.records:
                continue
            if len(row) != len(header):
                rec: Any = ValueError(f"row has {len(row)} cells, the header has {len(header)}")
            else:
                rec = _csv_types(unflatten(dict(zip(header, row))))
            chunk.append((n, rec))
            if len(chunk) >= chunk_size:
                yield chunk, Position(n, 0)
                chunk = []
        if chunk:
            yield chunk, Position(n, 0)


def _parquet(path: Path, start: Position, chunk_size: int):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    n = 0
    chunk: list[tuple[int, Any]] = []
    for batch in pf.iter_batches(batch_size=chunk_size):
        if n + batch.num_rows <= start.records:
            n += batch.num_rows
            continue
        for row in batch.to_pylist():
            n += 1
            if n <= start.records:
                continue
            chunk.append((n, unflatten(_plain(row))))
            if len(chunk) >= chunk_size:
                yield chunk, Position(n, 0)
                chunk = []
    if chunk:
        yield chunk, Position(n, 0)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Arrow timestamps become ISO strings, as tickets carry them."""
    import datetime as dt

    out = {}
    for k, v in row.items():
        if isinstance(v, dt.datetime):
            v = v.isoformat()  # a naive timestamp stays naive: validation refuses it
        elif isinstance(v, dict):
            v = _plain(v)
        out[k] = v
    return out


def count_hint(path: str | Path) -> tuple[int, str]:
    """A total for the progress bar: rows for Parquet, bytes otherwise."""
    if file_format(path) == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows, "records"
        except Exception:
            return 0, "records"
    return Path(path).stat().st_size, "bytes"

