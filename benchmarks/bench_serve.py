"""`triage serve` under load: an asyncio HTTP/1.1 client on keep-alive connections.

In one run, on the same generated tickets (categories given):
- the service (`triage serve`, one process and `--workers 2`): throughput and p50/p99
  latency at 1, 16 and 64 concurrent connections, one ticket per request and batches
  of `BATCH` tickets (JSON array);
- in process: `Triage.route()` on the same tickets, and where a decision runs: called
  directly (as the service does on its event loop) vs handed to a thread and back
  (`asyncio.to_thread`), per call;
- the command line: `triage route FILE` (its start-up subtracted, as in bench_e2e);
- a reload (SIGHUP) in the middle of a 16-connection run: failed requests, versions seen.
The client runs on the same (shared) cores as the service: ratios, measured side by
side, are the figures to compare. Every phase is bounded in time and requests; only
loopback addresses are used.

    python benchmarks/bench_serve.py [--quick]

Goals (issue 15): single-ticket routes >= 3,000 req/s on 2 cores, p99 <= 10 ms at 16
connections, batch >= 0.5x the `triage route` CLI's throughput.
"""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

from _results import (ROOT, argv_quick, machine, machine_line, print_machine, table, update_section,  # noqa: E402
                      verdict, write_json)
from _tickets import given_tickets, jsonl  # noqa: E402

NAME = "serve"
BATCH = 100
CONNS = (1, 16, 64)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def triage_cmd() -> list[str]:
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage"]


