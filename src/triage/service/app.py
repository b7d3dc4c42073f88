"""The ASGI application: the routing table, body limits, auth and the answer of each route.

Where decisions run (measured in `benchmarks/bench_serve.py`): a single ticket is
decided directly on the event loop, because durable_rules holds the GIL anyway and a
decision (tens of microseconds with the cell cache) costs less than a hop to a thread
and back. A batch and an explanation can take milliseconds, so they run in a thread:
the loop keeps reading other requests meanwhile (the engine's own lock keeps
durable_rules single-threaded). Parallelism comes from worker processes (`--workers`).

A route is one entry of `routes()` whose handler reads a body, takes the serving
version once (`holder.using()`) and calls one method of it.
"""
from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import re
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import orjson

from triage.service.adapter import TriageError, Version, error_body, error_code, invalid_fields
from triage.service.asgi import Answer, App, BodyTooLarge, Handler, Request
from triage.service.decisionlog import DecisionLog
from triage.service.holder import Holder
from triage.service.metrics import Metrics
from triage.service.problems import Problem, problem_answer
from triage.service.reload import Reloader
from triage.service.settings import Settings

log = logging.getLogger("triage.service")
JSON = "application/json"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class Service:
    """One worker's state: the holder, metrics, decision log and reloader, and the routes over them."""

    def __init__(self, settings: Settings, version: Version):
        self.settings = settings
        self.holder = Holder(version)
        self.metrics = Metrics()
        self.reloader = Reloader(self.holder, self.metrics, settings.rules, settings.model)
        self.dlog: DecisionLog | None = None
        self._token = settings.token.encode() if settings.token else None
        self._tasks: list[asyncio.Task[None]] = []
        self.early_reloads: list[str] = []  # SIGHUPs that came before the event loop could take them
        self._run_id = f"{os.getpid():x}{int(time.time()):x}"
        self._ids = itertools.count(1)

    # --- plumbing shared by every route ---------------------------------------------------

    def endpoint(self, name: str, handler: Callable[[Request, str], Awaitable[Answer]],
                 auth: bool = True) -> Handler:
        """Wrap a handler with request id, auth, problem answers and metrics."""
        errors = self.metrics.errors
        latency = self.metrics.latency.labels(name)
        counted: dict[tuple[str, int], Any] = {}  # (method, status) -> bound counter: labels() costs µs

        async def run(request: Request) -> Answer:
            t0 = time.perf_counter()
            rid = request.header(b"x-request-id")
            if not _REQUEST_ID.fullmatch(rid):
                rid = self._next_id()
            try:
                if auth and self._token is not None:
                    self._authorise(request)
                answer = await handler(request, rid)
            except Problem as p:
                errors.labels(p.code or str(p.status)).inc()
                answer = self.problem(p)
            except Exception:  # a bug must not take a worker down; it is logged with its traceback
                log.exception("unexpected error", extra={"event": "internal-error", "request_id": rid,
                                                         "path": request.path})
                errors.labels("internal").inc()
                answer = self.problem(Problem(500, "internal error", "see the service log", code="internal"))
            answer.headers.append(("x-request-id", rid))
            key = (request.method, answer.status)
            c = counted.get(key)
            if c is None:
                c = counted[key] = self.metrics.requests.labels(name, request.method, answer.status)
            c.inc()
            latency.observe(time.perf_counter() - t0)
            return answer

        return run

    def _authorise(self, request: Request) -> None:
        scheme, _, given = request.header(b"authorization").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token or b""):
            raise Problem(401, "unauthorised", "send `Authorization: Bearer <token>`", code="unauthorised",
                          headers=[("www-authenticate", "Bearer")])

    def problem(self, p: Problem, version: Version | None = None) -> Answer:
        v = version or self.holder.current
        answer = problem_answer(p, {"ruleset_version": v.ruleset_version, "model_version": v.model_version})
        answer.headers += _version_headers(v)
        return answer

    async def body(self, request: Request) -> bytes:
        limit = self.settings.max_body
        try:
            return await request.body(limit, self.settings.body_timeout)
        except BodyTooLarge:
            # Connection: close makes uvicorn drop the connection after answering instead
            # of reading the rest of the body to find the next request.
            raise Problem(413, "body too large", f"the body exceeds {limit} bytes", code="body-too-large",
                          headers=[("connection", "close")], max_body=limit) from None
        except TimeoutError:
            raise Problem(408, "request timeout", f"the body did not arrive within {self.settings.body_timeout:g} s",
                          code="body-timeout", headers=[("connection", "close")]) from None

    async def json_body(self, request: Request) -> Any:
        data = await self.body(request)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise Problem(400, "malformed JSON", str(exc) if data.strip() else "the body is empty",
                          code="malformed-json") from None

    def invalid(self, err: TriageError, v: Version) -> Answer:
        return self.problem(Problem(422, "invalid ticket", str(err), code=error_code(err) or "invalid-ticket",
                                    ticket_id=getattr(err, "ticket_id", None), errors=invalid_fields(err)), v)

    # --- routes ---------------------------------------------------------------------------

    async def route_one(self, request: Request, rid: str) -> Answer:
        ticket = await self.json_body(request)
        t0 = time.perf_counter()
        with self.holder.using() as v:
            try:
                d = v.route(ticket)
            except TriageError as err:
                self.metrics.errors.labels("invalid-ticket").inc()
                if self.dlog:
                    self.dlog.add(rid, None, error_body(err), v.ruleset_version, v.model_version,
                                  time.perf_counter() - t0)
                return self.invalid(err, v)
            self._decided(rid, d, v, time.perf_counter() - t0)
            return _json(orjson.dumps(d), v)

    async def route_batch(self, request: Request, rid: str) -> Answer:
        items = _batch_items(await self.body(request), request.header(b"content-type"))
        tickets = [x for x in items if not isinstance(x, _BadLine)]
        with self.holder.using() as v:
            t0 = time.perf_counter()
            decided = iter(await asyncio.to_thread(v.route_batch, tickets) if tickets else [])
            dt = time.perf_counter() - t0
            out: list[Any] = []
            counts: Counter[tuple[str, str]] = Counter()  # one metrics update per kind, not per ticket
            for x in items:
                r = x.error if isinstance(x, _BadLine) else next(decided)
                if isinstance(r, TriageError):
                    r = error_body(r)
                if "error" in r:
                    counts["error", ""] += 1
                    if self.dlog:
                        self.dlog.add(rid, None, r, v.ruleset_version, v.model_version, dt)
                else:
                    counts[r["priority"], r["tier"]] += 1
                    if self.dlog:
                        self.dlog.add(rid, r, None, v.ruleset_version, v.model_version, dt)
                out.append(r)
            for (priority, tier), n in counts.items():
                if priority == "error":
                    self.metrics.errors.labels("invalid-ticket").inc(n)
                else:
                    self.metrics.decisions.labels(priority, tier).inc(n)
            return _json(orjson.dumps(out), v)

    async def sweep(self, request: Request, rid: str) -> Answer:
        """`?now=T` (ISO 8601 with a zone; absent: the current time): one case gives one
        sweep output object (422 when invalid), an array or JSON Lines one per case."""
        now = _now(request.query_string)
        body = await self.body(request)
        single = body.lstrip()[:1] == b"{" and b"\n{" not in body.strip()
        items = _batch_items(body, request.header(b"content-type"))
        cases = [x for x in items if not isinstance(x, _BadLine)]
        with self.holder.using() as v:
            t0 = time.perf_counter()
            decided = iter(await asyncio.to_thread(v.sweep, cases, now) if cases else [])
            out = [x.error if isinstance(x, _BadLine) else next(decided) for x in items]
            if single and len(out) == 1:
                if isinstance(out[0], TriageError):
                    self.metrics.errors.labels("invalid-ticket").inc()
                    return self.invalid(out[0], v)
                self._decided(rid, out[0], v, time.perf_counter() - t0)
                return _json(orjson.dumps(out[0]), v)
            out = [error_body(r) if isinstance(r, TriageError) else r for r in out]
            for r in out:
                if "error" in r:
                    self.metrics.errors.labels("invalid-ticket").inc()
                else:
                    self._decided(rid, r, v, time.perf_counter() - t0)
            return _json(orjson.dumps(out), v)

    async def explain(self, request: Request, rid: str) -> Answer:
        ticket = await self.json_body(request)
        with self.holder.using() as v:
            try:
                e = await asyncio.to_thread(v.explain, ticket)
            except TriageError as err:
                self.metrics.errors.labels("invalid-ticket").inc()
                return self.invalid(err, v)
            return _json(orjson.dumps(e), v)

    async def info(self, request: Request, rid: str) -> Answer:
        with self.holder.using() as v:
            data = v.info()
            h = self.holder
            data["service"] = {"pid": os.getpid(), "generation": h.generation, "last_reload": h.last_reload,
                               "last_reload_error": h.last_error, "max_body": self.settings.max_body}
            return _json(orjson.dumps(data), v)

    async def healthz(self, request: Request, rid: str) -> Answer:
        return _json(b'{"status":"ok"}', self.holder.current)

    async def readyz(self, request: Request, rid: str) -> Answer:
        v = self.holder.current
        return _json(orjson.dumps({"status": "ready", "ruleset_version": v.ruleset_version,
                                   "model_version": v.model_version}), v)

    async def metrics_text(self, request: Request, rid: str) -> Answer:
        return Answer(200, self.metrics.render(), self.metrics.content_type, _version_headers(self.holder.current))

    def _decided(self, rid: str, d: dict[str, Any], v: Version, seconds: float) -> None:
        self.metrics.decisions.labels(d["priority"], d["tier"]).inc()
        if self.dlog:
            self.dlog.add(rid, d, None, v.ruleset_version, v.model_version, seconds)

    def routes(self) -> dict[str, dict[str, Handler]]:
        e = self.endpoint
        return {
            "/v1/route": {"POST": e("route", self.route_one)},
            "/v1/route/batch": {"POST": e("route_batch", self.route_batch)},
            "/v1/explain": {"POST": e("explain", self.explain)},
            "/v1/sweep": {"POST": e("sweep", self.sweep)},
            "/v1/info": {"GET": e("info", self.info)},
            "/healthz": {"GET": e("healthz", self.healthz, auth=False)},
            "/readyz": {"GET": e("readyz", self.readyz, auth=False)},
            "/metrics": {"GET": e("metrics", self.metrics_text)},
        }

    # --- life cycle -----------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        import signal

        loop = asyncio.get_running_loop()
        if self.settings.decision_log:
            self.dlog = DecisionLog(self.settings.decision_log)
            self.dlog.start()
        loop.add_signal_handler(signal.SIGHUP, self.reloader.trigger, "SIGHUP")
        if self.early_reloads:
            self.reloader.trigger(self.early_reloads[0])
        if self.settings.watch:
            from triage.service.reload import watch

            self._tasks.append(loop.create_task(watch(self._watched, self.reloader.trigger,
                                                      self.settings.watch_interval)))
        v = self.holder.current
        log.info("serving", extra={"event": "ready", "ruleset_version": v.ruleset_version,
                                   "model_version": v.model_version, "rules": str(v.rules_dir),
                                   "model": None if v.model_dir is None else str(v.model_dir)})
        try:
            yield
        finally:
            # uvicorn calls this after the last connection is answered: nothing is lost here.
            loop.remove_signal_handler(signal.SIGHUP)
            for t in self._tasks:
                t.cancel()
            if self.dlog:
                self.dlog.close()
            self.holder.close()
            log.info("stopped", extra={"event": "stopped"})

    def _watched(self) -> list[Any]:
        v = self.holder.current
        return [v.rules_dir] + ([v.model_dir] if v.model_dir is not None else [])

    def app(self) -> App:
        def unmatched(request: Request, status: int, allowed: list[str]) -> Answer:
            title = "not found" if status == 404 else "method not allowed"
            answer = self.problem(Problem(status, title, f"{request.method} {request.path}: {title}",
                                          code=title.replace(" ", "-")))
            if allowed:
                answer.headers.append(("allow", ", ".join(allowed)))
            self.metrics.requests.labels("unmatched", request.method, status).inc()
            return answer

        return App(self.routes(), unmatched, self.lifespan)

    def _next_id(self) -> str:
        """A request id unique within this service's run: cheaper than a uuid per request."""
        return f"{self._run_id}-{next(self._ids):x}"


