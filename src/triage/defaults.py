"""Where the shipped rules and model are, installed or in a source checkout.

`TRIAGE_RULES` / `TRIAGE_MODEL` override them (an empty `TRIAGE_MODEL` means "no
model"). A wheel carries both under `triage/_defaults/`; an editable install finds
them at the top of the checkout.
"""
from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parents[1]


def default_rules_dir() -> Path:
    env = os.environ.get("TRIAGE_RULES")
    if env:
        return Path(env)
    packaged = _PACKAGE / "_defaults" / "rules"
    return packaged if packaged.is_dir() else _CHECKOUT / "rules"


def default_model_dir() -> Path | None:
    """The default model folder, or None when none is shipped (or TRIAGE_MODEL is empty)."""
    env = os.environ.get("TRIAGE_MODEL")
    if env is not None:
        return Path(env) if env else None
    for candidate in (_PACKAGE / "_defaults" / "model", _CHECKOUT / "models" / "default"):
        if (candidate / "manifest.json").is_file():
            return candidate
    return None
