"""Hot reload: build and check a new version beside the serving one, then swap.

Triggered by SIGHUP and, with `--watch`, by a change in the rule or model folder
(found by polling file sizes and modification times: no extra dependency, and a
folder on a network file system works too). The build runs in a thread so that the
event loop keeps answering; it holds the GIL much of the time, so answers slow down
during a reload but none fails. Reloads never overlap: a trigger during one is folded
into one more reload after it.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any, Callable

from triage.service.adapter import Refused, load_version
from triage.service.holder import Holder
from triage.service.metrics import Metrics

log = logging.getLogger("triage.service")


class Reloader:
    def __init__(self, holder: Holder, metrics: Metrics, rules: str | None, model: str | None):
        self.holder, self.metrics = holder, metrics
        self.rules, self.model = rules, model
        self._lock = asyncio.Lock()
        self._pending = False

    def trigger(self, reason: str) -> None:
        """Ask for a reload from a signal handler or the watcher (returns at once)."""
        if self._lock.locked():
            self._pending = True
            return
        asyncio.get_running_loop().create_task(self.reload(reason))

    async def reload(self, reason: str) -> bool:
        """Load, check and swap; True if the new version serves now."""
        async with self._lock:
            ok = await self._reload_once(reason)
            while self._pending:
                self._pending = False
                ok = await self._reload_once(reason + " (again: changed during the reload)")
            return ok

    async def _reload_once(self, reason: str) -> bool:
        log.info("reload started", extra={"event": "reload-start", "reason": reason})
        try:
            new = await asyncio.to_thread(load_version, self.rules, self.model)
        except Refused as exc:
            self.holder.refuse(exc.problems, reason)
            self.metrics.reloads.labels("refused").inc()
            cur = self.holder.current
            log.error("reload refused, the last good version keeps serving: %s", exc,
                      extra={"event": "reload-refused", "reason": reason, "problems": exc.problems,
                             "ruleset_version": cur.ruleset_version, "model_version": cur.model_version})
            return False
        except Exception as exc:  # an unexpected failure must not take the service down either
            problems = [{"file": None, "line": None, "code": "internal", "message": f"{type(exc).__name__}: {exc}"}]
            self.holder.refuse(problems, reason)
            self.metrics.reloads.labels("failed").inc()
            log.exception("reload failed, the last good version keeps serving", extra={"event": "reload-failed"})
            return False
        old = self.holder.swap(new, reason)
        _refreeze()
        self.metrics.reloads.labels("ok").inc()
        log.info("reloaded", extra={"event": "reload-ok", "reason": reason,
                                    "ruleset_version": new.ruleset_version, "model_version": new.model_version,
                                    "previous_ruleset_version": old.ruleset_version,
                                    "previous_model_version": old.model_version})
        return True


def _refreeze() -> None:
    """Start-up objects are frozen out of the collector (`tune_for_streaming`); after a
    swap, let one pass free the old version's cycles, then freeze the new one."""
    import gc

    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def folder_signature(folders: list[Path]) -> tuple[Any, ...]:
    """What changes when a file in the folders is written, added, removed or renamed."""
    sig: list[Any] = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                sig.append((p, st.st_size, st.st_mtime_ns))
    return tuple(sig)


async def watch(folders: Callable[[], list[Path]], on_change: Callable[[str], None], interval: float = 1.0) -> None:
    """Poll the folders; call `on_change` once a change has held still for one interval
    (an editor's save or a `cp -r` in progress is not loaded half-written)."""
    seen = folder_signature(folders())
    while True:
        await asyncio.sleep(interval)
        now = folder_signature(folders())
        if now == seen:
            continue
        await asyncio.sleep(interval)
        settled = folder_signature(folders())
        if settled == now:
            seen = settled
            on_change("files changed")
