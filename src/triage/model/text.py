"""What the model reads: one string per ticket, cut to a bounded prefix.

Training, evaluation, the router and the benchmarks all build the model's input here,
so a ticket is read the same way everywhere.
"""
from __future__ import annotations

from collections.abc import Iterable

#: Characters of a text the model reads. Tickets with pasted logs or whole mail threads
#: can run to megabytes; the category is almost always clear from the start, and a bound
#: keeps memory and time per ticket bounded (a 20k-char prefix is ~60x a typical ticket).
MAX_TEXT_CHARS = 20_000


def ticket_text(subject: str | None, body: str | None) -> str:
    """The text of a ticket: subject and body joined by a newline (None counts as "")."""
    return f"{subject or ''}\n{body or ''}"


def join_fields(values: Iterable[object]) -> str:
    """Join several text fields with newlines, as `ticket_text` does; None becomes ""."""
    return "\n".join("" if v is None else str(v) for v in values)


def truncate(texts: Iterable[str]) -> list[str]:
    """Cut every text to its first `MAX_TEXT_CHARS` characters."""
    return [t[:MAX_TEXT_CHARS] for t in texts]
