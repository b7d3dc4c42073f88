"""Building pydantic instances from values already validated, without pydantic's cost.

`model_construct` spends more than routing a ticket does; setting the instance state
directly is what it does, minus per-field bookkeeping. Only for values that have been
validated to the model's types (by the router, or by `ticket`'s fast path).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def construct(model: type[BaseModel], state: dict[str, Any], extra: dict[str, Any] | None = None,
              fields_set: set[str] | None = None) -> Any:
    obj = model.__new__(model)
    object.__setattr__(obj, "__dict__", state)
    object.__setattr__(obj, "__pydantic_fields_set__", set(state) if fields_set is None else fields_set)
    object.__setattr__(obj, "__pydantic_extra__", extra)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
