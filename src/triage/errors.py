"""Every error a user can cause, in one hierarchy, each with a stable `code`.

Callers catch `TriageError`; programs match `code` (as `triage check` findings
already have codes), people read the message. Each error keeps structured fields
(file, line, rule id, field path) and builds its message from them: the CLI prints
`str(error)` as one line, or `to_dict()` (which always holds `code`) as JSON.
"""
from __future__ import annotations

from typing import Any


class TriageError(Exception):
    """Base of every error a user can cause (bad ticket, rule file, model file, arguments)."""

    code = "error"

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "code": self.code, "reason": str(self)}


class TicketError(TriageError, ValueError):
    """A ticket (or case) failed validation; `problems` lists (field path, reason) pairs."""

    code = "ticket.invalid"

    def __init__(self, problems: list[tuple[str, str]], ticket_id: str | None = None):
        self.problems = problems
        self.ticket_id = ticket_id
        super().__init__("; ".join(f"{path or '<ticket>'}: {reason}" for path, reason in problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": "invalid ticket",
            "code": self.code,
            "id": self.ticket_id,
            "reason": str(self),
            "fields": [{"field": p, "reason": r} for p, r in self.problems],
        }


class RuleFileError(TriageError):
    """A rule file (or a rule set as a whole) is invalid; names file, line and rule id."""

    code = "rules.invalid"

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
        return {"error": "invalid rules", "code": self.code, "file": self.file, "line": self.line,
                "rule_id": self.rule_id, "reason": self.reason}


class RuleSetErrors(TriageError):
    """Several rule-file errors found at once; a rule set is never partially loaded."""

    code = "rules.invalid"

    def __init__(self, errors: list[RuleFileError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid rules", "code": self.code, "errors": [e.to_dict() for e in self.errors]}


class RuleEvaluationError(RuleFileError):
    """A ticket's facts reached a hole in the rules (no row and no default, a `unique`
    clash): a fault of the rule set, named by file and line, not of the ticket."""

    code = "rules.no-answer"


class RuleTestFileError(RuleFileError):
    """A rule test file that cannot be read or does not follow the format."""

    code = "ruletest.invalid"


class CorrelationFileError(RuleFileError):
    """`correlation.yaml` is invalid. Reads as its first problem (file, line, reason);
    `problems` holds every one, each a `RuleFileError`."""

    code = "correlation.invalid"

    def __init__(self, problems: list[RuleFileError]):
        self.problems = problems
        first = problems[0]
        reason = first.reason
        if len(problems) > 1:
            reason += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        super().__init__(reason, file=first.file, line=first.line, rule_id=first.rule_id)

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid rules", "code": self.code, "errors": [e.to_dict() for e in self.problems]}


class EngineError(TriageError):
    """durable_rules refused a ruleset or a message."""

    code = "engine.refused"


class ScheduleError(RuleFileError):
    """The schedule file (shifts, calendars, hand-over order, targets) is invalid, or lacks
    what a decision needs (a target for a priority): a rule-set fault with file and line."""

    code = "schedule.invalid"

    def __init__(self, reason: str, file: str | None = None, line: int | None = None, code: str | None = None):
        super().__init__(reason, file=file, line=line)
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid schedule", "code": self.code, "file": self.file, "line": self.line,
                "reason": self.reason}


class ModelError(TriageError):
    """A model directory is missing, tampered with, truncated or from another library version."""

    code = "model.invalid"

    def __init__(self, reason: str, path: str | None = None):
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)

    def to_dict(self) -> dict[str, Any]:
        return {"error": "invalid model", "code": self.code, "path": self.path, "reason": self.reason}


class NoModelError(ModelError):
    """A ticket needs classification but no model is available."""

    code = "model.missing"


class InputError(TriageError):
    """An input or output file cannot be used at all (missing, unknown format, unreadable)."""

    code = "input.unreadable"


class ResumeError(TriageError):
    """`--resume` was asked for a different job than the checkpoint records."""

    code = "resume.mismatch"


class DaskUnavailable(TriageError):
    """`--dask` was asked for but dask.distributed is not installed or not reachable."""

    code = "dask.unavailable"
