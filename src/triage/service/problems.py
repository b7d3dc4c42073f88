"""Error answers as RFC 9457 problem details (`application/problem+json`).

Every error answer has `type`, `title`, `status`, a `detail` a person can read, the
library's stable `code` where it has one, and the versions serving when it was given.
"""
from __future__ import annotations

from typing import Any

import orjson

from triage.service.asgi import Answer

PROBLEM = "application/problem+json"


class Problem(Exception):
    """Raised inside a handler to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, code: str | None = None,
                 headers: list[tuple[str, str]] | None = None, **extra: Any):
        self.status, self.title, self.detail, self.code = status, title, detail, code
        self.headers = headers or []
        self.extra = extra
        super().__init__(detail or title)


def problem_answer(p: Problem, versions: dict[str, Any]) -> Answer:
    body: dict[str, Any] = {"type": "about:blank", "title": p.title, "status": p.status}
    if p.detail:
        body["detail"] = p.detail
    if p.code:
        body["code"] = p.code
    body.update(p.extra)
    body.update(versions)
    return Answer(p.status, orjson.dumps(body), PROBLEM, list(p.headers))
