"""The embedding example works as a ticketing system would use it."""
from __future__ import annotations

import json
import sqlite3
import sys
import threading
import urllib.error
import urllib.request

from conftest import RULES, ROOT

sys.path.insert(0, str(ROOT / "examples"))


def post(url: str, payload: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_webhook_routes_and_stores_the_decision_with_its_trace(tmp_path):
    import webhook

    db = tmp_path / "d.sqlite"
    server = webhook.serve(0, str(db), rules=str(RULES), model=None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tickets"
    try:
        ticket = {"id": "W-1", "created_at": "2026-11-25T08:00:00Z", "category": "service_down",
                  "customer": {"tier": "enterprise"}}
        status, body = post(url, json.dumps(ticket).encode())
        assert status == 200 and body["priority"] == "P1" and body["rules"]["priority"]
        status, body = post(url, b'{"id": "W-2", "created_at": "yesterday", "category": "billing"}')
        assert status == 422 and "created_at" in body["reason"]
        status, body = post(url, b"{nope")
        assert status == 400
    finally:
        server.shutdown()
    rows = sqlite3.connect(db).execute("SELECT ticket_id, priority, trace FROM decisions").fetchall()
    assert rows == [("W-1", "P1", json.dumps(body_rules := json.loads(rows[0][2])))] and "tier" in body_rules
