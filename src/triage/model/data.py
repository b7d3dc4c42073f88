"""Reading labelled text for training and evaluation: CSV, JSON Lines or Parquet.

The format is told by the extension (.csv; .jsonl/.ndjson; .parquet/.pq). A directory
stands for the data files directly in it, in name order. The text of a row is its text
columns joined by newlines (a missing or null value is ""), as `ticket_text` joins a
ticket's subject and body, so the model reads training rows and live tickets alike.
Every problem is a `TriageError` naming the file (and the line, where there is one).
"""
from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from triage.errors import TriageError
from triage.model.text import join_fields

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class LabelledData:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def sha256(self) -> str:
        """SHA-256 of the (label, text) pairs in order: identifies the data, not its files."""
        return data_sha256(self.texts, self.labels)


def data_sha256(texts: Iterable[str], labels: Iterable[str]) -> str:
    h = hashlib.sha256()
    for text, label in zip(texts, labels):
        h.update(label.encode() + b"\x1f" + text.encode() + b"\x1e")
    return h.hexdigest()


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, plus the data files directly inside directories named."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in FORMATS)
            if not found:
                raise TriageError(f"{p}: no .csv, .jsonl or .parquet files in this directory")
            files += found
        elif not p.exists():
            raise TriageError(f"{p}: no such file or directory")
        elif p.suffix.lower() not in FORMATS:
            raise TriageError(f"{p}: unknown format '{p.suffix}' (use .csv, .jsonl or .parquet)")
        else:
            files.append(p)
    return files


def read_labelled(paths: Sequence[str | Path], text_columns: Sequence[str],
                  label_column: str) -> LabelledData:
    """Read (text, label) rows from every file; refuse empty data and missing columns."""
    if not text_columns:
        raise TriageError("give at least one text column")
    data = LabelledData()
    for path in expand_paths(paths):
        reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[
            FORMATS[path.suffix.lower()]]
        try:
            before = len(data.texts)
            reader(path, list(text_columns), label_column, data)
        except OSError as e:
            raise TriageError(f"{path}: cannot read: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise TriageError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        if len(data.texts) == before:
            raise TriageError(f"{path}: no data rows")
        data.files.append(path)
    if not data.texts:
        raise TriageError("no data files given")
    return data


def _missing(path: Path, wanted: Sequence[str], available: Iterable[str]) -> None:
    have = list(available)
    missing = [c for c in wanted if c not in have]
    if missing:
        names = ", ".join(f"'{c}'" for c in missing)
        raise TriageError(f"{path}: no column {names} (columns: {', '.join(have) or 'none'})")


def _label(value: object, path: Path, where: str) -> str:
    if value is None or value == "":
        raise TriageError(f"{path}:{where}: the label is empty")
    return str(value)


def _read_csv(path: Path, text_columns: list[str], label_column: str, data: LabelledData) -> None:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            header = reader.fieldnames or []
        except csv.Error as e:
            raise TriageError(f"{path}: not valid CSV ({e})") from None
        _missing(path, [*text_columns, label_column], header)
        try:
            for row in reader:
                data.texts.append(join_fields(row.get(c) for c in text_columns))
                data.labels.append(_label(row.get(label_column), path, f"{reader.line_num}"))
        except csv.Error as e:
            raise TriageError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None


def _read_jsonl(path: Path, text_columns: list[str], label_column: str, data: LabelledData) -> None:
    seen: set[str] = set()
    rows = []
    with path.open("rb") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise TriageError(f"{path}:{line_no}: not valid JSON ({e})") from None
            if not isinstance(record, dict):
                raise TriageError(f"{path}:{line_no}: a line must hold a JSON object")
            seen.update(record)
            rows.append((line_no, record))
    if rows:
        # A column is missing when no record has it; a record without it reads as null.
        _missing(path, [*text_columns, label_column], seen)
    for line_no, record in rows:
        data.texts.append(join_fields(record.get(c) for c in text_columns))
        data.labels.append(_label(record.get(label_column), path, str(line_no)))


def _read_parquet(path: Path, text_columns: list[str], label_column: str, data: LabelledData) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        _missing(path, [*text_columns, label_column], pf.schema_arrow.names)
        table = pf.read(columns=list(dict.fromkeys([*text_columns, label_column])))
    except (pa.ArrowException, ValueError) as e:
        raise TriageError(f"{path}: not a readable Parquet file ({e})") from None
    columns = [table.column(c).to_pylist() for c in text_columns]
    data.texts.extend(join_fields(values) for values in zip(*columns))
    for i, value in enumerate(table.column(label_column).to_pylist()):
        data.labels.append(_label(value, path, f"row {i + 1}"))
