"""Checkpoints written atomically (temp file, fsync, rename, fsync the folder).

A checkpoint records how far the input was read, how long the outputs were then,
the summary so far, and what the run depends on (input fingerprint, rule-set and
model versions), so that `--resume` continues only the same job.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from triage.batch.writers import fsync_dir


def fingerprint(path: Path) -> str:
    """Size plus the hash of the first MiB: cheap, and catches a replaced input."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
    return f"{path.stat().st_size}:{h.hexdigest()}"


def save(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(data))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def load(path: Path) -> dict[str, Any] | None:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError):
        return None


def remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".tmp")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
