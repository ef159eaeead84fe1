"""The outbox sender: delivers queued notifications in order per chat, within the platform's
limits, retrying what can succeed later and recording what never will."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.outbox.limits import RateLimiter
from domain.clock import Clock, utc_now
from domain.dialog.events import Channel
from domain.entities import OutboxItem
from storage.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)


# The outcomes below are named for what the sender does next, not as errors of ours.
class RetryLater(Exception):
    """A transient failure (5xx, network): try again after a backoff."""


class RateLimited(Exception):
    """The platform asked us to wait (Telegram's 429 retry_after, Viber's status 12)."""

    def __init__(self, seconds: float, *, everyone: bool = False) -> None:
        super().__init__(f"rate limited for {seconds} s")
        self.seconds = seconds
        self.everyone = everyone


class Throttled(Exception):
    """Our own limiter says the next call to this chat must wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"throttled for {seconds} s")
        self.seconds = seconds


class NotReady(Exception):
    """Something this row depends on is not there yet (e.g. the card it edits)."""


class PermanentFailure(Exception):
    """It will never work (the resident blocked the bot, the chat is gone): record and stop."""


Checkpoint = Callable[[int], Awaitable[None]]
Gate = Callable[[], Awaitable[None]]


class Transport(Protocol):
    """Delivers outbox rows of one channel."""

    def limit_key(self, item: OutboxItem) -> tuple[str, bool]:
        """(chat key, is a group) for the rate limiter."""
        ...

    async def deliver(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        """Make the row's calls from `item.progress` on. Call `await gate()` before each call
        (it raises Throttled when the limit says wait) and `await checkpoint(n)` after the n-th
        call succeeds, so a retry resumes after it. Raise RetryLater, RateLimited, NotReady or
        PermanentFailure; return normally when everything went out."""
        ...


@dataclass(frozen=True, slots=True)
class SenderConfig:
    poll_interval: float = 1.0
    batch: int = 200
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    not_ready_delay: float = 2.0


class OutboxSender:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        transports: Mapping[Channel, Transport],
        limiter: RateLimiter,
        clock: Clock = utc_now,
        config: SenderConfig | None = None,
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        # Real time, not the business clock: retries wait for real seconds.
        self._uows = uows
        self._transports = transports
        self._limiter = limiter
        self._clock = clock
        self._config = config or SenderConfig()
        self._wake = asyncio.Event()
        # With several workers only the elected one delivers (see bot.leader).
        self._leading = leading

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; a failed pass is logged and retried, never fatal."""
        while True:
            self._wake.clear()
            if not self._leading():
                await asyncio.sleep(self._config.poll_interval)
                continue
            try:
                delivered, pending = await self.drain_once()
            except Exception:
                logger.exception("outbox pass failed")
                delivered, pending = 0, 0
            if delivered and pending:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_interval)

    async def drain_once(self) -> tuple[int, int]:
        """One pass over pending rows; returns (delivered now, still pending)."""
        async with self._uows() as uow:
            items = await uow.outbox.pending(self._config.batch)
        now = self._clock()
        held: set[tuple[Channel, str]] = set()
        latest_edit = {
            (item.appeal_id, item.chat): item.id for item in items if item.kind == "card_edit"
        }
        delivered = 0
        for item in items:
            chat = (item.channel, item.chat)
            if chat in held:
                continue
            if item.kind == "card_edit" and latest_edit[(item.appeal_id, item.chat)] != item.id:
                # A later edit of the same card renders the same current state: send only it.
                async with self._uows() as uow:
                    await uow.outbox.mark_superseded(item.id)
                    await uow.commit()
                continue
            if item.next_attempt_at > now:
                held.add(chat)  # keep the chat's order: nothing overtakes a waiting row
                continue
            if await self._deliver(item):
                delivered += 1
            else:
                held.add(chat)
        return delivered, len(items) - delivered

    async def _deliver(self, item: OutboxItem) -> bool:
        transport = self._transports.get(item.channel)
        if transport is None:
            await self._finish(item, failed=f"no transport for {item.channel}")
            return False
        chat_key, group = transport.limit_key(item)

        async def gate() -> None:
            wait = await self._limiter.reserve(chat_key, group=group)
            if wait > 0:
                raise Throttled(wait)

        async def checkpoint(progress: int) -> None:
            async with self._uows() as uow:
                await uow.outbox.set_progress(item.id, progress)
                await uow.commit()

        try:
            await transport.deliver(item, gate, checkpoint)
        except Throttled as exc:
            await self._later(item, exc.seconds, item.attempts, "throttled")
        except RateLimited as exc:
            await self._limiter.pause(None if exc.everyone else chat_key, exc.seconds)
            await self._later(item, exc.seconds, item.attempts + 1, str(exc))
        except NotReady as exc:
            await self._later(item, self._config.not_ready_delay, item.attempts, str(exc))
        except RetryLater as exc:
            delay = min(self._config.backoff_base * 2**item.attempts, self._config.backoff_cap)
            logger.warning("outbox %d: %s; retry in %.1f s", item.id, exc, delay)
            await self._later(item, delay, item.attempts + 1, str(exc))
        except PermanentFailure as exc:
            logger.warning("outbox %d failed for good: %s", item.id, exc)
            await self._finish(item, failed=str(exc))
        else:
            await self._finish(item)
            return True
        return False

    async def _later(self, item: OutboxItem, seconds: float, attempts: int, error: str) -> None:
        async with self._uows() as uow:
            at = self._clock() + timedelta(seconds=seconds)
            await uow.outbox.retry_later(item.id, at, attempts, error)
            await uow.commit()

    async def _finish(self, item: OutboxItem, *, failed: str | None = None) -> None:
        async with self._uows() as uow:
            if failed is None:
                await uow.outbox.mark_sent(item.id, self._clock())
            else:
                await uow.outbox.mark_failed(item.id, failed)
            await uow.commit()

    async def wait_idle(self, within: float = 10.0) -> None:
        """Until nothing is pending (for tests and graceful shutdown); TimeoutError after
        `within` seconds."""
        async with asyncio.timeout(within):
            while True:
                async with self._uows() as uow:
                    if await uow.outbox.count_pending() == 0:
                        return
                self.wake()
                await asyncio.sleep(0.02)
