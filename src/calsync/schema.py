"""Typed, frozen config values from the data of a TOML file, read off the dataclasses' annotations.

The config file's shapes are plain frozen dataclasses (:mod:`calsync.config`,
:mod:`calsync.core.settings`); :func:`load` builds one from the tables ``tomllib`` returns and
collects every problem with its key path (``plan[0].rules.same_day_order``), so one error names
all of them. It knows the few forms a config file uses and nothing more, which keeps a command's
start-up free of a general validation library (issue 12: pydantic cost 0.15 s of every process):

* ``str``, ``bool`` (also ``"yes"``, ``0``: what files said before), ``int`` (not a bool) and
  ``float`` (an int is taken; a number in quotes too), ``Path`` (from a string), ``date`` and
  ``time`` (TOML's own, or ``"2027-04-17"`` / ``"7:30"``, a midnight date-time for a date);
* ``Literal[...]``, ``X | None`` (``None`` is only ever a default: TOML has no null), a union of
  dataclasses told apart by their ``kind`` field, ``list[X]``, ``tuple[X, ...]``, ``dict[K, V]``;
* a dataclass from a table: unknown keys and missing required ones are problems; a ``ValueError``
  raised by its ``__post_init__`` is a problem at the table's path; a dataclass with a ``parse``
  class method is also read from a string (``TimeWindow``: ``"06:00-08:00"``);
* ``Annotated[X, ...]`` with :class:`~calsync.core.settings.Bounds` (ranges, least length) and
  :class:`Check` (a function that raises ``ValueError``) metadata.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from calsync.core.settings import Bounds

_T = TypeVar("_T")

Location = tuple[str | int, ...]
"""A key path: ``("plan", 0, "rules", "same_day_order")``."""


class SchemaError(Exception):
    """Every problem of a value, each with where it is."""

    def __init__(self, problems: list[tuple[Location, str]]) -> None:
        super().__init__(
            "; ".join(f"{key_path(loc) or '(top level)'}: {message}" for loc, message in problems)
        )
        self.problems = problems


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """Metadata of an ``Annotated`` field: ``check(value)`` raises ``ValueError`` with what is wrong."""

    check: Callable[[Any], None]


def key_path(loc: Location) -> str:
    """``("plan", 0, "rules")`` -> ``plan[0].rules``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


class _Problems:
    """The problems found so far in one :func:`load`."""

    def __init__(self) -> None:
        self.found: list[tuple[Location, str]] = []

    def add(self, loc: Location, message: str) -> None:
        self.found.append((loc, message))


_FAILED = object()
"""What a part that had a problem is read as (its problem is recorded)."""


def load(kind: type[_T], value: Any, loc: Location = ()) -> _T:
    """``value`` read as ``kind``; raises :class:`SchemaError` naming every problem."""
    problems = _Problems()
    result = _read(kind, value, loc, problems)
    if problems.found:
        raise SchemaError(problems.found)
    return typing.cast(_T, result)


def _read(kind: Any, value: Any, loc: Location, problems: _Problems) -> Any:
    reader = _READERS.get(kind)
    if reader is not None:
        try:
            return reader(value)
        except ValueError as err:
            problems.add(loc, str(err))
            return _FAILED
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        return _read_annotated(kind, value, loc, problems)
    if origin is typing.Literal:
        return _read_literal(typing.get_args(kind), value, loc, problems)
    if origin in (typing.Union, types.UnionType):
        return _read_union(typing.get_args(kind), value, loc, problems)
    if origin in (list, tuple):
        return _read_sequence(kind, origin, value, loc, problems)
    if origin is dict:
        return _read_table(typing.get_args(kind), value, loc, problems)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _read_dataclass(kind, value, loc, problems)
    raise TypeError(f"calsync.schema cannot read {kind!r}")  # a programming error, not the file's


def _read_annotated(kind: Any, value: Any, loc: Location, problems: _Problems) -> Any:
    inner, *metadata = typing.get_args(kind)
    result = _read(inner, value, loc, problems)
    if result is _FAILED or result is None:
        return result
    for item in metadata:
        try:
            if isinstance(item, Bounds):
                _within(item, result)
            elif isinstance(item, Check):
                item.check(result)
        except ValueError as err:
            problems.add(loc, str(err))
            return _FAILED
    return result


def _within(bounds: Bounds, value: Any) -> None:
    if bounds.min_length is not None and len(value) < bounds.min_length:
        raise ValueError(f"give at least {bounds.min_length} (got {len(value)})")
    if bounds.ge is not None and value < bounds.ge:
        raise ValueError(f"{_shown(value)} is too small: give at least {_number(bounds.ge)}")
    if bounds.gt is not None and value <= bounds.gt:
        raise ValueError(f"{_shown(value)} is too small: give more than {_number(bounds.gt)}")
    if bounds.le is not None and value > bounds.le:
        raise ValueError(f"{_shown(value)} is too large: give at most {_number(bounds.le)}")


def _number(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)


def _allowed(options: tuple[Any, ...]) -> str:
    return "give one of " + ", ".join(repr(option) for option in options)


def _read_literal(options: tuple[Any, ...], value: Any, loc: Location, problems: _Problems) -> Any:
    if isinstance(value, str | int) and not isinstance(value, bool) and value in options:
        return value
    problems.add(loc, f"{_shown(value)} is not allowed; {_allowed(options)}")
    return _FAILED


