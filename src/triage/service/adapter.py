"""The service's one door into the library: every call to `Triage` and its helpers is here.

The rest of `triage.service` deals in plain data (dicts, lists, `Refused`), so when the
library's API changes only this module has to follow. A `Version` is one loaded,
checked rule set + model; the holder swaps whole `Version`s, never parts of one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.errors import ModelError, RuleFileError, RuleSetErrors, ScheduleError, TicketError, TriageError

__all__ = ["Refused", "TicketError", "TriageError", "Version", "error_body", "error_code", "invalid_fields",
           "load_version"]


class Refused(Exception):
    """A new rule set or model that must not serve; `problems` name file and line."""

    def __init__(self, problems: list[dict[str, Any]]):
        self.problems = problems
        super().__init__("; ".join(_where(p) + p["message"] for p in problems))


def _where(p: dict[str, Any]) -> str:
    if not p.get("file"):
        return ""
    return f"{p['file']}:{p['line']}: " if p.get("line") else f"{p['file']}: "


@dataclass
class Version:
    """A built `Triage` and what the service reports about it."""

    triage: Any
    rules_dir: Path
    model_dir: Path | None
    ruleset_version: str
    model_version: str | None
    users: int = field(default=0, repr=False)  # requests deciding with it right now (see holder)

    def route(self, ticket: Any) -> dict[str, Any]:
        """One decision as its contract dict; raises `TriageError` for an invalid ticket."""
        out = self.triage.route_dicts([ticket])[0]
        if isinstance(out, TriageError):
            raise out
        return out

    def route_batch(self, tickets: list[Any]) -> list[dict[str, Any] | TriageError]:
        """Decisions in input order; an invalid ticket's place holds its error."""
        return self.triage.route_dicts(tickets)

    def sweep(self, cases: list[Any], now: Any) -> list[dict[str, Any] | TriageError]:
        """Cases decided at `now` (the `triage sweep` output lines); an invalid one's place holds its error."""
        return self.triage.sweep_dicts(cases, now)

    def explain(self, ticket: Any) -> dict[str, Any]:
        """The `triage explain --json` object."""
        return self.triage.explain(ticket)

    def info(self) -> dict[str, Any]:
        """What `triage info --json` says of this version."""
        from triage.cli.info_cmd import info_data

        return info_data(self.triage)

    def close(self) -> None:
        self.triage.close()


def load_version(rules: str | Path | None, model: str | Path | None) -> Version:
    """Build, check and warm a version beside the serving one; raises `Refused`.

    The checker (`triage check`) runs on the rule folder too, so a rule set that loads
    but has gaps, dead rows or categories the model does not know is refused as well.
    The model is unpickled here, not on the first request that needs it.
    """
    from triage.analysis import check_folder
    from triage.router import Triage

    try:
        triage = Triage(rules=rules, model=model)
    except RuleSetErrors as exc:
        raise Refused([_rule_problem(e) for e in exc.errors]) from None
    except RuleFileError as exc:
        raise Refused([_rule_problem(exc)]) from None
    except ModelError as exc:
        raise Refused([{"file": exc.path, "line": None, "code": getattr(exc, "code", None) or "model",
                        "message": exc.reason}]) from None
    except ScheduleError as exc:
        raise Refused([{"file": exc.file, "line": None, "code": getattr(exc, "code", None) or "schedule",
                        "message": str(exc)}]) from None
    except TriageError as exc:
        raise Refused([{"file": None, "line": None, "code": getattr(exc, "code", None), "message": str(exc)}]) from None
    try:
        labels = list(triage.model.labels) if triage.model is not None else None
        report = check_folder(triage.ruleset.folder, labels=labels,
                              model_where=None if triage.model is None else str(triage.model.path))
        errors = [f for f in report.sorted() if f.severity == "error"]
        if errors:
            raise Refused([{"file": f.file, "line": f.line, "rule_id": f.rule_id, "code": f.code,
                            "message": f.message} for f in errors])
        if triage.model is not None:
            triage.model.classify(["warm up"])
    except BaseException:
        triage.close()
        raise
    return Version(triage, Path(triage.ruleset.folder), None if triage.model is None else Path(triage.model.path),
                   triage.ruleset_version, triage.model_version)


def _rule_problem(e: RuleFileError) -> dict[str, Any]:
    return {"file": e.file, "line": e.line, "rule_id": e.rule_id, "code": getattr(e, "code", None) or "rules",
            "message": e.reason}


def error_code(err: BaseException) -> str | None:
    """The library's stable code for an error, where it has one."""
    return getattr(err, "code", None)


def error_body(err: TriageError) -> dict[str, Any]:
    """A ticket's error as the batch answer's `{"error": …}` item: the library's own dict plus its code."""
    body = err.to_dict()
    body.setdefault("code", error_code(err) or ("invalid-ticket" if isinstance(err, TicketError) else None))
    return body


def invalid_fields(err: TriageError) -> list[dict[str, str]]:
    """Every bad field of an invalid ticket (`TicketError.problems`), for the 422 answer."""
    if isinstance(err, TicketError):
        return [{"field": path or "<ticket>", "reason": reason} for path, reason in err.problems]
    return [{"field": "<ticket>", "reason": str(err)}]
