"""Bot API calls as JSON, so that an update's replies can wait in the outbox."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ApiCall:
    """A Bot API call in its wire form: what the renderer makes of a reply. Building aiogram's
    method (a pydantic model) and dumping it back, once for the outbox and once for the
    request, cost ten times what the reply's own JSON does; the hot path needs only the JSON.

    `params` is exactly what the Bot API receives (JSON-ready, no None values); it is shared
    with the outbox row, so nothing changes it after the call is made."""

    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> int | str | None:
        """The chat the rate limiter and the outbox row are keyed by."""
        chat_id: int | str | None = self.params.get("chat_id")
        return chat_id

    @property
    def message_thread_id(self) -> int | None:
        """The forum topic the call goes to (a deleted topic is told from a wrong call)."""
        thread_id: int | None = self.params.get("message_thread_id")
        return thread_id

    def to_method(self) -> TelegramMethod[Any]:
        """aiogram's method, for a caller that reads the answer as aiogram's types, a bot
        whose defaults calls fill in, and aiogram's exceptions (they carry a method)."""
        return _methods()[self.method].model_validate(self.params)


# What the renderer makes: a call in its wire form, or aiogram's method where it must be one
# (a local file to upload goes as multipart, never as JSON).
Call = TelegramMethod[Any] | ApiCall


def method_name(call: Call) -> str:
    """The Bot API method's name ("sendMessage"), for logs."""
    return call.method if isinstance(call, ApiCall) else call.__api_method__


def as_method(call: Call) -> TelegramMethod[Any]:
    return call.to_method() if isinstance(call, ApiCall) else call


def _plain(value: Any) -> Any:
    # Defaults (parse mode and the like) are left to the bot's own settings when replayed.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, Default)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def dump_calls(calls: list[Call]) -> list[dict[str, Any]] | None:
    """JSON-ready calls; None when one cannot be kept (a local file to upload)."""
    dumped: list[dict[str, Any]] = []
    for call in calls:
        if isinstance(call, ApiCall):
            dumped.append({"method": call.method, "params": call.params})
            continue
        params = _plain(call.model_dump(mode="python", exclude_none=True))
        try:
            json.dumps(params)
        except TypeError:
            return None
        dumped.append({"method": call.__api_method__, "params": params})
    return dumped


def load_calls(data: object) -> list[ApiCall]:
    """A row's calls as they were kept: already the Bot API's JSON, sent as it is."""
    if not isinstance(data, list):
        return []
    known = _methods()
    calls: list[ApiCall] = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        method, params = entry.get("method"), entry.get("params") or {}
        if isinstance(method, str) and method in known and isinstance(params, dict):
            calls.append(ApiCall(method, params))
    return calls
