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


class Unusable(Exception):
    """The checkpoint exists but cannot be used (truncated, corrupted, edited)."""


def load(path: Path) -> dict[str, Any] | None:
    """The checkpoint at `path`, None when there is none; `Unusable` when it is damaged."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unusable(exc.strerror or str(exc)) from None
    except orjson.JSONDecodeError as exc:
        raise Unusable(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("identity"), dict):
        raise Unusable("not a checkpoint (no `identity`)")
    return data


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def shape_problem(data: Any) -> str | None:
    """What is missing or of the wrong type in a checkpoint (None when it looks right)."""
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in ("identity", "position", "out", "errors", "summary"):
        if not isinstance(data.get(key), dict):
            return f"`{key}` is missing or not an object"
    pos = data["position"]
    if set(pos) != {"records", "offset"} or not all(_count(v) for v in pos.values()):
        return "`position` is not two counts"
    for key in ("out", "errors"):
        if not all(_count(v) for v in data[key].values()) or len(data[key]) != 1:
            return f"`{key}` is not one count"
    summary = data["summary"]
    if not all(_count(summary.get(k)) for k in ("records", "decided", "errors")):
        return "`summary` lacks its counts"
    counts, changed = summary.get("counts"), summary.get("changed", {})
    if not isinstance(counts, dict) or not all(isinstance(c, dict) and all(_count(n) for n in c.values())
                                               for c in counts.values()):
        return "`summary.counts` is not counts"
    if not isinstance(changed, dict) or not all(
            isinstance(c, dict) and _count(c.get("compared")) and _count(c.get("changed")) for c in changed.values()):
        return "`summary.changed` is not counts"
    return None


def remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".tmp")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
