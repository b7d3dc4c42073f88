"""A minimal webhook a ticketing system calls: POST a ticket, get its decision back.

Standard library only. One `Triage` is built at start-up and shared by all request
threads (it is thread-safe). Every decision is stored with its trace (the rules that
decided each field, the rule-set and model versions) in SQLite, so an agent can later
see why a ticket went where it went.

    python examples/webhook.py --port 8080 --db decisions.sqlite
    curl -s localhost:8080/tickets -d @ticket.json
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from triage import Triage, TriageError

MAX_BODY = 10 * 1024 * 1024


class DecisionStore:
    """Decisions with their trace, one row per routing (re-routes are kept as history)."""

    def __init__(self, path: str):
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.lock = threading.Lock()
        with self.lock, self.db:
            self.db.execute("""CREATE TABLE IF NOT EXISTS decisions (
                ticket_id TEXT, decided_at TEXT DEFAULT CURRENT_TIMESTAMP, priority TEXT, tier TEXT,
                region TEXT, queue TEXT, response_due TEXT, ruleset_version TEXT, model_version TEXT,
                trace TEXT, decision TEXT)""")

    def save(self, d) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO decisions (ticket_id, priority, tier, region, queue, response_due, ruleset_version,"
                " model_version, trace, decision) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (d.ticket_id, d.priority, d.tier, d.region, d.queue, d.response_due, d.ruleset_version,
                 d.model_version, json.dumps(d.rules), d.to_json().decode()))


def make_handler(triage: Triage, store: DecisionStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if self.path != "/tickets":
                return self._send(404, {"error": "POST tickets to /tickets"})
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                return self._send(413 if length > MAX_BODY else 400, {"error": "a JSON ticket body is required"})
            try:
                ticket = json.loads(self.rfile.read(length))
                decision = triage.route(ticket)
            except json.JSONDecodeError as exc:
                return self._send(400, {"error": "invalid JSON", "reason": str(exc)})
            except TriageError as exc:
                return self._send(422, exc.to_dict())
            store.save(decision)
            self._send(200, decision.to_dict())

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args) -> None:  # keep test output quiet
            pass

    return Handler


def serve(port: int, db: str, rules: str | None = None, model: str | None = None) -> ThreadingHTTPServer:
    triage = Triage(rules=rules, model=model)
    return ThreadingHTTPServer(("127.0.0.1", port), make_handler(triage, DecisionStore(db)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--db", default="decisions.sqlite")
    ap.add_argument("--rules")
    ap.add_argument("--model")
    args = ap.parse_args()
    server = serve(args.port, args.db, args.rules, args.model)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/tickets")
    server.serve_forever()
