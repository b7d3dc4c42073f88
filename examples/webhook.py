"""The ticketing system's side of `triage serve`: send a ticket, store its decision.

Standard library only, as a webhook handler in any ticketing system's integration
would be. `triage serve` does the routing (start it with `triage serve --port 8080`);
this posts each new ticket to it and keeps every decision with its trace (the rules
that decided each field, the rule-set and model versions, the service's request id)
in SQLite, so that an agent can later see why a ticket went where it went.

    triage serve --port 8080 &
    python examples/webhook.py --url http://127.0.0.1:8080 --db decisions.sqlite examples/tickets.jsonl
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import urllib.error
import urllib.request
from typing import Any


class TriageRefused(Exception):
    """The service refused a ticket (422) or the request (400, 413, ...); `problem` is its answer."""

    def __init__(self, status: int, problem: dict[str, Any]):
        self.status, self.problem = status, problem
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title')}")


class TriageClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def route(self, ticket: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The decision and the service's request id (to find it in the decision log)."""
        return self._post("/v1/route", ticket)

    def route_batch(self, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decisions in input order; an invalid ticket's place holds `{"error": ...}`."""
        return self._post("/v1/route/batch", tickets)[0]

    def _post(self, path: str, payload: Any) -> tuple[Any, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read()), resp.headers["X-Request-Id"]
        except urllib.error.HTTPError as err:
            raise TriageRefused(err.code, json.loads(err.read() or b"{}")) from None


class DecisionStore:
    """Decisions with their trace, one row per routing (re-routes are kept as history)."""

    def __init__(self, path: str):
        self.db = sqlite3.connect(path)
        with self.db:
            self.db.execute("""CREATE TABLE IF NOT EXISTS decisions (
                ticket_id TEXT, decided_at TEXT DEFAULT CURRENT_TIMESTAMP, priority TEXT, tier TEXT,
                region TEXT, queue TEXT, response_due TEXT, ruleset_version TEXT, model_version TEXT,
                request_id TEXT, trace TEXT, decision TEXT)""")

    def save(self, d: dict[str, Any], request_id: str | None = None) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO decisions (ticket_id, priority, tier, region, queue, response_due, ruleset_version,"
                " model_version, request_id, trace, decision) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (d["ticket_id"], d["priority"], d["tier"], d["region"], d["queue"], d["response_due"],
                 d["ruleset_version"], d["model_version"], request_id, json.dumps(d["rules"]), json.dumps(d)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tickets", help="JSON Lines of tickets")
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--db", default="decisions.sqlite")
    ap.add_argument("--token")
    args = ap.parse_args()
    client, store = TriageClient(args.url, args.token), DecisionStore(args.db)
    with open(args.tickets, encoding="utf-8") as f:
        for line in filter(str.strip, f):
            try:
                decision, rid = client.route(json.loads(line))
            except TriageRefused as exc:
                print(f"refused: {exc}")
                continue
            store.save(decision, rid)
            print(f"{decision['ticket_id']}: {decision['priority']} {decision['queue']}")
