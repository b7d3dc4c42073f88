"""`correlation.yaml`: when tickets from several customers form one incident.

The reference policy ("Multi-customer incidents") as data, not code:

    window: 15m                 # inclusive: tickets exactly 15 minutes apart are within it
    threshold: 3                # distinct customer accounts
    categories: [service_down, degraded_performance]
    keys: [location, service_id]
    account: account_id         # the fact that tells customers apart (default)
    lateness: 5m                # how far out of created_at order a ticket may still arrive

Keys and the account are names of string facts (`location`, `service_id`, ...,
or `extra.<name>`); categories must belong to the rule set's category domain when
`facts.yaml` enumerates it. A rule folder without the file has no correlation.
Problems are reported as `RuleFileError` with the file and line.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

from triage.errors import CorrelationFileError, RuleFileError
from triage.facts import STANDARD_DOMAINS
from triage.rules.domains import Domain, suggest
from triage.rules.layout import CORRELATION_FILE
from triage.rules.loader import load_domains, pydantic_errors
from triage.rules.yamlio import line_at, load_yaml
from triage.schedule import parse_duration

# The window is compared in milliseconds on durable_rules; a day bounds the memory the
# session needs (every event within window + lateness of the newest is kept).
MAX_WINDOW = timedelta(days=1)
MAX_LATENESS = timedelta(days=1)
STRING_TYPES = ("string", "enum")


class CorrelationFile(BaseModel):
    """The pydantic model of `correlation.yaml` (validates the file, names each bad key)."""

    model_config = ConfigDict(extra="forbid")

    description: StrictStr | None = None
    window: StrictStr = Field(description="Duration such as 15m: tickets at most this far apart "
                                          "(inclusive) correlate.")
    threshold: StrictInt = Field(ge=2, le=10_000, description="Distinct accounts that make an incident.")
    categories: list[StrictStr] = Field(min_length=1, description="Categories that can form an incident.")
    keys: list[StrictStr] = Field(min_length=1, description="Facts that name the shared thing "
                                                            "(location, service_id); any one may match.")
    account: StrictStr = Field("account_id", description="Fact that tells customers apart.")
    lateness: StrictStr = Field("0m", description="How far out of created_at order a ticket may "
                                                  "arrive and still be correlated.")

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        d = parse_duration(v)
        if d <= timedelta(0) or d > MAX_WINDOW:
            raise ValueError(f"must be positive and at most {_fmt(MAX_WINDOW)}")
        return v

    @field_validator("lateness")
    @classmethod
    def _lateness(cls, v: str) -> str:
        if parse_duration(v) > MAX_LATENESS:
            raise ValueError(f"must be at most {_fmt(MAX_LATENESS)}")
        return v

    @field_validator("categories", "keys")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        seen = [x for i, x in enumerate(v) if x in v[:i]]
        if seen:
            raise ValueError(f"{seen[0]!r} is listed twice")
        return v


def _fmt(d: timedelta) -> str:
    return f"{int(d.total_seconds() // 3600)}h"


@dataclass(frozen=True)
class CorrelationSpec:
    """A validated correlation rule: plain values, ready for the correlator."""

    window: timedelta
    threshold: int
    categories: tuple[str, ...]
    keys: tuple[str, ...]
    account: str = "account_id"
    lateness: timedelta = timedelta(0)
    file: str | None = None
    description: str | None = None

    @classmethod
    def load(cls, path: str | Path, domains: dict[str, Domain] | None = None) -> "CorrelationSpec":
        """Read and validate one file; `domains` (the rule set's facts) enable the checks of
        categories, keys and account against the facts. Raises `CorrelationFileError`."""
        path = Path(path)
        file = str(path)
        raw = load_yaml(path)  # RuleFileError with file and line for broken YAML
        if raw is None:
            raise CorrelationFileError([RuleFileError("empty file", file=file)])
        if not isinstance(raw, dict):
            raise CorrelationFileError([RuleFileError(
                "a correlation file must be a mapping with window, threshold, categories and keys",
                file=file, line=getattr(raw, "line", 1))])
        try:
            spec = CorrelationFile.model_validate(raw)
        except ValidationError as exc:
            raise CorrelationFileError(pydantic_errors(exc, raw, file)) from None
        problems = _check_facts(spec, raw, file, domains) if domains is not None else []
        if problems:
            raise CorrelationFileError(problems)
        return cls(window=parse_duration(spec.window), threshold=spec.threshold,
                   categories=tuple(spec.categories), keys=tuple(spec.keys), account=spec.account,
                   lateness=parse_duration(spec.lateness), file=file, description=spec.description)


def _check_facts(spec: CorrelationFile, raw: Any, file: str, domains: dict[str, Domain]) -> list[RuleFileError]:
    problems: list[RuleFileError] = []
    cat = domains.get("category")
    if cat is not None and cat.values:
        for i, c in enumerate(spec.categories):
            if c not in cat.values:
                problems.append(RuleFileError(f"categories: {c!r} is not a value of category"
                                              f"{suggest(c, cat.values)}", file=file,
                                              line=line_at(raw, ("categories", i))))
    not_keys = ("category", "category_source")
    string_facts = sorted(n for n, d in domains.items() if d.type in STRING_TYPES and n not in not_keys)

    def check_fact(name: str, loc: tuple[Any, ...], what: str) -> None:
        line = line_at(raw, loc)
        if name.startswith("extra.") and len(name) > 6:
            d = domains.get(name)
            if d is None or d.type in STRING_TYPES:
                return
        d = domains.get(name)
        if d is None:
            problems.append(RuleFileError(f"{what}: unknown fact {name!r}{suggest(name, string_facts)}",
                                          file=file, line=line))
        elif d.type not in STRING_TYPES or name in not_keys:
            problems.append(RuleFileError(f"{what}: {name!r} is not a string fact ({d.type}); {what} must "
                                          f"name one such as {', '.join(string_facts[:4])}",
                                          file=file, line=line))

    for i, k in enumerate(spec.keys):
        check_fact(k, ("keys", i), "keys")
    check_fact(spec.account, ("account",), "account")
    if spec.account in spec.keys:
        problems.append(RuleFileError(f"account: {spec.account!r} is also a key; the same customer "
                                      "can never be three customers", file=file, line=line_at(raw, ("account",))))
    return problems


def load_correlation(folder: str | Path) -> CorrelationSpec | None:
    """The correlation rule of a rule folder, or None when it has no `correlation.yaml`.

    Validates the file against the folder's fact domains (`facts.yaml`); raises
    `CorrelationFileError` (a `RuleFileError`: file, line, reason; `.problems` lists all).
    Problems in `facts.yaml` itself are left to the rule-set loader.
    """
    folder = Path(folder)
    path = folder / CORRELATION_FILE
    if not path.is_file():
        return None
    domains = load_domains(folder, STANDARD_DOMAINS, [])
    return CorrelationSpec.load(path, domains)
