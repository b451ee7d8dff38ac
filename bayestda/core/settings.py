"""Settings objects (frozen dataclasses) from `key=value,...` text: each key one of its fields, each value converted
to that field's type; one line naming a bad key or value (the samplers' and bif's flags)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import BadInput


def _pair(item: str, example: str) -> tuple[str, str]:
    key, eq, value = item.partition("=")
    if not eq or not key.strip():
        raise BadInput(f"setting {item.strip()!r} is not key=value (e.g. {example})")
    return key.strip(), value.strip()


def _convert(what: str, key: str, value, current):
    if not isinstance(value, str):
        return value
    try:
        if value.lower() in ("none", "default") and current is None:
            return None
        if isinstance(current, bool):
            return {"true": True, "false": False}[value.lower()]
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float) or current is None:
            return float(value)
        return value
    except (ValueError, KeyError):
        kind = "true or false" if isinstance(current, bool) else type(current).__name__ if current is not None else "float"
        raise BadInput(f"{what} setting {key} = {value!r} is not a {kind}") from None


def with_text(settings: Any, text: str | dict, what: str, example: str = "key=value") -> Any:
    """`settings` with the fields `text` (`key=value,...` or a dict) names replaced and converted (the caller checks
    their ranges)."""
    pairs = dict(text) if isinstance(text, dict) else dict(_pair(item, example) for item in str(text).split(",")
                                                             if item.strip())
    fields = {f.name for f in dataclasses.fields(settings)}
    converted = {}
    for key, value in pairs.items():
        if key not in fields:
            raise BadInput(f"{what} has no setting {key!r}; allowed: {', '.join(f.name for f in dataclasses.fields(settings))}")
        converted[key] = _convert(what, key, value, getattr(settings, key))
    return dataclasses.replace(settings, **converted)
