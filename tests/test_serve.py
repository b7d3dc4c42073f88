"""`triage serve` as a ticketing system and a hostile network see it.

Each test starts the real command (`python -m triage serve`) as a subprocess on a free
loopback port, talks HTTP/1.1 to it over keep-alive connections, and stops it with
SIGTERM. Decisions are compared with `policy_reference.py`, the independent
implementation of the reference policy; a rule change is applied to a copy of the
shipped rules and loaded with SIGHUP while 16 clients are routing.
"""
from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import RULES  # noqa: E402
from policy_reference import decide  # noqa: E402
from serving import Server  # noqa: E402
from strategies import tickets  # noqa: E402

MASS = 'when: {affected_customers: {">=": 5}}'  # rules/priority.yaml, row mass-impact


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(RULES, dst, ignore=shutil.ignore_patterns("tests"))
    return dst


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    rules = tmp_path_factory.mktemp("serve") / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("tests"))
    s = Server(rules, "--body-timeout", "1")
    yield s
    assert s.stop() == 0, s.output()


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected(ticket: dict, mass: int) -> dict:
    """The reference policy with the mass-impact threshold at `mass` (5 in the shipped rules).

    Only priority reads the threshold: tier and queue cut `affected_customers` at 2, so a
    ticket with `mass <= affected < 5` is decided as one with five affected customers."""
    t = dict(ticket)
    if mass <= t.get("affected_customers", 1) < 5:
        t["affected_customers"] = 5
    want = decide(t)
    want["handoff"] = None if want["handoff"] is None else {"at": iso(want["handoff"]["at"]),
                                                             "to": want["handoff"]["to"]}
    want["response_due"] = iso(want["response_due"])
    return want


def agrees(decision: dict, ticket: dict, mass: int) -> bool:
    want = expected(ticket, mass)
    return decision["ticket_id"] == ticket["id"] and all(decision[k] == v for k, v in want.items())


def sample_tickets(n: int, seed: int) -> list[dict]:
    """Tickets with categories given, every field the policy reads drawn at random (seeded)."""
    import random
    from datetime import timedelta

    from strategies import BASE, CATEGORIES

    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = BASE + timedelta(seconds=rng.randrange(14 * 86400))
        out.append({
            "id": f"S-{seed}-{i}", "subject": "x", "created_at": iso(created), "category": rng.choice(CATEGORIES),
            "channel": rng.choice(["email", "portal", "phone", "api", "partner", "monitoring"]),
            "customer": {"tier": rng.choice(["standard", "premium", "enterprise"]),
                         "home_region": rng.choice(["APAC", "EMEA", "AMER", None]),
                         "partner_id": rng.choice([None, None, "P-7"])},
            "service": {"cloud_provider": rng.choice(["aws", "azure", "none", None])},
            "reported_severity": rng.choice([None, 1, 2, 3, 4]),
            "affected_customers": rng.choice([1, 1, 2, 3, 4, 5, 7]),
            "escalation_level": rng.choice([0, 0, 1, 2]),
        })
    return out


# --- routing under load, with a reload and a refused reload --------------------------------


