"""The `*.test.yaml` format.

```yaml
defaults:                       # ticket fields every ticket case starts from (optional)
  created_at: "2026-11-23T09:00:00Z"
cases:
  - name: five customers make any category P1
    ticket: {category: billing, affected_customers: 5}
    expect: {priority: P1, tier: CSS, handoff: {at: "2026-11-23T15:00:00Z", to: AMER}}
    decided_by: {priority: mass-impact}
  - name: region for a P3 with a home region
    facts: {priority: P3, home_region: AMER}   # the decision stage only
    expect: {region: AMER}
```

A `ticket` case routes a ticket (it must carry its category: rule tests never ask
the model). A `facts` case evaluates the rules on a fact set: facts not given take
the values of the default ticket, and a decision given as a fact (`priority: P3`)
is taken as decided, so one decision can be tested on its own.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ExpectedHandoff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: str = Field(description="When the shift ends (UTC, ISO 8601).")
    to: str = Field(description="The region that takes the case over.")


class Expect(BaseModel):
    """Expected decision fields; any other key names a decision of your own rule files."""

    model_config = ConfigDict(extra="allow")
    priority: str | None = None
    tier: str | None = None
    region: str | None = None
    queue: str | None = None
    third_party: str | None = Field(None, description="null: no third party")
    handoff: ExpectedHandoff | None = Field(None, description="null: no hand-over (P3/P4)")
    response_due: str | None = Field(None, description="UTC, ISO 8601, e.g. 2026-11-23T10:00:00Z")
    category: str | None = None
    category_source: str | None = None
    needs_review: bool | None = None
    incident_id: str | None = None

    def given(self) -> dict[str, Any]:
        """The keys the test file actually gave (a null counts), with their raw values."""
        out = {k: getattr(self, k) for k in self.model_fields_set}
        if isinstance(out.get("handoff"), ExpectedHandoff):
            out["handoff"] = out["handoff"].model_dump()
        out.update(self.model_extra or {})
        return out


class Case(BaseModel):
    """One rule test: a ticket or a fact set, and what the rules must decide for it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="Unique in the file; names the test.")
    description: str | None = None
    ticket: dict[str, Any] | None = Field(None, description="A ticket (merged over `defaults`); give `category`.")
    facts: dict[str, Any] | None = Field(None, description="A fact set for the decision stage.")
    expect: Expect = Field(default_factory=Expect, description="Decision fields and their expected values.")
    expect_error: str | None = Field(
        None, description="The rules must fail to decide, with this text in the reason (a `unique` "
                          "clash, an `any` disagreement, no row and no default).")
    decided_by: dict[str, str] | None = Field(
        None, description="Decision field -> id of the row that must decide it (or `default`).")

    @model_validator(mode="after")
    def _one_input(self) -> "Case":
        if (self.ticket is None) == (self.facts is None):
            raise ValueError("give exactly one of `ticket` and `facts`")
        if self.expect_error is not None and (self.expect.given() or self.decided_by):
            raise ValueError("`expect_error` stands alone: no `expect` or `decided_by` with it")
        if self.expect_error is None and not self.expect.given():
            raise ValueError("`expect` needs at least one field")
        return self


class TestFile(BaseModel):
    """A `*.test.yaml` file: cases run against the rule folder above it."""

    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest class

    description: str | None = None
    rules: str | None = Field(None, description="The rule folder, relative to this file (default: the "
                                                "nearest folder above that holds decision files).")
    defaults: dict[str, Any] | None = Field(None, description="Ticket fields every ticket case starts from.")
    cases: list[Case] = Field(min_length=1)


def rule_test_schema() -> dict[str, Any]:
    """JSON Schema (draft-7) of a `*.test.yaml` file; tickets are described by the Ticket model."""
    from triage.rules.spec import draft7
    from triage.ticket import Ticket

    schema = TestFile.model_json_schema()
    defs = schema.pop("$defs", {})
    ticket = Ticket.model_json_schema()
    for name, d in ticket.pop("$defs", {}).items():
        defs.setdefault(name, d)
    ticket.pop("required", None)  # `id` and `created_at` may come from `defaults` or the case name
    ticket.pop("title", None)
    defs["Ticket"] = ticket
    case = defs["Case"]["properties"]
    case["ticket"] = {"anyOf": [{"$ref": "#/$defs/Ticket"}, {"type": "null"}],
                      "description": case["ticket"].get("description")}
    schema["properties"]["defaults"] = {"anyOf": [{"$ref": "#/$defs/Ticket"}, {"type": "null"}],
                                        "description": schema["properties"]["defaults"].get("description")}
    return draft7(schema, defs, "triage rule tests")
