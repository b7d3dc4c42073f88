"""The follow-the-sun hand-over packet: what a shift end hands to the next region.

At each shift end the open high-priority cases (the schedule's `handoff_priorities`)
go to the next region. Each case is swept at the shift end itself, with the ladder
applied, exactly as `Triage.sweep` decides it: region row 1 then reads the region
coming on shift, so the decision's queue is the receiving region's (`NSS-EMEA` →
`NSS-AMER`). The packet lists them by priority (in the priority decision's order),
then by resolution due; Markdown for people, JSON for tools.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from triage.clocks import instant, status_at
from triage.errors import TicketError, TriageError
from triage.schedule import iso


@dataclass(frozen=True)
class Packet:
    """The hand-over of the shift of `ending` that ends `at` to `receiving`."""

    at: datetime
    ending: str
    receiving: str
    cases: list[dict[str, Any]]
    errors: list[tuple[int, TriageError]] = field(default_factory=list)  # (position in the input, why)

    def to_dict(self) -> dict[str, Any]:
        return {"at": iso(self.at), "from": self.ending, "to": self.receiving, "cases": self.cases}

    def to_markdown(self) -> str:
        head = (f"# Hand-over {self.ending} → {self.receiving} at {iso(self.at)}\n\n"
                f"{len(self.cases)} open case{'s' if len(self.cases) != 1 else ''} to take over.\n")
        if not self.cases:
            return head
        rows = ["| case | prio | tier | queue | category | status (since) | responded | response due (used) "
                "| resolution due (used) | attention | level | incident |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in self.cases:
            attention = ", ".join([f"{k} breached" for k in c["breached"]] + [f"{k} at risk" for k in c["at_risk"]])
            rows.append(
                f"| {c['ticket_id']} | {c['priority']} | {c['tier']} | {c['queue']} | {c['category']} "
                f"| {c['status']} ({_short(c['status_since'])}) | {'yes' if c['first_response'] else 'no'} "
                f"| {_short(c['response_due'])} ({c['response_used_pct']}%) "
                f"| {_short(c['resolution_due']) if c['resolution_due'] else 'paused'} ({c['resolution_used_pct']}%) "
                f"| {attention or '-'} | {c['escalation_level']} | {c['incident_id'] or '-'} |")
        return head + "\n" + "\n".join(rows) + "\n"


def _short(t: str | None) -> str:
    return "" if t is None else t.replace("T", " ").removesuffix(":00Z").removesuffix("Z")


def build_packet(triage: Any, cases: Iterable[Any], at: datetime | str | None = None) -> Packet:
    """The packet of the shift that ends at `at` (a shift end; None: the next one after now).
    A case that is invalid is left out and named in `errors`; one created after `at`, or
    closed or resolved by then, is not handed over."""
    from triage.ticket import Ticket, parse_ticket

    sched = triage.schedule
    end = sched.next_shift_end(datetime.now(timezone.utc)) if at is None else sched.handover_at(instant(at, "at"))
    order = _priority_order(triage)
    picked: list[dict[str, Any]] = []
    errors: list[tuple[int, TriageError]] = []
    for i, raw in enumerate(cases, 1):
        if isinstance(raw, TriageError):  # a record that could not even be read
            errors.append((i, raw))
            continue
        try:
            t = raw if isinstance(raw, Ticket) else parse_ticket(raw)
            if t.created_at > end.at:
                continue
            try:
                status, since = status_at(created_at=t.created_at, now=end.at, status=t.status,
                                          status_history=t.status_history or ())
            except TicketError as exc:
                raise TicketError(exc.problems, ticket_id=t.id) from None
            if status in sched.stopped_by:
                continue
            d = triage.sweep(t, end.at).to_dict()
        except TriageError as exc:
            errors.append((i, exc))
            continue
        if d["priority"] not in sched.handoff_priorities:
            continue
        sla = d["sla"]
        picked.append({
            "ticket_id": d["ticket_id"], "priority": d["priority"], "tier": d["tier"], "queue": d["queue"],
            "category": d["category"], "status": status, "status_since": iso(since),
            "first_response": sla["response"]["met"],
            "response_due": d["response_due"], "response_used_pct": sla["response"]["used_pct"],
            "resolution_due": d["resolution_due"], "resolution_used_pct": sla["resolution"]["used_pct"],
            "breached": [k for k in ("response", "resolution") if sla[k]["breached"]],
            "at_risk": [k for k in ("response", "resolution") if sla[k]["at_risk"]],
            "escalation_level": d["escalation_level"], "escalated_to": d["escalated_to"],
            "incident_id": d["incident_id"]})
    picked.sort(key=lambda c: (order.get(c["priority"], len(order)), _due(c["resolution_due"]), c["ticket_id"]))
    return Packet(end.at, end.ending, end.receiving, picked, errors)


def _due(t: str | None) -> tuple[bool, datetime]:
    """A resolution due time as a sort key: by instant, a paused clock (no due) last."""
    if t is None:
        return True, datetime.min.replace(tzinfo=timezone.utc)
    return False, datetime.fromisoformat(t.replace("Z", "+00:00"))


def _priority_order(triage: Any) -> dict[str, int]:
    """Rank of each priority: the priority decision's `values` order, else the hand-over list's."""
    values = triage.ruleset.decision(triage.schedule.priority_decision).values
    names = list(values) if values else sorted(triage.schedule.handoff_priorities)
    return {p: i for i, p in enumerate(names)}
