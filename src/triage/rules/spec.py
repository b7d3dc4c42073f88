"""Pydantic models of the rule-file format: they validate files and generate the JSON Schema.

The contract is `shared/rule-format.md`. What it leaves to us, decided here:
- `values` lists a decision's possible outputs. It is the decision's domain for later
  decisions and the checker, and, under hit policy `priority`, the order of precedence
  (first listed wins).
- `aggregate` says how `collect` combines the outputs of all matching rows.
- The hit policies are DMN 1.3's: single hit `unique`, `any`, `priority`, `first`
  (no match: the default, or an error without one) and multiple hit `collect`,
  `rule_order`, `output_order` (no match is an answer: the empty list, 0 or null).
- A date, datetime or duration literal is written as text (`2026-12-24`,
  `2026-12-24T11:00:00Z`, `4h`); `{fact: other}` compares a fact with another.
- A row whose condition uses `matches` (a regular expression) must say
  `unanalysable: true`: the checker cannot reason about it and reports it.
- Fact domains live in `facts.yaml` beside the decision files.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr]
HIT_POLICIES = ("first", "unique", "priority", "any", "collect", "rule_order", "output_order")
MULTI_HIT = ("collect", "rule_order", "output_order")  # no match is an answer, never a gap
AGGREGATES = ("list", "set", "count", "sum", "min", "max")


class FactRef(BaseModel):
    """`{fact: other}`: the value of another fact, compared with this one."""

    model_config = ConfigDict(extra="forbid")

    fact: str = Field(description="The fact (or earlier decision) to compare with.")


# A literal: YAML reads an unquoted 2026-12-24 as a date, so dates are accepted as such.
Literal_ = Union[Scalar, date, datetime, FactRef]
IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
ROW_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "matches")


class Ops(BaseModel):
    """`field: {op: value}`: every operator given must hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    eq: Literal_ | None = Field(None, alias="==")
    ne: Literal_ | None = Field(None, alias="!=")
    lt: Literal_ | None = Field(None, alias="<", description="A number, date, datetime or duration.")
    le: Literal_ | None = Field(None, alias="<=")
    gt: Literal_ | None = Field(None, alias=">")
    ge: Literal_ | None = Field(None, alias=">=")
    matches: StrictStr | None = Field(
        None, description="Full-match regular expression (row must be marked unanalysable).")


FieldTest = Union[Scalar, date, datetime, None, list[Union[Scalar, date, datetime]], Ops]


class Condition(BaseModel):
    """All keys must hold. Keys are fact or decision names, or `any`/`all`/`not`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    any_: list["Condition"] | None = Field(None, alias="any", description="At least one holds.")
    all_: list["Condition"] | None = Field(None, alias="all", description="All hold.")
    not_: "Condition | None" = Field(None, alias="not", description="Does not hold.")


class Row(BaseModel):
    """One rule row: when the condition holds, the decision takes `then`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ROW_ID, description="Stable id, unique in the file; decisions cite it.")
    description: str | None = None
    when: Condition | None = Field(None, description="Absent or empty: always holds.")
    then: Scalar | date | datetime | dict[str, Scalar | date | datetime | None] | None = Field(
        description='A value, or a template such as "{tier}-{region}" (a date is given as its ISO text); '
                    'null for no value; a mapping gives several named outputs at once '
                    '({status: Approved, rate: Basic}).')
    unanalysable: bool = Field(False, description="Allow conditions the checker cannot analyse (matches).")


class DecisionFile(BaseModel):
    """One decision: its hit policy, rows in order, and the default."""

    model_config = ConfigDict(extra="forbid")

    decision: str = Field(pattern=IDENT, description="The decision field this file sets.")
    description: str | None = None
    hit_policy: Literal["first", "unique", "priority", "any", "collect", "rule_order", "output_order"] = Field(
        "first", description="DMN's: first, unique, priority (first in `values` wins), any (matching rows "
                             "must agree), collect (see `aggregate`), rule_order (list in row order), "
                             "output_order (list in the order of `values`).")
    values: list[Scalar] | dict[str, list[Scalar]] | None = Field(
        None, description="Possible outputs; under `priority` and `output_order` their order. With several "
                          "named outputs, a mapping of output name to its values (ranked in that order).")
    aggregate: Literal["list", "set", "count", "sum", "min", "max"] | None = Field(
        None, description="How `collect` combines matching outputs: list (default, duplicates kept), set "
                          "(distinct, in row order), count, sum, min, max.")
    rules: list[Row] = Field(default_factory=list)
    default: Scalar | date | datetime | dict[str, Scalar | date | datetime | None] | None = Field(
        None, description="Output when no row matches (null: no value); absent means the checker must "
                          "prove that every input reaches a row (multiple-hit policies answer no match "
                          "with [], 0 or null).")


class FactDomain(BaseModel):
    """The typed, finite domain of one input fact, so that analysis is exact."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["enum", "int", "float", "bool", "string", "date", "datetime", "time", "duration"]
    values: list[StrictStr] | None = Field(None, description="For enum: the allowed values.")
    min: StrictInt | StrictFloat | StrictStr | date | datetime | None = Field(
        None, description="Lowest value (a date, datetime or duration as text for those types).")
    max: StrictInt | StrictFloat | StrictStr | date | datetime | None = None
    from_: str | None = Field(
        None, alias="from", pattern=r"^extra\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="For a fact of the rule set's own name: the ticket's extra field it is read from "
                    "(default: extra.<name>).")
    nullable: bool = False
    description: str | None = None


class FactsFile(BaseModel):
    """`facts.yaml`: domains of facts (the built-in facts may be narrowed, extras declared)."""

    model_config = ConfigDict(extra="forbid")

    facts: dict[str, FactDomain] = Field(default_factory=dict)


def rule_file_schema() -> dict[str, Any]:
    """JSON Schema (draft-7 compatible) of a decision file."""
    schema = DecisionFile.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    defs["Condition"]["additionalProperties"] = {"$ref": "#/$defs/FieldTest"}
    # Conditions keep field tests as extra keys, so pydantic does not list `Ops` itself.
    ops = Ops.model_json_schema(by_alias=True)
    defs.update(ops.pop("$defs", {}))
    defs["Ops"] = ops
    defs["FieldTest"] = {
        "description": "value (equals), list (one of), null (absent), {fact: other} (equals another fact) "
                       "or {op: value}; dates, datetimes and durations are written as text",
        "anyOf": [{"type": ["string", "number", "boolean", "null"]},
                  {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
                  {"$ref": "#/$defs/FactRef"},
                  {"$ref": "#/$defs/Ops"}],
    }
    return draft7(schema, defs, "triage rule file")


def draft7(schema: dict[str, Any], defs: dict[str, Any], title: str) -> dict[str, Any]:
    """A pydantic schema as a draft-7 document: `definitions`, `$schema`, and our title.

    pydantic's own title (the class name, e.g. "DecisionFile") is replaced.
    """
    import json

    raw = json.dumps({**schema, "definitions": defs}).replace("#/$defs/", "#/definitions/")
    body = {k: v for k, v in json.loads(raw).items() if k not in ("$schema", "title")}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": title, **body}