def test_16_clients_agree_with_the_policy_across_a_reload_and_a_refused_one(rules_copy):
    srv = Server(rules_copy)
    try:
        old = srv.get("/v1/info")[2]
        pool = sample_tickets(400, seed=1)
        stop = threading.Event()
        failures: list[str] = []
        seen: list[set] = [set() for _ in range(16)]
        counts = [0] * 16
        new_version: list[str] = []

        def client(k: int) -> None:
            conn = srv.conn()  # one keep-alive connection per client
            switched = False
            i = k
            while not stop.is_set() and not failures:
                # Two clients send batches of 20 (decided in a thread while the loop decides
                # the other clients' single tickets); the rest one ticket a request.
                sent = [pool[(i + j) % len(pool)] for j in range(20 if k < 2 else 1)]
                i += 16 * len(sent)
                try:
                    if k < 2:
                        status, headers, answer = srv.post("/v1/route/batch", sent, conn=conn)
                    else:
                        status, headers, answer = srv.post("/v1/route", sent[0], conn=conn)
                        answer = [answer]
                except Exception as exc:  # noqa: BLE001 - any transport failure is a failure
                    failures.append(f"client {k}: {type(exc).__name__}: {exc}")
                    return
                if status != 200:
                    failures.append(f"client {k}: {status} {answer}")
                    return
                v = headers["x-triage-ruleset-version"]
                seen[k].add(v)
                counts[k] += 1
                if v == old["ruleset_version"]:
                    mass = 5
                    if switched:
                        failures.append(f"client {k}: the old version answered after the new one")
                else:
                    mass = 3
                    switched = True
                for t, d in zip(sent, answer, strict=True):
                    if d["ruleset_version"] != v or d["model_version"] != old["model_version"]:
                        failures.append(f"client {k}: one answer, two versions: {v} and {d['ruleset_version']}")
                    if not agrees(d, t, mass):
                        failures.append(f"client {k}: {t} -> {d} disagrees with the policy (mass {mass})")
            conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for th in threads:
            th.start()
        time.sleep(1.0)
        # Half-way: mass impact from three affected customers instead of five.
        f = rules_copy / "priority.yaml"
        f.write_text(f.read_text().replace(MASS, MASS.replace("5", "3")))
        srv.hup()
        info = srv.wait_info(lambda i: i["service"]["generation"] >= 2)
        new_version.append(info["ruleset_version"])
        assert info["ruleset_version"] != old["ruleset_version"]
        time.sleep(0.7)
        # Then a broken rule file: refused, the last good version keeps serving.
        f.write_text(f.read_text().replace("then: P1\n", "then: P9\n", 1))
        srv.hup()
        info = srv.wait_info(lambda i: i["service"]["last_reload_error"] is not None)
        time.sleep(0.5)
        stop.set()
        for th in threads:
            th.join(30)
        assert not failures, failures[:5]
        assert all(c > 0 for c in counts)
        assert set().union(*seen) == {old["ruleset_version"], new_version[0]}
        assert info["ruleset_version"] == new_version[0] and info["service"]["generation"] == 2
        problems = info["service"]["last_reload_error"]["problems"]
        assert any(p["file"] == str(f) and p["line"] == 10 and "P9" in p["message"] for p in problems), problems
        # After the refusal the new threshold still decides: three affected customers are P1.
        t = {"id": "R-1", "created_at": "2026-11-24T10:00:00Z", "category": "billing", "affected_customers": 3}
        status, _, d = srv.post("/v1/route", t)
        assert status == 200 and d["priority"] == "P1" and d["ruleset_version"] == new_version[0]
        log = srv.output()
        assert "reload-refused" in log and f"{f}:10" in log
    finally:
        code = srv.stop()
    assert code == 0, srv.output()


def test_a_sighup_during_start_up_is_a_reload_not_the_end(rules_copy):
    import subprocess
    import sys

    from serving import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "triage", "serve", "--rules", str(rules_copy), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # the first version is still being built
        f = rules_copy / "priority.yaml"
        f.write_text(f.read_text().replace(MASS, MASS.replace("5", "3")))
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/v1/info")
                info = json.loads(c.getresponse().read())
                c.close()
                if info["service"]["generation"] >= 2 or info["service"]["last_reload"]:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert proc.poll() is None, "SIGHUP ended the service"
        assert info is not None and info["service"]["last_reload"]["ok"], info
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        t = {"id": "H-1", "created_at": "2026-11-24T10:00:00Z", "category": "billing", "affected_customers": 3}
        c.request("POST", "/v1/route", json.dumps(t))
        assert json.loads(c.getresponse().read())["priority"] == "P1"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_broken_rule_set_at_start_exits_2_naming_the_file(rules_copy, workers):
    f = rules_copy / "tier.yaml"
    f.write_text(f.read_text().replace("then: OpsEng", "then: OpsEngg", 1))
    with pytest.raises(AssertionError, match="exited 2") as err:
        Server(rules_copy, "--workers", workers)
    assert str(f) in str(err.value)


# --- the contract ---------------------------------------------------------------------------


def test_route_answers_the_decision_with_its_versions(server):
    t = {"id": "C-1", "created_at": "2026-11-25T08:00:00Z", "category": "service_down",
         "customer": {"tier": "enterprise"}}
    status, headers, d = server.post("/v1/route", t, headers={"x-request-id": "req-42"})
    assert status == 200 and headers["content-type"] == "application/json" and headers["x-request-id"] == "req-42"
    assert agrees(d, t, 5) and d["rules"]["priority"] and d["ruleset_version"].startswith("sha256:")
    assert headers["x-triage-ruleset-version"] == d["ruleset_version"]


