"""`triage serve` in a subprocess on a free loopback port, and an HTTP/1.1 client for it
(shared by the service's tests and the integration example's)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`triage serve` in a subprocess; `stop()` sends SIGTERM and returns the exit code."""

    def __init__(self, rules: Path, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.terminated = False
        self.log = open(rules.parent / f"serve-{self.port}.log", "w+b")
        cmd = [sys.executable, "-m", "triage", "serve", "--rules", str(rules), "--host", "127.0.0.1",
               "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"triage serve exited {self.proc.returncode}: {self.output()}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("triage serve did not become ready: " + self.output())

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, dict, object]:
        c = conn or self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            raw = r.read()
            ctype = r.getheader("content-type", "")
            data = json.loads(raw) if "json" in ctype else raw.decode()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if conn is None:
                c.close()

    def get(self, path: str, **kw) -> tuple[int, dict, object]:
        return self.request("GET", path, **kw)

    def post(self, path: str, payload: object, **kw) -> tuple[int, dict, object]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", path, body, {"content-type": "application/json", **kw.pop("headers", {})}, **kw)

    def hup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def wait_info(self, done, timeout: float = 30) -> dict:
        """Poll /v1/info until `done(info)` (a reload finished or was refused)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.get("/v1/info")[2]
            if done(info):
                return info
            time.sleep(0.05)
        raise AssertionError("the reload did not finish: " + self.output())

    def terminate(self) -> None:
        """One SIGTERM (a second one would ask uvicorn to stop without draining)."""
        if not self.terminated:
            self.terminated = True
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 10) -> int:
        self.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]
