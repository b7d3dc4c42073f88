"""Re-triage on a Dask cluster: `local` starts a LocalCluster, or give a scheduler address.

Each worker builds its `Triage` once through a worker plugin (the durable_rules engine
cannot be pickled); tasks carry raw chunks and return compact results (JSON Lines
bytes, error records, counts). At most two tasks per worker are in flight, so memory
stays bounded, and results are taken in input order.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Iterator

from triage.errors import DaskUnavailable, TriageError


def _plugin_class() -> type:
    from distributed.diagnostics.plugin import WorkerPlugin

    class TriagePlugin(WorkerPlugin):
        """Builds the worker's `Triage` when the worker starts (or the plugin is added)."""

        name = "triage"

        def __init__(self, rules: str | None, model: str | None):
            self.rules, self.model = rules, model

        def setup(self, worker: Any) -> None:
            from triage.batch.work import get_triage

            get_triage(self.rules, self.model)

        def teardown(self, worker: Any) -> None:
            from triage.batch.work import close_all

            close_all()

    return TriagePlugin


def _task(rules: str | None, model: str | None, chunk: list, unit: str) -> tuple[bytes, list, dict, int]:
    from triage.batch.work import decide_chunk

    body, errors, counts = decide_chunk(rules, model, chunk, unit)
    return body, errors, counts, len(chunk)


def run_on_dask(address: str, jobs: int, rules: str | None, model: str | None,
                chunks: Iterable[list], unit: str) -> Iterator[tuple[bytes, list, dict, int]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DaskUnavailable("Dask is not installed: pip install 'triage[dask]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        client.register_plugin(_plugin_class()(rules, model))
        width = 2 * max(1, len(client.scheduler_info().get("workers", {})) or jobs)
        in_flight: deque = deque()
        for chunk in chunks:
            in_flight.append(client.submit(_task, rules, model, chunk, unit, pure=False))
            if len(in_flight) >= width:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
