"""uvicorn's httptools protocol with a bound on a request's head (request line + headers).

httptools (llhttp) keeps every header byte of a request until the head ends, and
uvicorn sets no limit for it (only its h11 protocol has one, and h11 measured about
twice the server CPU a request here: 490 against 260 µs). Measured: five connections
sending 10 MB of headers each grew the service by 53 MB. So this subclass counts the
head's bytes in the parser's callbacks and, past `MAX_HEAD`, raises: httptools reports
it as a parser error, on which uvicorn answers 400 and closes the connection.
"""
from __future__ import annotations

from typing import Any

MAX_HEAD = 64 * 1024  # as h11's default event size limit, with room for long bearer tokens


class HeadTooLarge(Exception):
    pass


def http_protocol() -> Any:
    """The bounded httptools protocol, or uvicorn's h11 (bounded by its own setting) without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is not installed
        return "h11"

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head = 0

        def on_message_begin(self) -> None:
            self._head = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value))
            super().on_header(name, value)

        def _count(self, n: int) -> None:
            self._head += n
            if self._head > MAX_HEAD:
                raise HeadTooLarge

    return BoundedHttpToolsProtocol
