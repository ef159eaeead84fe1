"""The Viber REST API over aiohttp (the SDK's own sender blocks the event loop)."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from bot.viber.errors import ViberApiError, ViberStatus, ViberTransientError

logger = logging.getLogger(__name__)


class ViberClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        sender_name: str,
        sender_avatar: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self.sender: dict[str, str] = {"name": sender_name[:28]}
        if sender_avatar:
            self.sender["avatar"] = sender_avatar
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST one API method; raises ViberApiError for a non-zero status."""
        try:
            async with self.session.post(
                f"{self._base}/pa/{method}",
                data=json.dumps(payload, ensure_ascii=False).encode(),
                headers={"X-Viber-Auth-Token": self._token, "Content-Type": "application/json"},
            ) as response:
                if response.status >= 500:
                    raise ViberTransientError(f"HTTP {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise ViberTransientError(str(exc)) from exc
        if not isinstance(body, dict):
            raise ViberTransientError("not a JSON object")
        status = int(body.get("status", -1))
        if status != ViberStatus.OK:
            raise ViberApiError(status, str(body.get("status_message", "")))
        return body

    async def send(self, receiver: str, message: dict[str, Any]) -> dict[str, Any]:
        return await self.call(
            "send_message", {"receiver": receiver, "sender": self.sender, **message}
        )

    async def set_webhook(self, url: str) -> None:
        await self.call(
            "set_webhook",
            {
                "url": url,
                "event_types": [
                    "delivered",
                    "seen",
                    "failed",
                    "subscribed",
                    "unsubscribed",
                    "conversation_started",
                ],
                "send_name": True,
                "send_photo": False,
            },
        )
