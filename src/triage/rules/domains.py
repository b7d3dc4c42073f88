"""Typed fact domains: what values each input can take, so analysis can be exact.

Values carry a type class: 's' (string), 'n' (number), 'b' (boolean). Comparisons only
hold between values of the same class: `5` never equals `"5"` and `False` never
equals `0`, in the interpreter as in the durable_rules encoding (one message key per
type class), which is how the engine's type coercion is kept out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

TYPE_CLASSES = ("s", "n", "b")
# Numbers reach durable_rules as integers in thousandths (its JSON parser rejects
# exponents such as 1e-05), so rule literals and facts are quantised to 3 decimals.
NUMBER_SCALE = 1000
NUMBER_LIMIT = 9_000_000_000_000  # |value| beyond this is clamped (fits int64 once scaled)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def type_class(value: Any) -> str | None:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, (int, float)):
        return "n"
    if isinstance(value, str):
        return "s"
    return None


def quantise(value: float | int) -> float | int:
    """Clamp and round a number the way both evaluators see it."""
    if isinstance(value, int):
        return max(-NUMBER_LIMIT, min(NUMBER_LIMIT, value))
    if value != value:  # NaN: treated as absent by the facts layer
        return value
    value = max(-NUMBER_LIMIT, min(NUMBER_LIMIT, value))
    q = round(value * NUMBER_SCALE) / NUMBER_SCALE
    return int(q) if q == int(q) else q


@dataclass(frozen=True)
class Domain:
    """One fact's domain. `declared=False` marks an undeclared extra: any type, any value."""

    name: str
    type: str  # enum | int | float | bool | string | any
    values: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    declared: bool = True
    description: str | None = None
    source: str | None = None  # a fact of the rule set's own name: the `extra.*` field it is read from

    @property
    def type_classes(self) -> tuple[str, ...]:
        if self.type in TEMPORAL:
            return ("n",)  # held as integers (see `temporal_value`)
        return {"enum": ("s",), "string": ("s",), "int": ("n",), "float": ("n",),
                "bool": ("b",)}.get(self.type, TYPE_CLASSES)

    @property
    def ordered(self) -> bool:
        return self.type in ("int", "float", "any") or self.type in TEMPORAL

    @property
    def integral(self) -> bool:
        """Whether the values are whole numbers (ints, and dates, datetimes, durations)."""
        return self.type == "int" or self.type in TEMPORAL

    def literal_problem(self, value: Any, op: str) -> str | None:
        """Why `field op value` is not allowed for this domain (None when fine)."""
        tc = type_class(value)
        if tc is None:
            return f"a {type(value).__name__} cannot be compared"
        if op in ("<", "<=", ">", ">=") and tc != "n":
            return f"`{op}` needs a number, got {value!r}"
        if self.declared and tc not in self.type_classes:
            return f"{self.name} is {_article(self.type)}, not {_kind(tc)} ({value!r})"
        # Checked for undeclared extras too: both evaluators must see the literal as written.
        if tc == "n" and not math.isfinite(value):
            return f"numbers in rules must be finite ({value!r})"
        if tc == "n" and abs(value) > NUMBER_LIMIT:
            return f"numbers in rules lie within ±{NUMBER_LIMIT:,} ({value!r})"
        if tc == "n" and quantise(value) != value:
            return f"numbers in rules have at most 3 decimals ({value!r})"
        if tc == "s" and _SURROGATE.search(value):
            return (f"{value!r} holds a lone surrogate, which no ticket text can: write the character "
                    "itself (YAML's \\U0001F600 form, not a \\uD83D\\uDE00 pair)")
        if not self.declared:
            return None
        if op in ("<", "<=", ">", ">=") and not self.ordered:
            return f"`{op}` cannot order {self.name} ({self.type})"
        if self.integral and isinstance(value, float) and value != int(value):
            return f"{self.name} is an integer; {value!r} is not"
        if self.type == "enum" and self.values is not None and value not in self.values:
            return f"{value!r} is not a value of {self.name}{suggest(value, self.values)}"
        return None

    def contains(self, value: Any) -> bool:
        """Whether a runtime value lies in the domain (None needs `nullable`)."""
        if value is None:
            return self.nullable or not self.declared
        if not self.declared:
            return True
        tc = type_class(value)
        if tc not in self.type_classes:
            return False
        if self.type == "enum":
            return self.values is None or value in self.values
        if self.integral and (isinstance(value, float) and value != int(value)):
            return False
        if self.min is not None and value < self.min:
            return False
        if self.max is not None and value > self.max:
            return False
        return True


