"""A minimal ASGI layer: a request, an answer, a routing table, the lifespan.

Why not Starlette: measured on this project's 2-core machine, uvicorn + httptools +
uvloop serving a constant answer over 16 keep-alive connections cost about 110 µs of
server CPU a request as a bare Starlette app and about 70 µs as a plain ASGI callable;
a decision costs ~45-80 µs, so the framework alone would have been the larger part.
uvicorn still does all of HTTP/1.1 (parsing, keep-alive, chunked bodies, limits,
timeouts, graceful shutdown); this only routes by exact path and method, reads
bodies under a size limit and writes answers.
"""
from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str
    headers: dict[bytes, bytes]
    query_string: bytes  # raw, as uvicorn gives it (POST /v1/sweep?now=T will read it)
    receive: Receive

    def header(self, name: bytes) -> str:
        return self.headers.get(name, b"").decode("latin-1")

    async def body(self, limit: int, timeout: float) -> bytes:
        """The whole body; `BodyTooLarge` as soon as it is known to exceed `limit` (from
        Content-Length before reading anything, or by counting a chunked body as it
        streams), `TimeoutError` if it does not arrive within `timeout` seconds."""
        length = self.headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise BodyTooLarge
        async with asyncio.timeout(timeout):
            msg = await self.receive()
            body = msg.get("body", b"")
            if not msg.get("more_body"):
                return body
            buf = bytearray(body)
            while True:
                if len(buf) > limit:
                    raise BodyTooLarge
                msg = await self.receive()
                if msg["type"] == "http.disconnect":
                    return bytes(buf)  # the answer goes nowhere; no need to tell anyone
                buf += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            if len(buf) > limit:
                raise BodyTooLarge
            return bytes(buf)


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, send: Send, head: bool = False) -> None:
        headers = [(b"content-type", self.content_type.encode()), (b"content-length", str(len(self.body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


Handler = Callable[[Request], Awaitable[Answer]]


class App:
    """Routes `(method, path)` to handlers; `fallback(request, status, allowed)` answers 404/405."""

    def __init__(self, routes: dict[str, dict[str, Handler]],
                 fallback: Callable[[Request, int, list[str]], Answer],
                 lifespan: Callable[[], AbstractAsyncContextManager[None]]):
        self.routes = {path: {**methods, **({"HEAD": methods["GET"]} if "GET" in methods else {})}
                       for path, methods in routes.items()}
        self.fallback = fallback
        self.lifespan = lifespan

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            req = Request(scope["method"], scope["path"], dict(scope["headers"]), scope["query_string"], receive)
            methods = self.routes.get(req.path)
            if methods is None:
                answer = self.fallback(req, 404, [])
            elif (handler := methods.get(req.method)) is None:
                answer = self.fallback(req, 405, sorted(methods))
            else:
                answer = await handler(req)
            await answer.send(send, head=req.method == "HEAD")
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        msg = await receive()
        assert msg["type"] == "lifespan.startup"
        cm = self.lifespan()
        try:
            await cm.__aenter__()
        except BaseException as exc:
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            raise
        await send({"type": "lifespan.startup.complete"})
        msg = await receive()  # lifespan.shutdown: uvicorn sends it after the last connection closed
        await cm.__aexit__(None, None, None)
        await send({"type": "lifespan.shutdown.complete"})