def test_batch_keeps_input_order_with_an_error_in_place(server):
    pool = sample_tickets(30, seed=2)
    bad = {"id": "B-bad", "created_at": "yesterday", "category": "billing"}
    items = pool[:10] + [bad] + pool[10:]
    for body, ctype in ((json.dumps(items).encode(), "application/json"),
                        (b"\n".join(json.dumps(t).encode() for t in items) + b"\n", "application/x-ndjson")):
        status, headers, out = server.request("POST", "/v1/route/batch", body, {"content-type": ctype})
        assert status == 200 and len(out) == len(items)
        assert "created_at" in out[10]["error"] + out[10]["reason"] and out[10]["id"] == "B-bad"
        for t, d in zip(pool, out[:10] + out[11:]):
            assert agrees(d, t, 5), (t, d)
    # A malformed JSON line is an error in its place; the other lines are still decided.
    status, _, out = server.request("POST", "/v1/route/batch", json.dumps(pool[0]).encode() + b"\n{nope\n",
                                    {"content-type": "application/x-ndjson"})
    assert status == 200 and agrees(out[0], pool[0], 5) and out[1]["code"] == "malformed-json"
    assert server.post("/v1/route/batch", [])[2] == []


def test_explain_and_info_say_what_the_cli_says(server):
    from triage import Triage
    from triage.cli.info_cmd import info_data

    t = {"id": "E-1", "created_at": "2026-11-25T08:00:00Z", "category": "bgp_routing", "reported_severity": 2}
    status, _, e = server.post("/v1/explain", t)
    info = server.get("/v1/info")[2]
    local = Triage(rules=info["rules"], model=info["model"])
    assert status == 200 and e == json.loads(json.dumps(local.explain(t)))
    service = info.pop("service")
    assert info == json.loads(json.dumps(info_data(local)))
    assert service["last_reload_error"] is None and service["generation"] >= 1


def test_health_readiness_and_metrics(server):
    assert server.get("/healthz")[0] == 200
    status, _, ready = server.get("/readyz")
    assert status == 200 and ready["ruleset_version"].startswith("sha256:")
    t = {"id": "M-1", "created_at": "2026-11-25T08:00:00Z", "category": "service_down", "affected_customers": 6}
    server.post("/v1/route", t)
    server.post("/v1/route", {"id": "M-2"})
    status, headers, text = server.get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'triage_decisions_total{priority="P1",tier="NSS"}' in text
    assert 'triage_http_requests_total{method="POST",route="route",status="422"}' in text
    assert "triage_http_request_seconds_bucket" in text and 'triage_errors_total{kind="invalid-ticket"}' in text


# --- bad input never hurts it ---------------------------------------------------------------


def test_invalid_ticket_is_422_problem_naming_every_bad_field(server):
    t = {"id": "I-1", "created_at": "yesterday", "reported_severity": "high", "affected_customers": -3,
         "category": "billing"}
    status, headers, p = server.post("/v1/route", t)
    assert status == 422 and headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in p["errors"]}
    assert {"created_at", "reported_severity", "affected_customers"} <= fields, p
    assert p["status"] == 422 and p["code"] and p["ticket_id"] == "I-1" and p["ruleset_version"]
    status, _, p = server.post("/v1/route", {"id": "I-2", "created_at": "2026-11-25T08:00:00Z",
                                             "category": "servce_down"})
    assert status == 422 and p["errors"][0]["field"] == "category" and "service_down" in p["detail"]
    status, _, p = server.post("/v1/explain", t)
    assert status == 422 and {"created_at", "reported_severity"} <= {e["field"] for e in p["errors"]}


@pytest.mark.parametrize("body", [b"", b"{nope", b'{"id": "x"', b"[" * 5000 + b"]" * 5000, b'"\\ud800"',
                                  b"\xff\xfe", b"NaN"])
def test_malformed_json_is_400(server, body):
    status, headers, p = server.post("/v1/route", body)
    assert status == 400 and headers["content-type"] == "application/problem+json" and p["code"] == "malformed-json"


@pytest.mark.parametrize("body", [b"[1]", b"null", b"42", b'"ticket"', b"{}", b'{"id": null}',
                                  b'{"id": "x", "created_at": "2026-11-25T08:00:00Z", "category": 7}'])
def test_json_that_is_not_a_ticket_is_422(server, body):
    assert server.post("/v1/route", body)[0] == 422