# Dates, datetimes, times of day and durations are held as integers everywhere (facts,
# rule literals, the checker's cut points, durable_rules' messages): whole days since
# 1970-01-01, seconds since 1970-01-01T00:00:00Z, seconds since midnight (UTC when an
# offset is given), and seconds. Whole units keep the checker exact: between two
# consecutive days there is no date, so no false gap.
TEMPORAL = ("date", "datetime", "time", "duration")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SHORT = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_EXAMPLE = {"date": "2026-12-24", "datetime": "2026-12-24T11:00:00Z", "time": "'11:00' or '11:00:00Z', quoted",
            "duration": "4h, 90m, 1d2h or P1DT2H"}


def temporal_value(kind: str, value: Any) -> int:
    """A date, datetime or duration (text as written, or a Python object) as its integer.

    Raises ValueError saying what is expected. A datetime without an offset is UTC.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a {kind} (write {_EXAMPLE[kind]})")
    if kind == "duration":
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        if isinstance(value, str):
            text = value.strip()
            negative = text.startswith("-")
            m = _SHORT.match(text.lstrip("-")) or _ISO_DURATION.match(text.lstrip("-"))
            if m and any(m.groups()):
                d, h, mi, sec = (int(g or 0) for g in m.groups())
                seconds = ((d * 24 + h) * 60 + mi) * 60 + sec
                return -seconds if negative else seconds
        raise ValueError(f"{value!r} is not a duration (write {_EXAMPLE[kind]})")
    if kind == "time":
        try:
            t = value if isinstance(value, time) else time.fromisoformat(value.replace("Z", "+00:00"))
        except (TypeError, ValueError, AttributeError):
            raise ValueError(f"{value!r} is not a time (write {_EXAMPLE[kind]})") from None
        offset = t.utcoffset()
        seconds = t.hour * 3600 + t.minute * 60 + t.second
        return (seconds - int(offset.total_seconds())) % 86400 if offset is not None else seconds
    if isinstance(value, str):
        try:
            value = (date.fromisoformat(value) if kind == "date"
                     else datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")))
        except ValueError:
            raise ValueError(f"{value!r} is not a {kind} (write {_EXAMPLE[kind]})") from None
    if kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
        return value.toordinal() - _EPOCH.toordinal()
    if kind == "datetime" and isinstance(value, datetime):
        v = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int((v - _EPOCH).total_seconds() // 1)
    if kind == "datetime" and isinstance(value, date):
        return (value.toordinal() - _EPOCH.toordinal()) * 86400  # a date as its midnight, UTC
    raise ValueError(f"{value!r} is not a {kind} (write {_EXAMPLE[kind]})")


def temporal_text(kind: str, value: Any) -> str:
    """The integer of a date, datetime or duration written as a rule author writes it."""
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    if kind == "date":
        return date.fromordinal(_EPOCH.toordinal() + value).isoformat()
    if kind == "datetime":
        return (_EPOCH + timedelta(seconds=value)).isoformat().replace("+00:00", "Z")
    if kind == "time":
        return (_EPOCH + timedelta(seconds=value % 86400)).time().isoformat()
    sign, rest = ("-", -value) if value < 0 else ("", value)
    d, rest = divmod(rest, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (sec, "s")) if n)
    return sign + (text or "0s")


def undeclared(name: str) -> Domain:
    return Domain(name=name, type="any", nullable=True, declared=False)


def suggest(word: Any, choices: Any) -> str:
    """`; did you mean 'x'?` for the closest known name, or nothing."""
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _article(t: str) -> str:
    return {"enum": "an enumeration", "int": "an integer", "float": "a number", "bool": "a boolean",
            "string": "a string"}.get(t, t)


def _kind(tc: str) -> str:
    return {"s": "a string", "n": "a number", "b": "a boolean"}[tc]
