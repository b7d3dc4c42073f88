"""What the command line decides about a worker, apart from the modules that act on it:
the supervisor reads it before any worker imports prometheus-client (see `metrics`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """What the command line decides about one worker's application."""

    rules: str | None = None
    model: str | None = None
    max_body: int = 1 << 20
    body_timeout: float = 10.0  # a client that stalls mid-body is answered 408 after this long
    token: str | None = None
    decision_log: str | None = None
    watch: bool = False
    watch_interval: float = 1.0