def test_unknown_path_404_and_wrong_method_405(server):
    status, _, p = server.get("/v1/nope")
    assert status == 404 and p["status"] == 404
    status, headers, p = server.get("/v1/route")
    assert status == 405 and "POST" in headers["allow"]
    assert server.request("DELETE", "/v1/info")[0] == 405
    assert server.request("PUT", "/v1/route/batch", b"[]")[0] == 405


def test_a_body_over_the_limit_is_413_without_being_read(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 104857600\r\n\r\n" + b"[" * 1000)  # 100 MiB announced, 1 kB sent
        answer = _read_answer(s)
    assert answer.startswith(b"HTTP/1.1 413") and b"body-too-large" in answer
    # Chunked: counted as it streams, refused once past the limit.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/route/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        try:
            for _ in range(20):  # 1.25 MiB > 1 MiB; the server may close before all is sent
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        answer = _read_answer(s)
    assert answer.startswith(b"HTTP/1.1 413")
    assert server.get("/healthz")[0] == 200


def _read_answer(s: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 50:
            more = s.recv(65536)
            if not more:
                break
            data += more
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def test_stalled_and_idle_clients_do_not_block_others(server):
    stalled = []
    for _ in range(5):  # half a request line, half a header block, half a body
        for part in (b"POST /v1/ro", b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Le",
                     b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\""):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(part)
            stalled.append(s)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(300)]
    try:
        conn = server.conn()
        t = {"id": "S-1", "created_at": "2026-11-25T08:00:00Z", "category": "billing"}
        for _ in range(20):
            status, _, d = server.post("/v1/route", t, conn=conn)
            assert status == 200 and d["priority"] == "P4"
        conn.close()
    finally:
        for s in stalled + idle:
            s.close()
    assert server.get("/healthz")[0] == 200


def _nest(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)


def test_sweep_answers_what_triage_sweep_writes(server):
    from triage import Triage

    case = {"id": "INC-7", "category": "service_down", "customer": {"tier": "enterprise"},
            "created_at": "2026-11-25T14:40:00Z", "status": "open"}
    info = server.get("/v1/info")[2]
    local = Triage(rules=info["rules"], model=info["model"])
    status, _, d = server.post("/v1/sweep?now=2026-11-25T16:40:00%2B00:00", case)
    assert status == 200 and d == json.loads(local.sweep(case, "2026-11-25T16:40:00Z").to_json())
    assert (d["escalated_to"], d["queue"], d["as_of"]) == ("NSS", "NSS-AMER", "2026-11-25T16:40:00Z")
    status, _, out = server.post("/v1/sweep?now=2026-11-25T16:40:00Z", [case, {"id": "x"}])
    assert status == 200 and out[0] == d and "error" in out[1]
    assert server.post("/v1/sweep?now=2026-11-25T16:40:00Z", {**case, "status": "waiting"})[0] == 422
    assert server.post("/v1/sweep?now=yesterday", case)[0] == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                 _nest, max_leaves=20).map(lambda x: json.dumps(x).encode()),
    tickets(with_category=False).map(lambda x: json.dumps(x).encode()),
), path=st.sampled_from(["/v1/route", "/v1/route/batch", "/v1/explain", "/v1/sweep?now=2026-12-01T00:00:00Z"]))
def test_nothing_a_client_sends_gives_a_500(server, body, path):
    status, _, _ = server.post(path, body)
    assert status in (200, 400, 422), (status, body)


# --- operations -----------------------------------------------------------------------------


def test_a_stalled_body_is_408_and_frees_its_connection(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\"")
        answer = _read_answer(s)  # the module's server waits 1 s for a body (--body-timeout 1)
    assert answer.startswith(b"HTTP/1.1 408") and b"body-timeout" in answer
    assert server.get("/healthz")[0] == 200


