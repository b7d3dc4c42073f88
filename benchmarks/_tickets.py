"""Seeded ticket generators for the benchmarks (no public data: fields are drawn from
fixed distributions, texts from the project's own training corpus with numbers and
ids re-drawn so that no two tickets are identical)."""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "models" / "corpus"

CATEGORIES = ["service_down", "degraded_performance", "bgp_routing", "cloud_connectivity", "provisioning",
              "change_request", "maintenance", "hardware_fault", "network_change", "security", "billing",
              "account_access", "general_inquiry", "unknown"]
# A plausible support mix: incidents and service work dominate, security is rare.
CATEGORY_WEIGHTS = [10, 9, 6, 7, 10, 9, 7, 4, 4, 2, 10, 8, 10, 4]
CHANNELS = (["email", "portal", "phone", "api", "partner", "monitoring"], [40, 25, 10, 8, 7, 10])
TIERS = (["standard", "premium", "enterprise"], [60, 28, 12])
REGIONS = (["EMEA", "AMER", "APAC", None], [40, 30, 20, 10])
PRODUCTS = (["port", "vxc", "mcr", "mve", "ix", "none"], [30, 30, 12, 5, 8, 15])
CLOUDS = (["aws", "azure", "gcp", "oracle", "ibm", "other"], [40, 30, 18, 5, 3, 4])
SEVERITY = ([None, 1, 2, 3, 4], [30, 8, 20, 27, 15])
LOCATIONS = ["FRA-DC1", "AMS-NIK", "LON-TH2", "MUC-EQ2", "NYC-EQ1", "SJC-CO1", "SIN-GS1", "SYD-EQ4", "TYO-AT1"]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
OFFSETS = ["Z", "Z", "Z", "Z", "+01:00", "+02:00", "-05:00", "+09:00"]


def _pick(rng: random.Random, spec: tuple[list, list]) -> Any:
    return rng.choices(spec[0], spec[1])[0]


def _created(rng: random.Random) -> str:
    t = START + timedelta(seconds=rng.randrange(365 * 86400))
    off = rng.choice(OFFSETS)
    if off == "Z":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign = 1 if off[0] == "+" else -1
    local = t + sign * timedelta(hours=int(off[1:3]))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + off


def _affected(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.78:
        return 1
    if r < 0.93:
        return rng.randint(2, 4)
    return rng.randint(5, 400)


def ticket(rng: random.Random, i: int, category: str | None, text: tuple[str, str] | None = None) -> dict[str, Any]:
    """One ticket as a JSON-ready dict; `category` None means free text only."""
    product = _pick(rng, PRODUCTS)
    partner = f"P-{rng.randint(1, 40)}" if rng.random() < 0.15 else None
    channel = "partner" if partner and rng.random() < 0.5 else _pick(rng, CHANNELS)
    esc = rng.random()
    t: dict[str, Any] = {
        "id": f"T-{i:08d}",
        "created_at": _created(rng),
        "channel": channel,
        "customer": {"account_id": f"A-{rng.randint(1, 50_000)}", "tier": _pick(rng, TIERS),
                     "home_region": _pick(rng, REGIONS), "partner_id": partner},
        "service": {"product": product,
                    "service_id": None if product == "none" else f"{product}-{rng.randint(1000, 99999)}",
                    "location": rng.choice(LOCATIONS) if product != "none" else None,
                    "cloud_provider": _pick(rng, CLOUDS) if product in ("vxc", "mcr") and rng.random() < 0.7 else None},
        "reported_severity": _pick(rng, SEVERITY),
        "affected_customers": _affected(rng),
        "affected_services": rng.choice([0, 1, 1, 1, 2, 3, 5]),
        "escalation_level": 0 if esc < 0.8 else 1 if esc < 0.95 else rng.randint(2, 4),
        "category": category,
        "status": "new" if rng.random() < 0.9 else "open",
    }
    if text is not None:
        t["subject"], t["body"] = text
    return t


def given_tickets(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Tickets with their category given (the rules-only path)."""
    rng = random.Random(seed)
    return [ticket(rng, i, rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]) for i in range(n)]


_DIGITS = re.compile(r"\d+")


def load_corpus() -> list[tuple[str, str, str]]:
    """(subject, body, label) of the project's training corpus."""
    out = []
    for p in sorted(CORPUS.glob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            if line.strip():
                r = orjson.loads(line)
                out.append((r.get("subject") or "", r.get("body") or "", r.get("category") or p.stem))
    return out


def _redraw(rng: random.Random, s: str) -> str:
    return _DIGITS.sub(lambda m: str(rng.randrange(10 ** len(m.group(0)))).zfill(len(m.group(0))), s)


def text_tickets(n: int, seed: int = 11, corpus: list | None = None) -> list[dict[str, Any]]:
    """Free-text tickets (no category): corpus texts with their numbers re-drawn."""
    rng = random.Random(seed)
    corpus = corpus or load_corpus()
    out = []
    for i in range(n):
        subj, body, _ = corpus[rng.randrange(len(corpus))]
        out.append(ticket(rng, i, None, (_redraw(rng, subj), _redraw(rng, body))))
    return out


def stream_given_jsonl(path: Path, n: int, seed: int = 13, previous_share: float = 0.3) -> int:
    """Write `n` category-given tickets to `path` as JSON Lines without holding them in memory."""
    rng = random.Random(seed)
    size = 0
    with open(path, "wb") as f:
        buf: list[bytes] = []
        for i in range(n):
            t = ticket(rng, i, rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0])
            if rng.random() < previous_share:
                t["previous"] = {"priority": rng.choice(["P1", "P2", "P3", "P4"]),
                                 "tier": rng.choice(["CSS", "NSS", "OpsEng"])}
            buf.append(orjson.dumps(t))
            if len(buf) >= 10_000:
                data = b"\n".join(buf) + b"\n"
                f.write(data)
                size += len(data)
                buf = []
        if buf:
            data = b"\n".join(buf) + b"\n"
            f.write(data)
            size += len(data)
    return size


def jsonl(tickets: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(t) + b"\n" for t in tickets)