class Service:
    def __init__(self, rules: Path, *args: str):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(triage_cmd() + ["serve", "--rules", str(rules), "--host", "127.0.0.1",
                                                     "--port", str(self.port), "--log-level", "warning", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"triage serve exited {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("triage serve did not become ready")

    def cpu_seconds(self) -> float:
        """CPU time used so far by the service's processes (supervisor and workers)."""
        def of(pid: int) -> float:
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return 0.0
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = [self.proc.pid] + [int(x) for x in kids.read_text().split()] if kids.exists() else [self.proc.pid]
        return sum(of(p) for p in pids)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def measured(svc: "Service", requests: list[bytes], conns: int, seconds: float, max_requests: int,
             on_half: Any = None) -> dict[str, Any]:
    """`load` with the CPU time it cost the service and this client, per request: on a
    machine shared with other work these are steadier than the rates."""
    c0, p0 = svc.cpu_seconds(), time.process_time()
    r = asyncio.run(load(svc.port, requests, conns, seconds, max_requests, on_half))
    n = max(r["requests"], 1)
    r["server_cpu_us_per_request"] = round((svc.cpu_seconds() - c0) / n * 1e6, 1)
    r["client_cpu_us_per_request"] = round((time.process_time() - p0) / n * 1e6, 1)
    return r


async def load(port: int, requests: list[bytes], conns: int, seconds: float, max_requests: int,
               on_half: Any = None) -> dict[str, Any]:
    """`conns` keep-alive connections send requests (round robin over `requests`) for
    `seconds` or `max_requests` in all; latencies per request, failures counted."""
    lat: list[float] = []
    failed = 0
    bodies: list[bytes] = []
    stop_at = time.perf_counter() + seconds
    budget = [max_requests]
    t_start = time.perf_counter()
    pending = on_half

    async def conn(k: int) -> None:
        nonlocal failed, pending
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        try:
            while budget[0] > 0 and time.perf_counter() < stop_at:
                budget[0] -= 1
                if pending is not None and time.perf_counter() - t_start > seconds / 2:
                    fire, pending = pending, None
                    fire()
                t0 = time.perf_counter()
                writer.write(requests[i % len(requests)])
                i += conns
                try:
                    status, body = await read_answer(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    failed += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                lat.append(time.perf_counter() - t0)
                if status != 200:
                    failed += 1
                elif len(bodies) < 50_000 and on_half is not None:
                    bodies.append(body)
        finally:
            writer.close()

    await asyncio.gather(*(conn(k) for k in range(conns)))
    wall = time.perf_counter() - t_start
    lat.sort()
    q = (lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3)) if lat else (lambda p: None)
    out = {"connections": conns, "requests": len(lat), "failed": failed, "seconds": round(wall, 3),
           "rate_per_s": round(len(lat) / wall, 1), "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": q(1.0)}
    if on_half is not None:
        out["_bodies"] = bodies
    return out


WRK_SCRIPT = """
local bodies = dofile(os.getenv("BODIES"))
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def wrk_run(port: int, path: str, bodies: list[bytes], conns: int, seconds: float, tmp: Path) -> dict[str, Any] | None:
    """The same load from wrk (C, Debian's `wrk`), if installed: the client's own cost
    then hardly competes with the service for the cores. None without wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    lua_bodies = tmp / "bodies.lua"
    lua_bodies.write_bytes(b"return {" + b",".join(b"[==[" + b + b"]==]" for b in bodies) + b"}")
    script = tmp / "script.lua"
    script.write_text(WRK_SCRIPT % path)
    threads = min(2, conns)
    p = subprocess.run([wrk, "-t", str(threads), "-c", str(conns), "-d", f"{seconds:g}s", "--latency", "-s",
                        str(script), f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                       env={**os.environ, "BODIES": str(lua_bodies)}, timeout=seconds + 30)
    out = p.stdout

    def ms(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        return round(float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)], 3)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"connections": conns, "rate_per_s": float(rate.group(1)) if rate else None,
            "p50_ms": ms("50"), "p99_ms": ms("99"), "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1) if sock else None}


def in_process(tickets: list[dict], rounds: int) -> dict[str, Any]:
    """route() per ticket, direct vs via a thread (the cost of deciding off the event loop)."""
    from triage import Triage

    tr = Triage(rules=ROOT / "rules")
    for t in tickets[:200]:
        tr.route(t)

    def direct() -> float:
        t0 = time.perf_counter()
        for t in tickets:
            tr.route(t)
        return len(tickets) / (time.perf_counter() - t0)

    async def threaded() -> float:
        t0 = time.perf_counter()
        for t in tickets:
            await asyncio.to_thread(tr.route, t)
        return len(tickets) / (time.perf_counter() - t0)

    d, th = [], []
    for _ in range(rounds):
        d.append(direct())
        th.append(asyncio.run(threaded()))
    tr.close()
    return {"route_direct_per_s": round(statistics.median(d), 1),
            "route_via_thread_per_s": round(statistics.median(th), 1),
            "thread_hop_us": round((1 / statistics.median(th) - 1 / statistics.median(d)) * 1e6, 1)}


def cli_rate(tickets: list[dict], tmp: Path) -> dict[str, Any]:
    infile, one, out = tmp / "t.jsonl", tmp / "one.jsonl", tmp / "out.jsonl"
    infile.write_bytes(jsonl(tickets))
    one.write_bytes(jsonl(tickets[:1]))

    def run(path: Path) -> float:
        with open(out, "wb") as f:
            t0 = time.perf_counter()
            subprocess.run(triage_cmd() + ["route", str(path), "--rules", str(ROOT / "rules")], stdout=f, check=True)
            return time.perf_counter() - t0

    startup = statistics.median(run(one) for _ in range(3))
    whole = statistics.median(run(infile) for _ in range(3))
    return {"tickets": len(tickets), "seconds": round(whole, 3), "startup_seconds": round(startup, 3),
            "rate_per_s": round(len(tickets) / max(whole - startup, 1e-6), 1)}


def reload_run(svc: Service, rules: Path, singles: list[bytes], seconds: float) -> dict[str, Any]:
    """Half-way through, the mass-impact threshold goes from 5 to 3 affected customers and SIGHUP."""
    def change() -> None:
        f = rules / "priority.yaml"
        f.write_text(f.read_text().replace('{affected_customers: {">=": 5}}', '{affected_customers: {">=": 3}}'))
        svc.proc.send_signal(signal.SIGHUP)

    r = measured(svc, singles, 16, seconds, 10**7, on_half=change)
    versions: dict[str, int] = {}
    order: list[str] = []
    for b in r.pop("_bodies"):
        v = orjson.loads(b)["ruleset_version"]
        versions[v] = versions.get(v, 0) + 1
        if not order or order[-1] != v:
            order.append(v)
    r["versions_seen"] = len(versions)
    r["version_switches"] = len(order) - 1  # 1: every answer after the first new one was new
    return r


def main() -> int:
    quick = argv_quick()
    seconds = 2.0 if quick else 6.0
    tickets = given_tickets(2000, seed=7)
    singles = [request("/v1/route", orjson.dumps(t)) for t in tickets]
    batches = [request("/v1/route/batch", orjson.dumps(tickets[i:i + BATCH])) for i in range(0, len(tickets), BATCH)]
    m = machine()
    print_machine(m)
    res: dict[str, Any] = {"machine": m, "batch_size": BATCH, "seconds_per_run": seconds}

    res["in_process"] = in_process(tickets, 3)
    print("in process:", res["in_process"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        res["cli"] = cli_rate(given_tickets(5000 if quick else 20000, seed=8), Path(tmp))
    print("triage route:", res["cli"], flush=True)

    for workers in (1, 2):
        tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
        rules = tmp / "rules"
        shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
        svc = Service(rules, "--workers", str(workers))
        try:
            asyncio.run(load(svc.port, singles, 16, 0.5, 2000))  # warm up
            runs = {}
            for c in CONNS:
                runs[f"single_{c}"] = measured(svc, singles, c, seconds, 10**7)
                print(f"workers {workers} single x{c}:", runs[f"single_{c}"], flush=True)
            for c in (1, 16):
                r = measured(svc, batches, c, seconds, 10**6)
                r["tickets_per_s"] = round(r["rate_per_s"] * BATCH, 1)
                runs[f"batch_{c}"] = r
                print(f"workers {workers} batch x{c}:", r, flush=True)
            for c in CONNS:
                c0 = svc.cpu_seconds()
                w = wrk_run(svc.port, "/v1/route", [orjson.dumps(t) for t in tickets], c, seconds, tmp)
                if w is not None and w["rate_per_s"]:
                    used = svc.cpu_seconds() - c0
                    w["server_cpu_us_per_request"] = round(used / (w["rate_per_s"] * seconds) * 1e6, 1)
                    runs[f"wrk_single_{c}"] = w
                    print(f"workers {workers} wrk single x{c}:", w, flush=True)
            if workers == 1:
                runs["reload_16"] = reload_run(svc, rules, singles, seconds)
                print("reload in the middle:", runs["reload_16"], flush=True)
        finally:
            svc.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        res[f"workers_{workers}"] = runs
    # in-process route() once more, so the ratio is not to one moment of a noisy machine
    again = in_process(tickets, 3)
    route_rate = statistics.median([res["in_process"]["route_direct_per_s"], again["route_direct_per_s"]])
    res["in_process_after"] = again
    w1 = res["workers_1"]
    # The goals from wrk when it is installed (its C client leaves the cores to the service),
    # else from the asyncio client.
    gen = "wrk_single_16" if "wrk_single_16" in w1 else "single_16"
    best = max((res[f"workers_{w}"] for w in (1, 2)), key=lambda r: r[gen]["rate_per_s"])
    res["goals_measured_with"] = "wrk" if gen.startswith("wrk") else "asyncio client"
    res["ratios"] = {
        "service_single_16_vs_route": round(w1["single_16"]["rate_per_s"] / route_rate, 3),
        "service_wrk_single_16_vs_route": (round(w1["wrk_single_16"]["rate_per_s"] / route_rate, 3)
                                           if "wrk_single_16" in w1 else None),
        "service_batch_16_vs_route": round(w1["batch_16"]["tickets_per_s"] / route_rate, 3),
        "service_batch_16_vs_cli": round(w1["batch_16"]["tickets_per_s"] / res["cli"]["rate_per_s"], 3),
        "best_batch_16_vs_cli": round(max(res[f"workers_{w}"]["batch_16"]["tickets_per_s"] for w in (1, 2))
                                      / res["cli"]["rate_per_s"], 3),
        "workers_2_vs_1_single_16": round(res["workers_2"]["single_16"]["rate_per_s"]
                                          / w1["single_16"]["rate_per_s"], 3),
    }
    res["goals"] = {
        "single_req_per_s": {"value": best[gen]["rate_per_s"], "target": 3000,
                             "met": best[gen]["rate_per_s"] >= 3000},
        "p99_ms_at_16": {"value": min(res[f"workers_{w}"][gen]["p99_ms"] for w in (1, 2)), "target": 10,
                         "met": min(res[f"workers_{w}"][gen]["p99_ms"] for w in (1, 2)) <= 10},
        "batch_vs_cli": {"value": res["ratios"]["best_batch_16_vs_cli"], "target": 0.5,
                         "met": res["ratios"]["best_batch_16_vs_cli"] >= 0.5},
        # What two cores of service sustain by its own CPU cost (client and neighbours aside).
        "single_capacity_2_cores_req_per_s": {
            "value": round(2e6 / res["workers_2"]["single_16"]["server_cpu_us_per_request"], 1), "target": 3000,
            "met": 2e6 / res["workers_2"]["single_16"]["server_cpu_us_per_request"] >= 3000},
        "reload_failed_requests": {"value": w1["reload_16"]["failed"], "target": 0,
                                   "met": w1["reload_16"]["failed"] == 0},
    }
    write_json(NAME, res)
    update_section(NAME, markdown(res))
    print(orjson.dumps(res["ratios"]).decode())
    print(orjson.dumps(res["goals"]).decode())
    return 0


def markdown(r: dict[str, Any]) -> str:
    rows = []
    for w in (1, 2):
        for key, run in r[f"workers_{w}"].items():
            if key == "reload_16":
                continue
            client, kind, c = key.split("_") if key.startswith("wrk") else ["asyncio"] + key.split("_")
            per_ticket = run["server_cpu_us_per_request"] / (r["batch_size"] if kind == "batch" else 1)
            rows.append([w, client, kind, c, f"{run['rate_per_s']:,.0f}/s",
                         f"{run.get('tickets_per_s', run['rate_per_s']):,.0f}/s", run["p50_ms"], run["p99_ms"],
                         round(per_ticket, 1), run.get("client_cpu_us_per_request", ""),
                         run.get("failed", run.get("non_2xx"))])
    g, ip, ra = r["goals"], r["in_process"], r["ratios"]
    rl = r["workers_1"]["reload_16"]
    return f"""## Service (`bench_serve.py`): `triage serve` under keep-alive load (an asyncio client; wrk if installed)

{machine_line(r['machine'])}

Tickets with categories given; batches of {r['batch_size']}; {r['seconds_per_run']:g} s per run; the client shares the cores.

{table(["workers", "client", "kind", "connections", "requests/s", "tickets/s", "p50 ms", "p99 ms",
        "service CPU µs/ticket", "client CPU µs/request", "failed"], rows)}

Service CPU per ticket is the steadier figure on a shared machine: 1,000,000 / it is the
tickets per second one core of the service sustains, whatever the client and the
neighbours take.

- In process, same tickets: `route()` {ip['route_direct_per_s']:,.0f}/s called directly, {ip['route_via_thread_per_s']:,.0f}/s through `asyncio.to_thread` (a hop costs {ip['thread_hop_us']} µs): single tickets are decided on the event loop.
- `triage route` CLI: {r['cli']['rate_per_s']:,.0f} tickets/s (start-up {r['cli']['startup_seconds']} s subtracted).
- Ratios: service single x16 / in-process `route()` {ra['service_single_16_vs_route']} (asyncio client), {ra['service_wrk_single_16_vs_route']} (wrk); batch x16 / `route()` {ra['service_batch_16_vs_route']}; batch x16 / CLI {ra['service_batch_16_vs_cli']} (best of 1 and 2 workers {ra['best_batch_16_vs_cli']}); 2 workers / 1 worker, single x16: {ra['workers_2_vs_1_single_16']}.
- Reload (SIGHUP) half-way through a 16-connection run: {rl['requests']:,} requests, {rl['failed']} failed, p99 {rl['p99_ms']} ms, max {rl['max_ms']} ms, versions seen {rl['versions_seen']} (switches in the answers' order: {rl['version_switches']}).

Goals measured with {r['goals_measured_with']}.

| goal | value | target | |
|---|---:|---:|---|
| single-ticket requests/s (best of 1 and 2 workers, 16 connections) | {g['single_req_per_s']['value']:,.0f} | 3,000 | {verdict(g['single_req_per_s']['value'], 3000)} |
| the same by the service's CPU cost: 2,000,000 / CPU µs per request (2 workers, 16 connections) | {g['single_capacity_2_cores_req_per_s']['value']:,.0f} | 3,000 | {verdict(g['single_capacity_2_cores_req_per_s']['value'], 3000)} |
| p99 at 16 connections, best of 1 and 2 workers (ms) | {g['p99_ms_at_16']['value']} | 10 | {verdict(g['p99_ms_at_16']['value'], 10, higher_is_better=False)} |
| batch / `triage route` | {g['batch_vs_cli']['value']} | 0.5 | {verdict(g['batch_vs_cli']['value'], 0.5)} |
| failed requests during a reload | {g['reload_failed_requests']['value']} | 0 | {verdict(-g['reload_failed_requests']['value'], 0)} |
"""


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