@dataclass
class _BadLine:
    error: dict[str, Any]


def _batch_items(body: bytes, content_type: str) -> list[Any]:
    """A JSON array, or JSON Lines (blank lines skipped; a malformed line becomes an error in its place)."""
    text = body.lstrip()
    if text.startswith(b"[") and "ndjson" not in content_type and "jsonl" not in content_type:
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Problem(400, "malformed JSON", str(exc), code="malformed-json") from None
        if not isinstance(items, list):
            raise Problem(400, "malformed JSON", "expected a JSON array of tickets or JSON Lines",
                          code="malformed-json")
        return items
    out: list[Any] = []
    for n, line in enumerate(body.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            out.append(_BadLine({"error": "malformed JSON", "code": "malformed-json", "line": n, "reason": str(exc)}))
    return out


def _now(query: bytes) -> Any:
    """The `now` of a sweep from its query string (the current time when absent)."""
    from datetime import datetime, timezone
    from urllib.parse import unquote

    # `unquote`, not form decoding: a literal `+00:00` offset stays a plus.
    pairs = (part.partition("=") for part in query.decode("latin-1").split("&") if part)
    values = [unquote(v) for k, _, v in pairs if unquote(k) == "now"]
    if not values:
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise Problem(400, "bad query", f"now={values[0]!r} is not an ISO 8601 time with a zone "
                      "(e.g. 2026-11-25T12:00:00Z)", code="bad-now")
    return t


def _version_headers(v: Version) -> list[tuple[str, str]]:
    return [("x-triage-ruleset-version", v.ruleset_version), ("x-triage-model-version", v.model_version or "none")]


def _json(body: bytes, v: Version, status: int = 200) -> Answer:
    return Answer(status, body, JSON, _version_headers(v))
