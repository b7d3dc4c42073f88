"""Building pydantic instances from values already validated, without pydantic's cost.

`model_construct` spends more than routing a ticket does; setting the instance state
directly is what it does, minus per-field bookkeeping. Only for values that have been
validated to the model's types (by the router, or by `ticket`'s fast path).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel


# BaseModel's own slots, set through their descriptors (a quarter cheaper than object.__setattr__).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct(model: type[BaseModel], state: dict[str, Any], extra: dict[str, Any] | None = None,
              fields_set: set[str] | None = None) -> Any:
    obj = model.__new__(model)
    _set_dict(obj, state)
    _set_fields_set(obj, set(state) if fields_set is None else fields_set)
    _set_extra(obj, extra)
    _set_private(obj, None)
    return obj
