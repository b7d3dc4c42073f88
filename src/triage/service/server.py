"""Running the application on uvicorn: one process, or a supervisor over N workers.

One process (`--workers 1`, the default) serves on its own event loop; SIGHUP reloads
it, SIGTERM/SIGINT drain it (uvicorn stops accepting, answers what is in flight within
`GRACE` seconds, then the lifespan's shutdown flushes the decision log).

With `--workers N` the supervisor binds the socket, points prometheus-client at a
shared folder, and forks N workers that accept on the same socket; each builds its own
`Triage` (durable_rules' engines cannot cross processes). SIGHUP is passed on to every
worker, each reloads and checks on its own (so for a moment two workers may serve
different versions: every answer names its versions); with `--watch` the supervisor
polls the folders and sends the SIGHUPs. SIGTERM is passed on and waited for; a worker
that dies is replaced.
"""
from __future__ import annotations

import logging
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any

from triage.service.settings import Settings

log = logging.getLogger("triage.service")
GRACE = 7.0  # seconds uvicorn gives in-flight requests on SIGTERM: the whole stop stays under 10 s
KEEP_ALIVE = 75.0  # idle keep-alive connections cost little on an event loop; outlast client pools (nginx: 75 s)


def _raise_fd_limit() -> None:
    """Hundreds of idle connections need as many descriptors: take the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def uvicorn_config(app: Any, host: str, port: int, **kw: Any) -> Any:
    """uvicorn's public settings for an exposed service."""
    import importlib.util

    import uvicorn

    from triage.service.protocol import MAX_HEAD, http_protocol

    fast = importlib.util.find_spec("uvloop") is not None
    return uvicorn.Config(
        app, host=host, port=port, lifespan="on", access_log=False, log_config=None,
        loop="uvloop" if fast else "asyncio", http=http_protocol(), h11_max_incomplete_event_size=MAX_HEAD,
        timeout_keep_alive=KEEP_ALIVE, timeout_graceful_shutdown=GRACE, server_header=False, proxy_headers=False,
        backlog=2048, **kw)


def build_service(settings: Settings) -> Any:
    """The first version (refused → exit 2 with the reason) and the service around it."""
    from triage.service.adapter import Refused, load_version
    from triage.service.app import Service

    try:
        version = load_version(settings.rules, settings.model)
    except Refused as exc:
        log.error("cannot start: %s", exc, extra={"event": "start-refused", "problems": exc.problems})
        sys.exit(2)
    return Service(settings, version)


def serve_one(settings: Settings, host: str, port: int, sock: socket.socket | None = None) -> None:
    """Serve in this process until SIGTERM/SIGINT."""
    import uvicorn

    from triage.process import tune_for_streaming

    # A SIGHUP while the first version is being built must not end the process (the
    # default action): it is remembered, and answered by a reload once serving.
    early: list[str] = []
    signal.signal(signal.SIGHUP, lambda *_: early.append("SIGHUP (during start-up)"))
    service = build_service(settings)
    service.early_reloads = early
    tune_for_streaming()  # the collector's full passes would walk the model and engine on every request burst
    config = uvicorn_config(service.app(), host, port)
    server = uvicorn.Server(config)
    # uvicorn drains on SIGTERM/SIGINT, then hands the signal to the handler that was
    # there before it: a no-op here, so that a clean stop exits 0 rather than by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run(sockets=[sock] if sock is not None else None)


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    _raise_fd_limit()
    if workers <= 1:
        serve_one(settings, host, port)
        return
    Supervisor(settings, host, port, workers).run()


class Supervisor:
    """Forks the workers, passes signals on, replaces a worker that dies."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int):
        self.settings, self.host, self.port, self.n = settings, host, port, workers
        self.children: dict[int, int] = {}  # pid -> slot
        self.stopping = False
        self.failed = False  # a worker could not start: the supervisor exits 2 too

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock

    def _spawn(self, slot: int, sock: socket.socket) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until serve_one remembers it
                for s in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(s, signal.SIG_DFL)
                worker = Settings(**{**vars(self.settings), "watch": False})  # the supervisor watches
                serve_one(worker, self.host, self.port, sock)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker failed")
                code = 1
            finally:
                os._exit(code)
        self.children[pid] = slot

    def run(self) -> None:
        mp_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        own_dir = None
        if not mp_dir:
            own_dir = mp_dir = tempfile.mkdtemp(prefix="triage-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = mp_dir
        # Before forking, so that no signal finds the default action (a worker resets them first thing).
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, lambda *_: self._forward(signal.SIGHUP))
        sock = self._bind()
        for slot in range(self.n):
            self._spawn(slot, sock)
        log.info("supervising", extra={"event": "supervisor-start", "workers": self.n,
                                       "pids": list(self.children)})
        watcher = self._watch_state() if self.settings.watch else None
        try:
            self._loop(sock, watcher)
        finally:
            sock.close()
            if own_dir:
                shutil.rmtree(own_dir, ignore_errors=True)
        if self.failed:
            sys.exit(2)

    def _loop(self, sock: socket.socket, watcher: dict[str, Any] | None) -> None:
        started = {slot: time.monotonic() for slot in range(self.n)}
        deadline = None
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                slot = self.children.pop(pid)
                code = os.waitstatus_to_exitcode(status)
                self._mark_dead(pid)
                if self.stopping:
                    continue
                if code == 2 or time.monotonic() - started[slot] < 5:
                    # It could not start (refused rules or model): so would its replacement.
                    log.error("a worker could not start; stopping", extra={"event": "worker-failed", "code": code})
                    self.failed = True
                    self._stop()
                    continue
                log.warning("worker died, replacing it", extra={"event": "worker-replaced", "pid": pid, "code": code})
                started[slot] = time.monotonic()
                self._spawn(slot, sock)
                continue
            if self.stopping and deadline is None:
                deadline = time.monotonic() + GRACE + 1.0
            if deadline is not None and time.monotonic() > deadline:
                self._forward(signal.SIGKILL)
            if watcher is not None and not self.stopping:
                self._poll(watcher)
            time.sleep(0.1)

    def _stop(self, *_: Any) -> None:
        if not self.stopping:
            self.stopping = True
            self._forward(signal.SIGTERM)

    def _forward(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _mark_dead(self, pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)

    def _watch_state(self) -> dict[str, Any]:
        from pathlib import Path

        from triage.defaults import default_model_dir, default_rules_dir
        from triage.service.reload import folder_signature

        folders = [Path(self.settings.rules) if self.settings.rules else default_rules_dir()]
        model = Path(self.settings.model) if self.settings.model else default_model_dir()
        if model is not None:
            folders.append(model)
        return {"folders": folders, "seen": folder_signature(folders), "next": time.monotonic() + 1,
                "changed": None}

    def _poll(self, w: dict[str, Any]) -> None:
        from triage.service.reload import folder_signature

        if time.monotonic() < w["next"]:
            return
        w["next"] = time.monotonic() + self.settings.watch_interval
        now = folder_signature(w["folders"])
        if now == w["seen"]:
            w["changed"] = None
        elif now == w["changed"]:  # held still for one interval
            w["seen"], w["changed"] = now, None
            log.info("files changed, reloading the workers", extra={"event": "watch-change"})
            self._forward(signal.SIGHUP)
        else:
            w["changed"] = now
