"""One error hierarchy, so callers can catch `TriageError` and every message says where.

Each error keeps structured fields (file, line, rule id, field path) and builds its
message from them: the CLI prints `str(error)` as one line, or `to_dict()` as JSON.
"""
from __future__ import annotations

from typing import Any


class TriageError(Exception):
    """Base of every error a user can cause (bad ticket, rule file, model file, arguments)."""

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "reason": str(self)}


class TicketError(TriageError, ValueError):
    """A ticket failed validation; `problems` lists (field path, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]], ticket_id: str | None = None):
        self.problems = problems
        self.ticket_id = ticket_id
        super().__init__("; ".join(f"{path or '<ticket>'}: {reason}" for path, reason in problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": "invalid ticket",
            "id": self.ticket_id,
            "reason": str(self),
            "fields": [{"field": p, "reason": r} for p, r in self.problems],
        }


class RuleFileError(TriageError):
    """A rule file (or a rule set as a whole) is invalid; names file, line and rule id."""

    def __init__(self, reason: str, file: str | None = None, line: int | None = None,
                 rule_id: str | None = None):
        self.reason = reason
        self.file = file
        self.line = line
        self.rule_id = rule_id
        where = file or "<rules>"
        if line is not None:
            where += f":{line}"
        if rule_id:
            where += f" [{rule_id}]"
        super().__init__(f"{where}: {reason}")

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid rules", "file": self.file, "line": self.line,
                "rule_id": self.rule_id, "reason": self.reason}


class RuleSetErrors(TriageError):
    """Several rule-file errors found at once; a rule set is never partially loaded."""

    def __init__(self, errors: list[RuleFileError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid rules", "errors": [e.to_dict() for e in self.errors]}


class ModelError(TriageError):
    """A model directory is missing, tampered with, truncated or from another library version."""

    def __init__(self, reason: str, path: str | None = None):
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid model", "path": self.path, "reason": self.reason}


class NoModelError(ModelError):
    """A ticket needs classification but no model is available."""


class ScheduleError(TriageError):
    """The schedule file (shifts, hand-over order, calendars, SLA targets) is invalid, or a
    time asked of it is not what it must be (not a shift end, no target for a priority).

    `code` is stable (e.g. `schedule.unknown-country`) so tools can tell problems apart;
    `line` is the line in the file when known.
    """

    def __init__(self, reason: str, file: str | None = None, line: int | None = None,
                 code: str = "schedule.invalid"):
        self.reason = reason
        self.file = file
        self.line = line
        self.code = code
        where = (file or "") + (f":{line}" if file and line is not None else "")
        super().__init__(f"{where}: {reason}" if where else reason)

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid schedule", "code": self.code, "file": self.file, "line": self.line,
                "reason": self.reason}
