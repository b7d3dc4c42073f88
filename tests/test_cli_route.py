"""`triage route` and `triage info` as a ticketing system or operator runs them."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from conftest import RULES
from policy_reference import decide
from strategies import CATEGORIES

DECISION_FIELDS = ["ticket_id", "category", "category_source", "confidence", "needs_review", "language", "priority",
                   "tier", "region", "queue", "handoff", "third_party", "response_due", "resolution_due", "incident_id",
                   "rules", "ruleset_version", "model_version"]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triage", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def random_tickets(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    base = datetime(2026, 11, 20, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        minutes = rnd.choice([rnd.randrange(0, 20 * 1440), rnd.choice([7, 15, 23]) * 60 + rnd.choice([-1, 0, 1])
                              + 1440 * rnd.randrange(0, 20)])
        created = base + timedelta(minutes=minutes, seconds=rnd.choice([0, 0, 59]))
        out.append({
            "id": f"R-{i}", "subject": "s", "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "category": rnd.choice(CATEGORIES[:-1]),
            "channel": rnd.choice(["email", "portal", "phone", "api", "partner", "monitoring"]),
            "customer": {"account_id": f"A-{rnd.randrange(50)}", "tier": rnd.choice(["standard", "premium", "enterprise"]),
                         "home_region": rnd.choice(["APAC", "EMEA", "AMER", None]),
                         "partner_id": rnd.choice([None, None, None, "P-9"])},
            "service": {"product": rnd.choice(["port", "vxc", "mcr", None]),
                        "cloud_provider": rnd.choice(["aws", "azure", "gcp", "oracle", "ibm", "other", "none", None])},
            "reported_severity": rnd.choice([None, 1, 2, 3, 4]),
            "affected_customers": rnd.choice([1, 1, 1, 2, 3, 4, 5, 9]),
            "escalation_level": rnd.choice([0, 0, 1, 2, 3]),
        })
    return out


def test_route_cli_matches_policy_on_random_tickets():
    tickets = random_tickets(3000)
    proc = run("route", "--rules", str(RULES), stdin="\n".join(json.dumps(t) for t in tickets) + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(tickets)
    for t, line in zip(tickets, lines):
        d = json.loads(line)
        assert list(d) == DECISION_FIELDS
        assert d["ticket_id"] == t["id"]
        want = decide(t)
        for f in ("priority", "tier", "region", "queue", "third_party"):
            assert d[f] == want[f], (f, t, d)
        assert datetime.fromisoformat(d["response_due"].replace("Z", "+00:00")) == want["response_due"], (t, d)
        if want["handoff"]:
            assert datetime.fromisoformat(d["handoff"]["at"].replace("Z", "+00:00")) == want["handoff"]["at"]
            assert d["handoff"]["to"] == want["handoff"]["to"]
        else:
            assert d["handoff"] is None


def test_invalid_lines_are_reported_and_the_rest_decided(tmp_path):
    good = random_tickets(3)
    lines = [json.dumps(good[0]), "{not json", json.dumps({"id": "B-1", "created_at": "2026-11-25T08:00:00",
                                                           "category": "billing"}),
             "[1, 2]", "", json.dumps(good[1]), json.dumps({**good[2], "affected_customers": "5"})]
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(lines) + "\n")
    proc = run("route", str(f), "--rules", str(RULES))
    assert proc.returncode == 1
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [d["ticket_id"] for d in out] == [good[0]["id"], good[1]["id"]]
    errs = [json.loads(x) for x in proc.stderr.splitlines()]
    assert [e["line"] for e in errs] == [2, 3, 4, 5, 7]  # a blank line is reported too
    assert errs[3]["reason"].endswith("empty line")
    assert errs[1]["id"] == "B-1" and "created_at" in errs[1]["reason"] and "timezone" in errs[1]["reason"]
    assert errs[4]["id"] == good[2]["id"] and "affected_customers" in errs[4]["reason"]


def test_usage_errors_exit_2(tmp_path):
    assert run("route", "--no-such-option").returncode == 2
    missing = run("route", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 2 and "missing.jsonl" in missing.stderr
    bad_rules = run("route", "--rules", str(tmp_path), stdin="")
    assert bad_rules.returncode == 2 and "Traceback" not in bad_rules.stderr


def test_info_json_names_rules_model_and_versions():
    proc = run("info", "--json", "--rules", str(RULES))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["rules"] == str(RULES.resolve())
    assert info["ruleset_version"].startswith("sha256:")
    assert set(info) >= {"rules", "model", "ruleset_version", "model_version", "versions"}
    assert info["versions"]["durable_rules"]
