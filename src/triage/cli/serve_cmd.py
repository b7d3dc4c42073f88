"""`triage serve`: the HTTP service (the `serve` extra: Starlette on uvicorn, prometheus-client)."""
from __future__ import annotations

import os
import re

import click

from triage.cli.common import fail

TOKEN_ENV = "TRIAGE_SERVE_TOKEN"


def _size(text: str) -> int:
    """`1MiB`, `512KiB`, `2MB`, `1048576` as bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*(|B|KB|KiB|MB|MiB|GB|GiB)\s*", text, re.I)
    if not m:
        raise click.BadParameter(f"{text!r}: expected bytes such as 1048576, 512KiB or 1MiB")
    units = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
    return int(m.group(1)) * units[m.group(2).lower()]


@click.command(help=f"""Serve routing over HTTP (JSON): POST /v1/route, /v1/route/batch, /v1/explain;
GET /v1/info, /healthz, /readyz, /metrics. See the README, "HTTP service".

SIGHUP (and, with --watch, a change in the rule or model folder) loads and checks the
new rules and model beside the serving ones and swaps them atomically; a broken rule
set is refused and the last good one keeps serving (the log and /v1/info name the
file and line). SIGTERM drains in-flight requests and exits within 10 s.

Auth: with --token-file F (or ${TOKEN_ENV}) every /v1 route and /metrics need
`Authorization: Bearer <token>`; /healthz and /readyz stay open for probes.

Logs are JSON lines on stderr. Exit 2 when the rules or model cannot be served at start.""")
@click.option("--rules", metavar="DIR", help="Rule folder (default: the shipped rules).")
@click.option("--model", metavar="DIR", help="Model folder (default: the shipped model).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each with its own Triage; durable_rules holds the GIL).")
@click.option("--max-body", default="1MiB", show_default=True, help="Largest request body; larger ones get 413.")
@click.option("--body-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds a request body may take to arrive; then 408 (a stalled client frees its slot).")
@click.option("--watch", is_flag=True, help="Reload when a file in the rule or model folder changes.")
@click.option("--decision-log", metavar="FILE", help="Append one JSON line per decided ticket to FILE.")
@click.option("--token-file", metavar="FILE", help=f"File holding the bearer token (or set ${TOKEN_ENV}).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(rules: str | None, model: str | None, host: str, port: int, workers: int, max_body: str,
          body_timeout: float, watch: bool,
          decision_log: str | None, token_file: str | None, log_level: str) -> None:
    try:
        from triage.service import logs
        from triage.service.settings import Settings
        from triage.service.server import serve as run
    except ImportError as exc:
        fail(f"`triage serve` needs the serve extra: pip install 'triage[serve]' ({exc})", 2)
    limit = _size(max_body)
    token = os.environ.get(TOKEN_ENV) or None
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as exc:
            fail(f"{token_file}: {exc.strerror}", 2)
        if not token:
            fail(f"{token_file}: the token file is empty", 2)
    logs.setup(log_level)
    run(Settings(rules=rules, model=model, max_body=limit, body_timeout=body_timeout, token=token,
                 decision_log=decision_log, watch=watch), host, port, workers)
