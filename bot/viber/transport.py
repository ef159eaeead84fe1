"""Sending the dialog's immediate answer to a Viber resident, within the rate limits.

The outbox's Viber rows go through bot.viber.outbox; both read Viber's refusals with
bot.viber.errors.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.api_errors import Outcome
from bot.limits import RateLimiter, acquire, take_within
from bot.media import MediaStore
from bot.viber.client import ViberClient
from bot.viber.errors import ViberApiError, ViberTransientError, classify
from bot.viber.render import render
from domain.dialog.events import MediaItem
from domain.dialog.replies import Reply

logger = logging.getLogger(__name__)

SEND_ATTEMPTS = 3


def limit_key(user_id: str) -> str:
    """The rate limiter's key for a Viber resident (shared with the outbox sender)."""
    return f"viber:{user_id}"


@dataclass(slots=True)
class ViberReplies:
    client: ViberClient
    media: MediaStore
    limiter: RateLimiter

    async def media_url(self, item: MediaItem) -> tuple[str, int] | None:
        return self.media.locate(item.file_ref)

    async def send(
        self, user_id: str, replies: list[Reply], *, max_wait: float | None = None
    ) -> int | None:
        """The dialog's immediate answer, after its unit of work committed. With `max_wait`,
        stops at the first message the rate limiter would hold longer than that and returns
        how many went out (the outbox sender sends the rest); None when all were handled.
        A message Viber refuses for good ends the answer: the rest would fare no better."""
        key = limit_key(user_id)
        for index, payload in enumerate(await render(replies, self.media_url)):
            if max_wait is not None and not await take_within(
                self.limiter, key, group=False, max_wait=max_wait
            ):
                return index
            for attempt in range(1, SEND_ATTEMPTS + 1):
                if attempt > 1 or max_wait is None:
                    await acquire(self.limiter, key, group=False)
                try:
                    await self.client.send(user_id, payload)
                    break
                except (ViberApiError, ViberTransientError) as exc:
                    if classify(exc).outcome is not Outcome.RETRY:
                        logger.warning("Viber refused a reply to %s: %s", user_id, exc)
                        return None
                    logger.warning("Viber send failed (attempt %d): %s", attempt, exc)
                    await asyncio.sleep(0.5 * attempt)
        return None
