"""Bot API calls as JSON, so that an update's replies can wait in the outbox."""

from __future__ import annotations

import functools
import json
from typing import Any

import aiogram.methods
from aiogram.client.default import Default
from aiogram.methods import TelegramMethod

# The outbox kind of a row holding an update's Bot API calls.
KIND_CALLS = "calls"


@functools.cache
def _methods() -> dict[str, type[TelegramMethod[Any]]]:
    return {
        cls.__api_method__: cls
        for cls in vars(aiogram.methods).values()
        if isinstance(cls, type)
        and issubclass(cls, TelegramMethod)
        and isinstance(getattr(cls, "__api_method__", None), str)
    }


def _plain(value: Any) -> Any:
    # Defaults (parse mode and the like) are left to the bot's own settings when replayed.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, Default)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def dump_calls(calls: list[TelegramMethod[Any]]) -> list[dict[str, Any]] | None:
    """JSON-ready calls; None when one cannot be kept (a local file to upload)."""
    dumped: list[dict[str, Any]] = []
    for call in calls:
        params = _plain(call.model_dump(mode="python", exclude_none=True))
        try:
            json.dumps(params)
        except TypeError:
            return None
        dumped.append({"method": call.__api_method__, "params": params})
    return dumped


def load_calls(data: object) -> list[TelegramMethod[Any]]:
    if not isinstance(data, list):
        return []
    known = _methods()
    calls: list[TelegramMethod[Any]] = []
    for entry in data:
        cls = known.get(str(entry.get("method"))) if isinstance(entry, dict) else None
        if cls is not None:
            calls.append(cls.model_validate(entry.get("params") or {}))
    return calls
