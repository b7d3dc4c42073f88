"""triage: classify support requests and route them by declarative rule files.

    from triage import Triage
    decision = Triage().route({"id": "T-1", "subject": "port down", "created_at": "2026-11-25T08:30:00Z"})

Heavy modules (durable_rules, scikit-learn) load on first use, so importing the
package is cheap.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Triage", "Ticket", "Decision", "Handoff", "parse_ticket", "RuleSet", "Schedule", "load_rules",
           "TriageError", "TicketError", "RuleFileError", "RuleSetErrors", "RuleEvaluationError", "RuleTestFileError",
           "CorrelationFileError", "EngineError", "ScheduleError", "ModelError", "NoModelError", "InputError",
           "ResumeError", "DaskUnavailable"]

_EXPORTS = {
    "Triage": "triage.router", "Ticket": "triage.ticket", "parse_ticket": "triage.ticket",
    "Decision": "triage.decision", "Handoff": "triage.decision", "RuleSet": "triage.rules.ruleset",
    "Schedule": "triage.schedule", "load_rules": "triage.facts",
    **{name: "triage.errors" for name in __all__ if name.endswith(("Error", "Errors")) or name == "DaskUnavailable"},
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'triage' has no attribute {name!r}")