def _read_union(members: tuple[Any, ...], value: Any, loc: Location, problems: _Problems) -> Any:
    if value is None and type(None) in members:
        return None
    choices = [member for member in members if member is not type(None)]
    if len(choices) == 1:
        return _read(choices[0], value, loc, problems)
    by_kind = _by_kind(choices)
    if by_kind is None:
        raise TypeError(f"calsync.schema reads unions of dataclasses with a `kind` only: {members!r}")
    if isinstance(value, by_kind.classes):
        return value
    if not isinstance(value, Mapping):
        problems.add(loc, f"expected a table, got {_shown(value)}")
        return _FAILED
    if "kind" not in value:
        problems.add((*loc, "kind"), f"missing; {_allowed(tuple(by_kind.kinds))}")
        return _FAILED
    chosen = by_kind.kinds.get(value["kind"]) if isinstance(value["kind"], str) else None
    if chosen is None:
        unknown = f"{value['kind']!r} is not a kind calsync knows"
        problems.add((*loc, "kind"), f"{unknown}; {_allowed(tuple(by_kind.kinds))}")
        return _FAILED
    return _read_dataclass(chosen, value, loc, problems)


@dataclasses.dataclass(frozen=True)
class _Kinds:
    kinds: dict[str, type]
    classes: tuple[type, ...]


@functools.cache
def _by_kind_cached(choices: tuple[Any, ...]) -> _Kinds | None:
    kinds: dict[str, type] = {}
    for choice in choices:
        if not (dataclasses.is_dataclass(choice) and isinstance(choice, type)):
            return None
        kind = _fields(choice).get("kind")
        if kind is None or typing.get_origin(kind[0]) is not typing.Literal:
            return None
        for name in typing.get_args(kind[0]):
            kinds[name] = choice
    return _Kinds(kinds, tuple(choices))


def _by_kind(choices: list[Any]) -> _Kinds | None:
    return _by_kind_cached(tuple(choices))


def _read_sequence(kind: Any, origin: type, value: Any, loc: Location, problems: _Problems) -> Any:
    if not isinstance(value, list | tuple):
        problems.add(loc, f"expected a list, got {_shown(value)}")
        return _FAILED
    args = typing.get_args(kind)
    item_kind = args[0]
    items = [_read(item_kind, item, (*loc, index), problems) for index, item in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _read_table(args: tuple[Any, ...], value: Any, loc: Location, problems: _Problems) -> Any:
    if not isinstance(value, Mapping):
        problems.add(loc, f"expected a table, got {_shown(value)}")
        return _FAILED
    key_kind, value_kind = args
    out = {}
    for key, item in value.items():
        read_key = _read(key_kind, key, (*loc, str(key)), problems)
        out[read_key] = _read(value_kind, item, (*loc, str(key)), problems)
    return out


@functools.cache
def _fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """A dataclass's init fields: name -> (type, required)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {
        field.name: (
            hints[field.name],
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
        )
        for field in dataclasses.fields(cls)
        if field.init and field.metadata.get("from_file", True)
    }


def _read_dataclass(cls: type, value: Any, loc: Location, problems: _Problems) -> Any:
    if isinstance(value, cls):
        return value
    parse = getattr(cls, "parse", None)
    if isinstance(value, str) and callable(parse):
        try:
            return parse(value)
        except ValueError as err:
            problems.add(loc, str(err))
            return _FAILED
    if not isinstance(value, Mapping):
        problems.add(loc, f"expected a table, got {_shown(value)}")
        return _FAILED
    fields = _fields(cls)
    before = len(problems.found)
    for key in value:
        if key not in fields:
            problems.add((*loc, str(key)), "unknown key (check the spelling; see config/example.toml)")
    given = {}
    for name, (kind, required) in fields.items():
        if name in value:
            given[name] = _read(kind, value[name], (*loc, name), problems)
        elif required:
            problems.add((*loc, name), "missing (this key is required)")
    if len(problems.found) > before:
        return _FAILED
    try:
        return cls(**given)
    except ValueError as err:
        problems.add(loc, str(err))
        return _FAILED


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_shown(value)}")
    return value


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _boolean(value: Any) -> bool:
    """``true`` / ``false``; also the spellings files carried from before (``"yes"``, ``0``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {_shown(value)}")


def _number_text(value: Any) -> Any:
    """A number written in quotes (``"16"``) read as the number; other values as they are."""
    if isinstance(value, str):
        try:
            return float(value.strip()) if any(c in value for c in ".eE") else int(value.strip())
        except ValueError:
            return value
    return value


def _whole(value: Any) -> int:
    value = _number_text(value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return int(value)
        raise ValueError(f"expected a whole number, got {_shown(value)}")
    return value


def _real(value: Any) -> float:
    value = _number_text(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a file path, got {_shown(value)}")
    if "\0" in value:
        raise ValueError("a file path cannot hold a NUL character")
    return Path(value)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() == time(0, 0):  # midnight: the day itself
            return value.date()
        raise ValueError(f"expected a date like 2027-04-17, got a date and time {value.isoformat()!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2027-04-17, got {_shown(value)}")


def _time_of_day(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        parts = value.strip().split(":")
        shaped = 2 <= len(parts) <= 3 and len(parts[0]) <= 2 and all(len(p) == 2 for p in parts[1:])
        if shaped and all(p.isdigit() for p in parts):
            try:
                return time(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0)
            except ValueError:
                pass
    raise ValueError(f"expected a time of day like '07:30', got {_shown(value)}")


_READERS: dict[Any, Callable[[Any], Any]] = {
    str: _string,
    bool: _boolean,
    int: _whole,
    float: _real,
    Path: _path,
    date: _day,
    time: _time_of_day,
}
