"""Contract models built without validation, for values that are valid by construction.

A decision builds about six small frozen models (its events, the reply and its
result); pydantic's validating ``__init__`` was a fifth of a decision's cost, and
``model_construct`` is slower still. Every value put in them here is already valid:
ids derived by uuid5, user ids, names and quantities from a validated command, counts
from the drop's state, timestamps in UTC (``utc``). ``StockLevels``, which carries the
stock invariant (all four numbers >= 0), is still built with validation, so a
broken invariant fails the batch before anything is written.

The objects are what validation would have built: equal, same JSON, and re-validating
their dump gives them back (tests/unit/inventory/test_wire.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__


def maker(cls: type[M]) -> Callable[..., M]:
    """``cls(**values)`` minus validation (fields with default factories not supported)."""
    # every field, in declaration order (the serialiser writes the dict's order): the
    # values given replace the placeholders in place, keeping that order
    template: dict[str, Any] = {}
    required: set[str] = set()
    for name, info in cls.model_fields.items():
        if info.default_factory is not None:
            raise TypeError(f"{cls.__name__}.{name}: default factories are not supported")
        template[name] = None if info.is_required() else info.default
        if info.is_required():
            required.add(name)
    names = frozenset(template)
    needed = frozenset(required)

    def make(**values: Any) -> M:
        if values.keys() - names or needed - values.keys():
            raise TypeError(f"{cls.__name__}: fields {sorted(values)}, expected {sorted(names)}")
        fields = {**template, **values}
        model: M = _new(cls)
        _set(model, "__dict__", fields)
        _set(model, "__pydantic_fields_set__", set(values))
        _set(model, "__pydantic_extra__", None)
        _set(model, "__pydantic_private__", None)
        return model

    return make


def utc(value: datetime) -> datetime:
    """``value`` in UTC, as a ``UtcDatetime`` field would store it (naive is an error)."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return value.astimezone(UTC)
