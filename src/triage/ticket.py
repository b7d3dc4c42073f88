"""The ticket: what a ticketing system sends, validated once at the door.

Field names and defaults are the public contract of `shared/formats.md`. Counts are
strict integers (a string "5" or 1.5 is refused, never coerced), `created_at` must
carry a time zone and is kept in UTC, and unknown extra fields are kept so that a
user's own rules can read them as `extra.<name>`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

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

from triage.errors import TicketError

Channel = Literal["email", "portal", "phone", "api", "partner", "monitoring"]
CustomerTier = Literal["standard", "premium", "enterprise"]
Region = Literal["APAC", "EMEA", "AMER"]
Product = Literal["port", "vxc", "mcr", "mve", "ix", "none"]
CloudProvider = Literal["aws", "azure", "gcp", "oracle", "ibm", "other", "none"]

# Dates the schedule can still add a business week to without overflowing `datetime`.
MIN_CREATED = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_CREATED = datetime(9000, 1, 1, tzinfo=timezone.utc)


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: StrictStr | None = None
    tier: CustomerTier = "standard"
    home_region: Region | None = None
    partner_id: StrictStr | None = None

    @field_validator("partner_id")
    @classmethod
    def _blank_partner_is_none(cls, v: str | None) -> str | None:
        return v if v else None


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product: Product = "none"
    service_id: StrictStr | None = None
    location: StrictStr | None = None
    cloud_provider: CloudProvider = "none"

    @field_validator("product", "cloud_provider", mode="before")
    @classmethod
    def _null_means_none(cls, v: Any) -> Any:
        return "none" if v is None else v


class Ticket(BaseModel):
    """One support request. Required: `id`, `created_at`, and text unless `category` is given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Annotated[StrictStr, Field(min_length=1, max_length=512)]
    subject: StrictStr | None = None
    body: StrictStr | None = None
    created_at: AwareDatetime
    channel: Channel = "email"
    customer: Customer = Customer()
    service: Service = Service()
    reported_severity: Annotated[StrictInt, Field(ge=1, le=4)] | None = None
    affected_customers: Annotated[StrictInt, Field(ge=1, le=10**9)] = 1
    affected_services: Annotated[StrictInt, Field(ge=0, le=10**9)] = 1
    escalation_level: Annotated[StrictInt, Field(ge=0, le=1000)] = 0
    category: StrictStr | None = None
    status: StrictStr = "new"

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, v: datetime) -> datetime:
        v = v.astimezone(timezone.utc)
        if not MIN_CREATED <= v < MAX_CREATED:
            raise ValueError("must lie between 1970 and 9000")
        return v

    @field_validator("customer", "service", mode="before")
    @classmethod
    def _null_means_default(cls, v: Any) -> Any:
        return {} if v is None else v

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
        path = ".".join(str(p) for p in err["loc"])
        problems.append((path, _reason(err)))
    tid = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    return TicketError(problems, ticket_id=tid)


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
