"""Prometheus metrics: requests, latency, decisions by priority and tier, errors, reloads.

One process: the metrics live in a registry of their own and `/metrics` renders it.
With `--workers N` the supervisor sets `PROMETHEUS_MULTIPROC_DIR` before any worker
imports prometheus_client, each worker writes its values to files there, and
`/metrics` (answered by any worker) sums every worker's files: prometheus-client's
documented multiprocess mode. Only counters and histograms are used, since they add
up across processes without a choice of aggregation.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Decisions take tens of microseconds; the buckets resolve the sub-millisecond range.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's metrics, on a registry of its own (tests build several apps in one process)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("triage_http_requests", "HTTP requests answered, by route and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("triage_http_request_seconds", "Time from request to answer, by route",
                                 ["route"], buckets=BUCKETS, registry=r)
        self.decisions = Counter("triage_decisions", "Tickets decided, by priority and tier",
                                 ["priority", "tier"], registry=r)
        self.errors = Counter("triage_errors", "Requests or tickets refused, by kind", ["kind"], registry=r)
        self.reloads = Counter("triage_reloads", "Reloads of the rules and model, by result", ["result"], registry=r)
        self._multiproc = os.environ.get(MULTIPROC_ENV)

    def render(self) -> bytes:
        if self._multiproc:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self._multiproc)
            return generate_latest(registry)
        return generate_latest(self.registry)
