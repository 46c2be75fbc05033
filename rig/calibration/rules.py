"""Declarative value rules for the files rig writes and reads back (one validator for writer and reader).

A dataclass field declares its rule where it is defined::

    scale: float = ranged(number(0.01, 100, open_low=True, open_high=True), 1.0)
    dark_counts: list[float] = ranged(values(number(0, 1e6)), default_factory=list)

:func:`check` walks the fields (and lists of record dataclasses) and raises
:class:`~rig.errors.ConfigError` naming the file, the key (``points[3].reference_mw_cm2``), what was
expected and what was found. A class may also name groups of fields that are set together
(``TOGETHER``: all set or all unset) and keys that must be present in a file (``rule.required``,
checked by :func:`check_present` on the raw table before defaults fill it in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from rig.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """What a value must be: ``ok(value)``; for a list, ``item`` applies to each element and ``count`` (when
    the list is non-empty) to its length. ``required``: the key must be in the file."""

    expected: str
    ok: Callable[[Any], bool] = lambda _value: True
    item: Rule | None = None
    count: int | None = None
    required: bool = False


def ranged(rule: Rule, default: Any = MISSING, *, default_factory: Any = MISSING) -> Any:
    """A dataclass field carrying its rule."""
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata={"rule": rule})
    return field(default=default, metadata={"rule": rule})


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(low: float, high: float, *, open_low: bool = False, open_high: bool = False, or_zero: bool = False,
           what: str = "a number") -> Rule:
    """A finite number in [low, high] (open ends as asked); ``or_zero``: 0 also means 'not stated'."""
    def ok(value: Any) -> bool:
        if not _finite(value):
            return False
        if or_zero and value == 0:
            return True
        return (value > low if open_low else value >= low) and (value < high if open_high else value <= high)

    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    return Rule(f"{what} in {interval}" + (" (or 0: not stated)" if or_zero else ""), ok)


def one_of(options: Sequence[float], *, or_zero: bool = False, what: str = "one of") -> Rule:
    allowed = tuple(options)
    return Rule(f"{what} {', '.join(f'{o:g}' for o in allowed)}" + (" (or 0: not stated)" if or_zero else ""),
                lambda v: _finite(v) and (v in allowed or (or_zero and v == 0)))


def values(item: Rule, count: int | None = None, *, what: str = "") -> Rule:
    """A list whose every element follows ``item`` (exactly ``count`` of them when any are given)."""
    size = f"{count} values" if count else "a list"
    return Rule(what or f"{size}, each {item.expected}", lambda v: isinstance(v, list), item=item, count=count)


def text(*, required: bool = False, what: str = "a string") -> Rule:
    """A string (non-empty when ``required``)."""
    return Rule(what + (" (non-empty)" if required else ""),
                (lambda v: isinstance(v, str) and bool(v.strip())) if required else (lambda v: isinstance(v, str)),
                required=required)


def parse_date(value: str) -> datetime | None:
    """An ISO 8601 date/time as an aware datetime (UTC if none given), or None if unreadable."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def date(*, required: bool = False) -> Rule:
    """An ISO 8601 date/time (``2026-12-03T09:30:00+00:00``); '' allowed unless ``required``."""
    return Rule("an ISO 8601 date, e.g. 2026-12-03T09:30:00+00:00",
                lambda v: isinstance(v, str) and (parse_date(v) is not None or (not required and v == "")),
                required=required)


def check(obj: Any, source: str, prefix: str = "") -> None:
    """Every field of dataclass ``obj`` with a rule (and of its record lists) follows it, and every group in
    ``obj.TOGETHER`` is all set or all unset; else ConfigError naming ``source`` and the key."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        rule: Rule | None = f.metadata.get("rule")
        if isinstance(value, list) and value and is_dataclass(value[0]):
            for index, record in enumerate(value):
                check(record, source, f"{key}[{index}].")
            continue
        if rule is None:
            continue
        if not rule.ok(value):
            raise ConfigError(source, key, rule.expected, value)
        if rule.item is not None:
            if rule.count and value and len(value) != rule.count:
                raise ConfigError(source, key, rule.expected, f"{len(value)} values")
            for index, item in enumerate(value):
                if not rule.item.ok(item):
                    raise ConfigError(source, f"{key}[{index}]", rule.item.expected, item)
    for group in getattr(obj, "TOGETHER", ()):
        given = [name for name in group if _is_set(getattr(obj, name))]
        if given and len(given) != len(group):
            missing = [name for name in group if name not in given]
            raise ConfigError(source, f"{prefix}{missing[0]}",
                              f"set together with {', '.join(given)} (all of {', '.join(group)} or none)")


def _is_set(value: Any) -> bool:
    return bool(value) if isinstance(value, (list, str)) else value not in (None, 0, 0.0)


def check_present(cls: type, data: dict[str, Any], source: str, prefix: str = "") -> None:
    """Keys whose rule says ``required`` are in the raw table ``data`` (before defaults fill them in)."""
    if not isinstance(data, dict):
        return
    for f in fields(cls):
        rule: Rule | None = f.metadata.get("rule")
        if rule is not None and rule.required and f.name not in data:
            raise ConfigError(source, f"{prefix}{f.name}", rule.expected + " (missing)")
