"""Rows to dataclasses and values to columns, derived from the dataclass fields and their types.

A table's columns are named after the fields of the dataclass it stores, so one helper reads any of them:
`from_row(Persona, row)`. The column type follows the field's annotation: `datetime` is ISO 8601 text, `bool` an
integer, `dict`/`list` JSON text, an `Enum` its value. Columns the dataclass does not have (`name_key`) are ignored.
"""

from __future__ import annotations

import enum
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
Converter = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _base_type(annotation: Any) -> Any:
    """`X | None` -> X; `dict[str, Any]` -> dict; a Literal of strings -> str; anything else as it is."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _base_type(kinds[0]) if len(kinds) == 1 else object
    if origin is typing.Literal:
        return type(typing.get_args(annotation)[0])
    return origin or annotation


def _reader(annotation: Any) -> Converter:
    kind = _base_type(annotation)
    if kind is datetime:
        return datetime.fromisoformat
    if kind is bool:
        return bool
    if kind in (dict, list):
        return _json
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    return _same


@functools.cache
def _readers(cls: type) -> tuple[tuple[str, Converter], ...]:
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _reader(hints[f.name])) for f in fields(cls))


def from_row(cls: type[T], row: Mapping[str, Any]) -> T:
    """Build `cls` from a row whose columns are named like its fields (NULL stays None)."""
    columns = set(row.keys())
    values = {name: (None if row[name] is None else read(row[name])) for name, read in _readers(cls) if name in columns}
    return cls(**values)


def to_column(value: Any) -> Any:
    """A Python value as SQLite stores it (the inverse of what `from_row` reads)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def insert_sql(table: str, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`INSERT INTO table (columns) VALUES (?, ...)` for `values`, with the values converted by `to_column`."""
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(to_column(v) for v in values.values())