def test_operations_token_watch_drain_and_decision_log(rules_copy, tmp_path):
    """One server with every operations option: auth, --watch, then a SIGTERM during a
    batch, after which the decision log holds one line per decided ticket."""
    token, log = tmp_path / "token", tmp_path / "decisions.jsonl"
    token.write_text("s3cret\n")
    srv = Server(rules_copy, "--token-file", str(token), "--watch", "--decision-log", str(log))
    auth = {"authorization": "Bearer s3cret"}
    t = {"id": "A-1", "created_at": "2026-11-24T10:00:00Z", "category": "billing", "affected_customers": 3}
    status, headers, p = srv.post("/v1/route", t)
    assert status == 401 and headers["www-authenticate"] == "Bearer" and p["code"] == "unauthorised"
    assert srv.post("/v1/route", t, headers={"authorization": "Bearer wrong"})[0] == 401
    assert srv.get("/metrics")[0] == 401 and srv.get("/v1/info")[0] == 401
    assert srv.get("/healthz")[0] == 200 and srv.get("/readyz")[0] == 200
    assert srv.post("/v1/route", t, headers=auth)[2]["priority"] == "P4"

    # --watch: a changed rule file is loaded without a signal.
    f = rules_copy / "priority.yaml"
    f.write_text(f.read_text().replace(MASS, MASS.replace("5", "3")))
    deadline = time.monotonic() + 30
    while srv.get("/v1/info", headers=auth)[2]["service"]["generation"] < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert srv.post("/v1/route", t, headers=auth)[2]["priority"] == "P1"

    # SIGTERM while a batch is in flight: it is answered whole, and the log loses nothing.
    pool = sample_tickets(1000, seed=3)
    answers: list = []
    th = threading.Thread(target=lambda: answers.append(srv.post("/v1/route/batch", pool, headers=auth)))
    th.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    srv.terminate()
    th.join(15)
    code = srv.stop()
    assert code == 0 and time.monotonic() - t0 < 10, srv.output()
    decided = 2
    if answers:  # the batch was read before the listening socket closed: answered whole
        status, _, out = answers[0]
        assert status == 200 and len(out) == len(pool) and all(agrees(d, x, 3) for d, x in zip(out, pool))
        decided += len(pool)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == decided
    assert [x["ticket_id"] for x in lines[2:]] == [x["id"] for x in pool][:decided - 2]
    first = lines[0]
    assert first["ticket_id"] == "A-1" and first["decision"]["priority"] == "P4" and "latency_ms" in first
    assert first["request_id"] and first["ruleset_version"].startswith("sha256:")
    assert lines[1]["decision"]["priority"] == "P1" and lines[1]["ruleset_version"] != first["ruleset_version"]


def test_workers_share_the_socket_reload_and_sum_their_metrics(rules_copy):
    srv = Server(rules_copy, "--workers", "2")
    try:
        t = {"id": "K-1", "created_at": "2026-11-24T10:00:00Z", "category": "billing", "affected_customers": 3}
        answered: dict[str, int] = {}

        def route() -> str:
            status, _, d = srv.post("/v1/route", t)
            assert status == 200
            answered[d["priority"]] = answered.get(d["priority"], 0) + 1
            return d["priority"]

        pids = set()
        for _ in range(400):  # new connections until both workers have answered (the kernel picks)
            assert route() == "P4"
            pids.add(srv.get("/v1/info")[2]["service"]["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2
        f = rules_copy / "priority.yaml"
        f.write_text(f.read_text().replace(MASS, MASS.replace("5", "3")))
        srv.hup()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # each worker reloads on its own
            if all(route() == "P1" for _ in range(20)):
                break
            time.sleep(0.2)
        assert all(route() == "P1" for _ in range(20))
        text = srv.get("/metrics")[2]
        counted = {p: float(x.split()[-1]) for x in text.splitlines() for p in ("P1", "P4")
                   if x.startswith(f'triage_decisions_total{{priority="{p}",tier="CSS"}}')}
        assert counted == {p: float(n) for p, n in answered.items()}  # summed over the workers
    finally:
        assert srv.stop() == 0, srv.output()


def test_an_endless_header_block_is_refused_and_costs_no_memory(server):
    def rss() -> int:
        pid = server.get("/v1/info")[2]["service"]["pid"]
        return int(next(x for x in open(f"/proc/{pid}/status") if x.startswith("VmRSS")).split()[1])

    before = rss()
    held, answers = [], []
    try:
        for _ in range(5):  # five connections at once, each sending 10 MB of headers unless refused
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            held.append(s)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            try:
                for i in range(10_000):
                    s.sendall(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000))
            except OSError:
                pass
        grown = rss() - before  # measured while the connections are still open
        answers = [_read_answer(s) for s in held]
    finally:
        for s in held:
            s.close()
    assert grown < 20_000, f"{grown} kB"  # 50 MB of headers were sent in all
    assert all(a.startswith(b"HTTP/1.1 400") for a in answers), [a[:60] for a in answers]
    assert server.get("/healthz")[0] == 200
