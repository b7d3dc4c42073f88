"""Findings: one problem, its place (file, line, rule id), a severity and an example.

Loader errors (YAML, schema, unknown fields, cycles, templates, duplicate ids, values
outside a domain) arrive as `RuleFileError`s; `from_rule_error` gives them the same
shape and a stable code, so `check` prints every problem one way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from triage.errors import RuleFileError

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    severity: str  # error | warning | info
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    rule_id: str | None = None
    example: dict[str, Any] | None = None  # the facts of one cell that shows the problem
    example_ticket: dict[str, Any] | None = None

    @property
    def where(self) -> str:
        out = self.file or "<rules>"
        if self.line is not None:
            out += f":{self.line}"
        return out

    def headline(self) -> str:
        rid = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{self.where}{rid} {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "file": self.file, "line": self.line,
                "rule_id": self.rule_id, "message": self.message, "example": self.example,
                "example_ticket": self.example_ticket}

    def sort_key(self) -> tuple[Any, ...]:
        # Notes about the folder as a whole (no model, ...) go last.
        general = self.line is None and self.rule_id is None and self.severity == "info"
        return (general, self.file or "", self.line or 0, SEVERITIES.index(self.severity), self.code)


@dataclass
class Report:
    folder: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def ok(self) -> bool:
        return self.count("error") == 0

    def sorted(self) -> list[Finding]:
        return sorted(self.findings, key=Finding.sort_key)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.count("error"), "warnings": self.count("warning"),
                "notes": self.count("info"), "findings": [f.to_dict() for f in self.sorted()],
                "stats": self.stats}


# Loader messages -> finding codes. The loader's errors carry place and reason; the
# code lets tools filter them without parsing the prose.
_CODES = (
    (r"^invalid YAML", "yaml-error"),
    (r"^(not valid UTF-8|cannot read|file is \d+ bytes)", "unreadable-file"),
    (r"decision cycle", "decision-cycle"),
    (r"duplicate rule id", "duplicate-id"),
    (r"template", "bad-template"),
    (r"unknown field|unknown fact", "unknown-field"),
    (r"unknown key", "unknown-key"),
    (r"unknown operator", "unknown-operator"),
    (r"is not a value of|is not among values|is an integer|, not a |needs a number|cannot order"
     r"|at most 3 decimals|cannot be compared", "value-outside-domain"),
    (r"also set by|is an input fact|reads its own decision", "decision-conflict"),
    (r"^[A-Za-z_]+(\.[A-Za-z0-9_]+)*: ", "schema-error"),
)


def code_for(reason: str) -> str:
    for pattern, code in _CODES:
        if re.search(pattern, reason):
            return code
    return "invalid-rules"


def from_rule_error(err: RuleFileError) -> Finding:
    return Finding("error", code_for(err.reason), err.reason, file=err.file, line=err.line,
                   rule_id=err.rule_id)


_UNION_MEMBER = re.compile(r"^(?P<path>[^:\s]+)\.(?P<member>bool|int|float|str|none|date|datetime|Ops|FactRef"
                           r"|list\[[^\]]*\]|dict\[.*\]): "
                           r"(?P<msg>.*)$")


def from_rule_errors(errors: list[RuleFileError]) -> list[Finding]:
    """Loader errors as findings; pydantic's one-error-per-union-member lines become one."""
    out: list[Finding] = []
    for err in errors:
        f = from_rule_error(err)
        m = _UNION_MEMBER.match(err.reason)
        prev = out[-1] if out else None
        if m and prev is not None and (prev.file, prev.line, prev.rule_id) == (f.file, f.line, f.rule_id) \
                and prev.message.startswith(m["path"] + ": "):
            prev.message += " or " + m["msg"].removeprefix("Input should be ")
            continue
        if m:
            f.message = f"{m['path']}: {m['msg']}"
        out.append(f)
    return out
