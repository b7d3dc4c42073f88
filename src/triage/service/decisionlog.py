"""The decision log: one JSON line per decided ticket (as OPA's decision logs).

Each line: `request_id`, `ticket_id`, `decision` (or `error`), `ruleset_version`,
`model_version`, `latency_ms`, `at`. Lines are buffered in memory and written every
`interval` seconds, and at a clean stop, as whole lines in one `write` to a file
opened with O_APPEND: several worker processes can share one file and no line is
split or lost on a clean stop (only a crash can lose the last interval's lines).
"""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import orjson


class DecisionLog:
    def __init__(self, path: str | Path, interval: float = 0.5, max_buffered: int = 10_000):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._buf: list[bytes] = []
        self._interval = interval
        self._max = max_buffered
        self._task: asyncio.Task[None] | None = None

    def add(self, request_id: str, decision: dict[str, Any] | None, error: dict[str, Any] | None,
            ruleset_version: str, model_version: str | None, latency_s: float) -> None:
        entry = {"at": time.time(), "request_id": request_id,
                 "ticket_id": decision["ticket_id"] if decision else (error or {}).get("id"),
                 "ruleset_version": ruleset_version, "model_version": model_version,
                 "latency_ms": round(latency_s * 1000, 3)}
        if decision is not None:
            entry["decision"] = decision
        else:
            entry["error"] = error
        self._buf.append(orjson.dumps(entry) + b"\n")
        if len(self._buf) >= self._max:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        data, self._buf = b"".join(self._buf), []
        view = memoryview(data)
        while view:  # a regular file takes it all at once; the loop only guards short writes
            n = os.write(self._fd, view)
            view = view[n:]

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.flush()

    def close(self) -> None:
        """Write what is buffered and close: called after the last request has been answered."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.flush()
        os.close(self._fd)
