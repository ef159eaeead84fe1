"""The outbox sender: delivers queued notifications in order per chat, within the platform's
limits, retrying what can succeed later and recording what never will.

Each pass takes every chat's next row (storage.outbox_queue) and goes round the chats, so a
long queue for one chat (the staff chat after a maintenance pass) does not delay another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.faults import stop_if_cancelled
from bot.limits import RateLimiter
from domain.clock import Clock, utc_now
from domain.dialog.events import Channel
from domain.entities import OutboxItem
from storage.outbox_queue import KIND_CARD, KIND_CARD_EDIT
from storage.uow import UnitOfWork, UnitOfWorkFactory

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


class CredentialsRefused(Exception):
    """The platform refused our token (401/404: being rotated, or revoked). Every row of the
    channel would fail the same way: pause the channel and alert, fail nothing."""


Gate = Callable[[], Awaitable[None]]
# Work a transport has for the transaction that records how far a row got.
Then = Callable[[UnitOfWork], Awaitable[None]]


class Checkpoint:
    """How far a row got. `await checkpoint(n)` records that its first n calls went out, so a
    retry resumes after them; `checkpoint.then(work)` adds work (remember a staff-chat
    message, the card's id) to the next such record, or to the row's last one: it is marked
    sent in one transaction with what the last call made known. A staff card of one message
    costs two transactions: the read of what it shows and that last one."""

    def __init__(self, uows: UnitOfWorkFactory, row_id: int) -> None:
        self._uows = uows
        self._row_id = row_id
        self._then: list[Then] = []

    def then(self, work: Then) -> None:
        self._then.append(work)

    async def __call__(self, progress: int) -> None:
        async with self._uows() as uow:
            await self.flush(uow)
            await uow.outbox.set_progress(self._row_id, progress)
            await uow.commit()

    async def flush(self, uow: UnitOfWork) -> None:
        """Run the work kept for this transaction."""
        work, self._then = self._then, []
        for then in work:
            await then(uow)


class Transport(Protocol):
    """Delivers outbox rows of one channel."""

    def limit_key(self, item: OutboxItem) -> tuple[str, bool]:
        """(chat key, is a group) for the rate limiter."""
        ...

    async def deliver(self, item: OutboxItem, gate: Gate, checkpoint: Checkpoint) -> None:
        """Make the row's calls from `item.progress` on. Call `await gate()` before each call
        (it raises Throttled when the limit says wait) and `await checkpoint(n)` after the n-th
        call succeeds, so a retry resumes after it. Raise RetryLater, RateLimited, NotReady or
        PermanentFailure (or CredentialsRefused); return normally when everything went
        out."""
        ...

    async def card_failed(self, item: OutboxItem, error: str, uow: UnitOfWork) -> None:
        """A staff card could not be posted for good: queue word of it (in `uow`, the
        transaction that records the failure)."""
        ...


@dataclass(frozen=True, slots=True)
class SenderConfig:
    poll_interval: float = 1.0
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    not_ready_delay: float = 2.0
    # A row that keeps failing with 5xx or network errors is recorded as failed after this
    # many attempts, so that it does not hold its chat forever.
    max_attempts: int = 10
    # How long a channel pauses when the platform refuses the token.
    credentials_pause: float = 60.0
    # The staff chat, whose rows about posted cards go ahead of new cards.
    staff_chat: str | None = None


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
        # Rows this process is sending itself right now (an update's replies: bot.durable).
        self.busy: Callable[[int], bool] = lambda _row_id: False
        # Channels whose token the platform refused, until when (time.monotonic()).
        self._paused_until: dict[Channel, float] = {}
        # With several workers only the elected one delivers (see bot.leader).
        self._leading = leading

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; a failed pass is logged and retried, never fatal."""
        while True:
            stop_if_cancelled()
            self._wake.clear()
            if not self._leading():
                # Woken when this worker becomes the leader (bot.leader), else at the poll.
                await self._woken_or_after(self._config.poll_interval)
                continue
            try:
                delivered, _left, due_in = await self.drain_once()
            except Exception:
                stop_if_cancelled()
                logger.exception("outbox pass failed")
                delivered, _left, due_in = 0, 0, self._config.poll_interval
            if delivered:
                # More rows may wait behind the heads just delivered (a staff chat with a
                # burst of new cards has one head at a time): the next round goes at once.
                continue
            # Sleep until the next head is due (a throttled staff chat), a commit wakes us,
            # or the poll interval passes (rows written by another process).
            await self._woken_or_after(max(0.0, min(self._config.poll_interval, due_in)))

    async def _woken_or_after(self, seconds: float) -> None:
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives while
        # the event is being set (a commit's wake at shutdown), and the sender ran on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def drain_once(self) -> tuple[int, int, float]:
        """One round over the chats' next rows: (delivered now, heads left, seconds until the
        earliest waiting head is due)."""
        async with self._uows.reading() as uow:
            heads = await uow.outbox_queue.heads(self._config.staff_chat)
        now = self._clock()
        monotonic = time.monotonic()
        due_in = self._config.poll_interval
        delivered = 0
        for item in heads:
            paused = self._paused_until.get(item.channel, 0.0) - monotonic
            if paused > 0:
                due_in = min(due_in, paused)
                continue
            if item.next_attempt_at > now:
                # Keep the chat's order: nothing overtakes a waiting row.
                due_in = min(due_in, (item.next_attempt_at - now).total_seconds())
                continue
            if self.busy(item.id):
                continue  # its worker is still sending it; the chat waits for it
            if item.kind == KIND_CARD_EDIT:
                async with self._uows() as uow:
                    item = await uow.outbox_queue.collapse_edits(item)
                    await uow.commit()
            if await self._deliver(item):
                delivered += 1
        return delivered, len(heads) - delivered, due_in

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

        checkpoint = Checkpoint(self._uows, item.id)
        try:
            await transport.deliver(item, gate, checkpoint)
        except Throttled as exc:
            await self._later(item, exc.seconds, item.attempts, "throttled")
        except RateLimited as exc:
            # Telegram's own pace, not a failure: it does not count towards the ceiling.
            await self._limiter.pause(None if exc.everyone else chat_key, exc.seconds)
            await self._later(item, exc.seconds, item.attempts, str(exc))
        except NotReady as exc:
            await self._later(item, self._config.not_ready_delay, item.attempts, str(exc))
        except CredentialsRefused as exc:
            pause = self._config.credentials_pause
            self._paused_until[item.channel] = time.monotonic() + pause
            logger.error(
                "ALERT: %s refused the bot's token (%s): all %s sending is paused for %.0f s; "
                "nothing is marked failed. Check the token.",
                item.channel,
                exc,
                item.channel,
                pause,
            )
        except RetryLater as exc:
            attempts = item.attempts + 1
            if attempts >= self._config.max_attempts:
                logger.warning("outbox %d: %s; giving up after %d attempts", item.id, exc, attempts)
                await self._fail(item, transport, f"gave up after {attempts} attempts: {exc}")
                return False
            delay = min(self._config.backoff_base * 2**item.attempts, self._config.backoff_cap)
            logger.warning("outbox %d: %s; retry in %.1f s", item.id, exc, delay)
            await self._later(item, delay, attempts, str(exc))
        except PermanentFailure as exc:
            logger.warning("outbox %d failed for good: %s", item.id, exc)
            await self._fail(item, transport, str(exc))
        else:
            await self._finish(item, checkpoint=checkpoint)
            return True
        return False

    async def _fail(self, item: OutboxItem, transport: Transport, error: str) -> None:
        """Record the failure; a staff card that failed takes the rows waiting for it along
        (they would wait forever), and the transport tells the staff chat."""
        async with self._uows() as uow:
            await uow.outbox.mark_failed(item.id, error)
            if item.kind == KIND_CARD and item.appeal_id is not None:
                await uow.outbox_queue.fail_dependents(
                    item.appeal_id, item.chat, f"the appeal's card failed: {error}"
                )
                await transport.card_failed(item, error, uow)
            await uow.commit()

    async def _later(self, item: OutboxItem, seconds: float, attempts: int, error: str) -> None:
        async with self._uows() as uow:
            at = self._clock() + timedelta(seconds=seconds)
            await uow.outbox.retry_later(item.id, at, attempts, error)
            await uow.commit()

    async def _finish(
        self, item: OutboxItem, *, failed: str | None = None, checkpoint: Checkpoint | None = None
    ) -> None:
        async with self._uows() as uow:
            if checkpoint is not None:
                await checkpoint.flush(uow)
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
