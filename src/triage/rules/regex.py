"""The regular-expression subset both evaluators agree on.

durable_rules' `$mt` is a full match in its own dialect: backslash escapes such as
`\\d`, `\\w` or `\\.` silently never match there while Python matches them. Rules may
therefore use only the common subset: literal characters, `.`, `*`, `+`, `?`, `{m,n}`,
`|`, groups `( )` and classes `[a-z0-9]` / `[^x]`; a literal dot is written `[.]`.
`.` does not match a newline in either. The interpreter uses `re.fullmatch`.
"""
from __future__ import annotations

import re
import warnings
from functools import lru_cache


def check_pattern(pattern: str) -> str | None:
    """Why a pattern is outside the shared subset (None when it is fine)."""
    if not pattern:
        return "empty pattern"
    if len(pattern) > 500:
        return "longer than 500 characters"
    if "\\" in pattern:
        return ("backslash escapes are not supported by durable_rules; use classes such as "
                "[0-9] for \\d or [.] for a literal dot")
    if "(?" in pattern:
        return "(?...) groups are Python-only"
    stripped = re.sub(r"\[\^", "[", pattern)
    if "^" in stripped or "$" in pattern:
        return "anchors ^ and $ are implied: patterns always match the whole value"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "[[:alpha:]]": a nested set to Python, a class elsewhere
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"invalid: {exc}"
        except Warning as exc:
            return f"ambiguous: {exc}"
    return None


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
