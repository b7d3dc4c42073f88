"""The decision: what `route` returns and what a ticketing system stores.

Field names and order are the contract of `shared/formats.md`. Decisions are built by
the router from already-validated parts, so they are constructed without re-validation
(`model_construct`) on the hot path; `to_json` writes the contract order with orjson.
"""
from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from triage.fastmodels import construct


class Handoff(BaseModel):
    """Where a P1/P2 case goes when the current shift ends."""

    model_config = ConfigDict(frozen=True)

    at: str
    to: str


class Decision(BaseModel):
    """A complete, explained routing decision for one ticket."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    category: str
    category_source: Literal["model", "given"]
    confidence: float | None
    needs_review: bool
    priority: str
    tier: str
    region: str
    queue: str
    handoff: Handoff | None
    third_party: str | None
    response_due: str
    incident_id: str | None = None
    rules: dict[str, list[str]]
    ruleset_version: str
    model_version: str | None
    # Outputs of a user's own decision files (absent from the JSON when there are none).
    outputs: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], copy: bool = True) -> "Decision":
        """From the router's already-valid contract dict, without re-validation.

        The hot path of `route`: pydantic's `model_construct` costs more than deciding
        the ticket, so the instance's state is set directly (what `model_construct`
        does, minus its per-field bookkeeping). `rules` gets fresh lists: the router's
        cited rules are shared with its cache. `copy=False` hands `d` itself over (the
        router's own fresh dict), saving a copy per decision.
        """
        state = dict(d) if copy else d
        state["rules"] = {k: list(v) for k, v in state["rules"].items()}
        if "outputs" not in state:
            state["outputs"] = None
        handoff = state["handoff"]
        if handoff is not None:
            state["handoff"] = construct(Handoff, dict(handoff) if copy else handoff)
        return construct(cls, state)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "ticket_id": self.ticket_id,
            "category": self.category,
            "category_source": self.category_source,
            "confidence": self.confidence,
            "needs_review": self.needs_review,
            "priority": self.priority,
            "tier": self.tier,
            "region": self.region,
            "queue": self.queue,
            "handoff": None if self.handoff is None else {"at": self.handoff.at, "to": self.handoff.to},
            "third_party": self.third_party,
            "response_due": self.response_due,
            "incident_id": self.incident_id,
            "rules": self.rules,
            "ruleset_version": self.ruleset_version,
            "model_version": self.model_version,
        }
        if self.outputs:
            d["outputs"] = self.outputs
        return d

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

