"""The ticket: what a ticketing system sends, validated once at the door.

Field names and defaults are the public contract of `shared/formats.md`. Counts are
strict integers (a string "5" or 1.5 is refused, never coerced), `created_at` must
carry a time zone and is kept in UTC, and unknown extra fields are kept so that a
user's own rules can read them as `extra.<name>`. Text must be Unicode: a lone
surrogate, anywhere, is refused naming its field.

This model is the one definition of a ticket: the facts rules read, their domains and
the fast reader's checks are all derived from its JSON Schema (`triage.facts`). Its
schema extensions say how: `x-fact` renames a field's fact (or, False, says it is not
one), `x-null-means` names the value null stands for, `x-blank-is-null` reads "" as null.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Iterator, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from triage.errors import TicketError

Channel = Literal["email", "portal", "phone", "api", "partner", "monitoring"]
CustomerTier = Literal["standard", "premium", "enterprise"]
Region = Literal["APAC", "EMEA", "AMER"]
Product = Literal["port", "vxc", "mcr", "mve", "ix", "none"]
CloudProvider = Literal["aws", "azure", "gcp", "oracle", "ibm", "other", "none"]

# Dates the schedule can still add a business week to without overflowing `datetime`.
MIN_CREATED = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_CREATED = datetime(9000, 1, 1, tzinfo=timezone.utc)


NOT_A_FACT: dict[str, Any] = {"x-fact": False}


class _Part(BaseModel):
    """A nested part of a ticket; applies its fields' `x-null-means` and `x-blank-is-null`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            v = out.get(name)
            if v is None and "x-null-means" in extra and name in out:
                out[name] = extra["x-null-means"]
            elif v == "" and extra.get("x-blank-is-null"):
                out[name] = None
        return out


class Customer(_Part):
    account_id: StrictStr | None = None
    tier: CustomerTier = Field("standard", json_schema_extra={"x-fact": "customer_tier"})
    home_region: Region | None = None
    partner_id: StrictStr | None = Field(None, json_schema_extra={"x-blank-is-null": True})


class Service(_Part):
    product: Product = Field("none", json_schema_extra={"x-null-means": "none"})
    service_id: StrictStr | None = None
    location: StrictStr | None = None
    cloud_provider: CloudProvider = Field("none", json_schema_extra={"x-null-means": "none"})
    carrier: StrictStr | None = Field(None, description="backbone carrier of the affected path; null: none",
                                      json_schema_extra={"x-blank-is-null": True})


class Ticket(BaseModel):
    """One support request. Required: `id`, `created_at`, and text unless `category` is given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Annotated[StrictStr, Field(min_length=1, max_length=512, json_schema_extra=NOT_A_FACT)]
    subject: StrictStr | None = Field(None, json_schema_extra=NOT_A_FACT)
    body: StrictStr | None = Field(None, json_schema_extra=NOT_A_FACT)
    created_at: AwareDatetime = Field(json_schema_extra=NOT_A_FACT)
    channel: Channel = "email"
    customer: Customer = Customer()
    service: Service = Service()
    reported_severity: Annotated[StrictInt, Field(ge=1, le=4)] | None = None
    affected_customers: Annotated[StrictInt, Field(ge=1, le=10**9)] = 1
    affected_services: Annotated[StrictInt, Field(ge=0, le=10**9)] = 1
    escalation_level: Annotated[StrictInt, Field(ge=0, le=1000)] = 0
    category: StrictStr | None = Field(None, json_schema_extra=NOT_A_FACT)
    status: StrictStr = "new"

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, v: datetime) -> datetime:
        try:
            v = v.astimezone(timezone.utc)
        except OverflowError:  # year 1 or 9999 shifted across the edge of `datetime`
            raise ValueError("must lie between 1970 and 9000") from None
        if not MIN_CREATED <= v < MAX_CREATED:
            raise ValueError("must lie between 1970 and 9000")
        return v

    @field_validator("customer", "service", mode="before")
    @classmethod
    def _null_means_default(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="after")
    def _valid_unicode(self) -> "Ticket":
        # Python's json (the webhook's) accepts "\ud800"; orjson, UTF-8 and every output
        # of ours do not. Refused at the door, as `triage route` refuses the same bytes.
        texts = [(path, text) for path, text in _strings(self)]
        if "".join(t for _, t in texts).isascii() and not self.__pydantic_extra__:
            return self  # the common case, checked in one C call
        for path, text in texts:
            if not text.isascii() and SURROGATE.search(text):
                raise _surrogate_error(path, text)
        found = lone_surrogate(self.__pydantic_extra__) if self.__pydantic_extra__ else None
        if found is not None:
            raise _surrogate_error(*found)
        return self

    @model_validator(mode="after")
    def _needs_text_or_category(self) -> "Ticket":
        if self.category is None and not (self.subject or "").strip() and not (self.body or "").strip():
            raise ValueError("needs a non-empty subject or body when no category is given")
        return self

    @property
    def text(self) -> str:
        """Subject and body as the model reads them."""
        return f"{self.subject or ''}\n{self.body or ''}"

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _strings(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every string field of a model and its parts, with its dotted path."""
    for name in type(model).model_fields:
        v = getattr(model, name)
        if isinstance(v, str):
            yield prefix + name, v
        elif isinstance(v, BaseModel):
            yield from _strings(v, f"{prefix}{name}.")


def parse_ticket(data: Any) -> Ticket:
    """Validate a mapping into a `Ticket`, raising `TicketError` naming every bad field."""
    if not isinstance(data, dict):
        raise TicketError([("", f"a ticket must be a JSON object, not {_json_type(data)}")])
    try:
        return Ticket.model_validate(data)
    except ValidationError as exc:
        raise ticket_error(exc, data) from None


def ticket_error(exc: ValidationError, data: Any) -> TicketError:
    """Turn pydantic's errors into one `TicketError` with a field path per problem."""
    problems = []
    for err in exc.errors(include_url=False):
        if err["type"] == "lone_surrogate":
            problems.append((err["ctx"]["field"], err["msg"]))
            continue
        path = ".".join(str(p) for p in err["loc"])
        if not path and err["type"] == "string_unicode" and isinstance(data, dict):
            found = lone_surrogate(data)  # a field name that is not text: name it as best we can
            path = found[0].encode("utf-8", "backslashreplace").decode() if found else path
        problems.append((path, _reason(err)))
    tid = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    if tid is not None and SURROGATE.search(tid):
        tid = None
    return TicketError(problems, ticket_id=tid)


SURROGATE = re.compile(r"[\ud800-\udfff]")


def lone_surrogate(data: dict[Any, Any]) -> tuple[str, str] | None:
    """The first field (dotted path) whose name or text holds a lone surrogate, and that text."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        prefix, node = stack.pop()
        for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
            for text in (k, v):
                if isinstance(text, str) and not text.isascii() and SURROGATE.search(text):
                    return f"{prefix}{k}", text
            if isinstance(v, (dict, list)):
                stack.append((f"{prefix}{k}.", v))
    return None


def _surrogate_error(path: str, text: str) -> PydanticCustomError:
    char = SURROGATE.search(text).group()  # type: ignore[union-attr]
    return PydanticCustomError("lone_surrogate", "holds a lone surrogate ({char}), which is not Unicode text",
                               {"field": path.encode("utf-8", "backslashreplace").decode(),  # printable
                                "char": repr(char)[1:-1]})


def _reason(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["loc"] and err["type"] != "missing" and "input" in err:
        shown = repr(err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f" (got {shown})"
    return msg


def _json_type(v: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(v), type(v).__name__)
