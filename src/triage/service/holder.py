"""The serving version and its atomic swap.

A request takes the current `Version` once (`using`) and decides with it only, so an
answer is wholly old or wholly new. Swapping is one reference assignment on the event
loop's thread; the old version is closed (its durable_rules engine deleted) only when
the last request still using it is done.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from triage.service.adapter import Version


class Holder:
    """The version now serving, the last reload's outcome, and the retired ones not yet closed."""

    def __init__(self, version: Version):
        self.current = version
        self.generation = 1
        self.last_reload: dict[str, Any] | None = None  # {"at", "ok", "reason", ...}
        self.last_error: dict[str, Any] | None = None  # the last refused reload, kept until one succeeds
        self._retired: list[Version] = []

    @contextmanager
    def using(self) -> Iterator[Version]:
        v = self.current
        v.users += 1
        try:
            yield v
        finally:
            v.users -= 1
            if v is not self.current and v.users == 0 and v in self._retired:
                self._retired.remove(v)
                v.close()

    def swap(self, new: Version, reason: str) -> Version:
        """Serve `new` from now on; returns the old version (closed once unused)."""
        old, self.current = self.current, new
        self.generation += 1
        self.last_reload = {"at": _now(), "ok": True, "reason": reason, "ruleset_version": new.ruleset_version,
                            "model_version": new.model_version}
        self.last_error = None
        if old.users == 0:
            old.close()
        else:
            self._retired.append(old)
        return old

    def refuse(self, problems: list[dict[str, Any]], reason: str) -> None:
        """Record a refused reload: the current version keeps serving."""
        self.last_reload = {"at": _now(), "ok": False, "reason": reason}
        self.last_error = {"at": self.last_reload["at"], "reason": reason, "problems": problems}

    def close(self) -> None:
        for v in self._retired:
            v.close()
        self._retired.clear()
        self.current.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
