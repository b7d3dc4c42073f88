"""The integration example works as a ticketing system would use it, against `triage serve`."""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys

import pytest

from conftest import ROOT, RULES

sys.path.insert(0, str(ROOT / "examples"))
pytest.importorskip("uvicorn")


def test_webhook_routes_through_the_service_and_stores_the_decision_with_its_trace(tmp_path):
    import webhook
    from serving import Server

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    srv = Server(rules)
    try:
        client = webhook.TriageClient(f"http://127.0.0.1:{srv.port}")
        store = webhook.DecisionStore(str(tmp_path / "d.sqlite"))
        ticket = {"id": "W-1", "created_at": "2026-11-25T08:00:00Z", "category": "service_down",
                  "customer": {"tier": "enterprise"}}
        decision, rid = client.route(ticket)
        assert decision["priority"] == "P1" and decision["rules"]["priority"] and rid
        store.save(decision, rid)
        with pytest.raises(webhook.TriageRefused) as err:
            client.route({"id": "W-2", "created_at": "yesterday", "category": "billing"})
        assert err.value.status == 422 and err.value.problem["errors"][0]["field"] == "created_at"
        out = client.route_batch([ticket, {"id": "W-3"}])
        assert out[0]["priority"] == "P1" and "error" in out[1]
    finally:
        assert srv.stop() == 0
    rows = store.db.execute("SELECT ticket_id, priority, request_id, trace FROM decisions").fetchall()
    assert [r[:3] for r in rows] == [("W-1", "P1", rid)] and "tier" in json.loads(rows[0][3])
    assert sqlite3.connect(tmp_path / "d.sqlite").execute("SELECT count(*) FROM decisions").fetchone() == (1,)
