"""Replies that survive a crash between the commit and the send.

An update's replies are written into the outbox in the update's own transaction, then sent at
once by the worker that handled it (no wait for the sender's poll). The row is leased to that
worker for a while (`next_attempt_at` in the future), which also holds the chat's later rows
in the sender, so a resident's replies and pushes keep their order. When the worker sent the
replies it marks the row sent; if it died first, the lease runs out and the outbox sender
delivers the row. On SQLite (one process) rows are marked in batches, one write for many
updates: the process itself knows which rows it sent. With several processes (PostgreSQL)
each row is marked before its update ends, so before the resident's next update can look at
the chat: the rows of the updates finishing at the same time go in one statement (group
commit), not one statement (and one connection's checkout) each.

If older rows of the chat are still pending (a push waiting for the rate limit), the replies
are not sent at once but left to the sender, which delivers the chat's rows in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.faults import stop_if_cancelled
from domain.clock import Clock, utc_now
from domain.dialog.events import Channel
from storage.outbox_queue import Queued, mark_sent_at_once
from storage.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Kept:
    """Where an update's replies went, once its unit of work has committed: `send_now`
    means this worker sends them and then calls `DurableReplies.sent(row_id)`; otherwise the
    outbox sender delivers them."""

    queued: Queued
    # How many messages the row holds (Telegram calls, or Viber replies' payloads are
    # counted by the caller).
    size: int = 0

    @property
    def row_id(self) -> int:
        return self.queued.row_id

    @property
    def send_now(self) -> bool:
        return self.queued.leased


class DurableReplies:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        *,
        lease: float,
        flush_every: float = 0.05,
        batch: bool = True,
        clock: Clock = utc_now,
        wake_sender: Callable[[], None] = lambda: None,
    ) -> None:
        # Real time, not the business clock: the lease is compared with the sender's clock.
        self._uows = uows
        self._lease = timedelta(seconds=lease)
        self._flush_every = flush_every
        self._batch = batch
        self._clock = clock
        # Set once the sender exists: marked rows may release the chats' later rows.
        self.wake_sender = wake_sender
        # Being sent by this worker right now (the sender must not send them too, however
        # long the send takes), and sent but not yet marked in the database.
        self._sending: set[int] = set()
        self._unmarked: set[int] = set()
        self._marking = asyncio.Event()
        # Updates waiting for their rows' mark, and the task marking them (without batches).
        self._waiting: list[asyncio.Future[None]] = []
        self._marker: asyncio.Task[None] | None = None

    def keep(
        self,
        uow: UnitOfWork,
        *,
        channel: Channel,
        chat: str,
        kind: str,
        payload: dict[str, Any],
        in_order: bool = True,
    ) -> Kept:
        """Write the replies when the update's unit of work commits (read the result only
        after that). With `in_order`, they wait for the chat's older pending rows."""
        now = self._clock()
        queued = uow.outbox_queue.hold_replies(
            channel=channel,
            chat=chat,
            kind=kind,
            payload=payload,
            now=now,
            until=now + self._lease,
            in_order=in_order,
            in_flight=lambda: self._sending | self._unmarked,
        )
        return Kept(queued, size=len(payload.get("calls") or []))

    def sending(self, row_id: int) -> None:
        """Right after the commit: this worker sends the row now."""
        self._sending.add(row_id)

    async def sent(self, row_id: int) -> None:
        """This worker sent the row's replies (or gave up on them, as it says in the log)."""
        self._sending.discard(row_id)
        self._unmarked.add(row_id)
        if self._batch:
            self._marking.set()
            return
        try:
            await self._marked()
        except Exception as exc:
            # Left for the batch: the rows stay leased meanwhile.
            logger.warning("could not mark sent replies: %s", type(exc).__name__)
            self._marking.set()

    async def hand_over(self, row_id: int, *, sent: int) -> None:
        """This worker sent the row's first `sent` messages but will not wait for the rest:
        the sender delivers them at the chat's pace."""
        async with self._uows() as uow:
            await uow.outbox_queue.hand_over(row_id, sent)
            await uow.commit()
        self._sending.discard(row_id)
        self.wake_sender()

    def busy(self, row_id: int) -> bool:
        """Whether this worker is sending the row or has sent it (the sender leaves it)."""
        return row_id in self._sending or row_id in self._unmarked

    async def run(self) -> None:
        """Mark sent rows in batches until cancelled."""
        while True:
            stop_if_cancelled()  # one a library swallowed (bot.faults.stop_if_cancelled)
            await self._marking.wait()
            await asyncio.sleep(self._flush_every)
            self._marking.clear()
            try:
                await self.flush()
            except Exception:
                stop_if_cancelled()
                # The rows stay leased; the lease runs out and the sender sends them again:
                # a duplicate reply is better than a lost one.
                logger.exception("could not mark %d sent replies", len(self._unmarked))

    async def _marked(self) -> None:
        """Until the rows sent so far are marked. One statement at a time: the updates that
        finish while it runs are all marked by the next one."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._marker is None:
            self._marker = asyncio.create_task(self._mark_rounds(), name="mark sent replies")
        await future

    async def _mark_rounds(self) -> None:
        waiting: list[asyncio.Future[None]] = []
        try:
            while self._waiting:
                # One turn of the event loop first: the updates whose sends finish in it
                # join this statement (the benchmark's burst: 440 statements, not 640).
                await asyncio.sleep(0)
                waiting, self._waiting = self._waiting, []
                failed: Exception | None = None
                try:
                    await self.flush()
                except Exception as exc:
                    stop_if_cancelled()
                    failed = exc
                for future in waiting:
                    if future.done():
                        continue
                    if failed is None:
                        future.set_result(None)
                    else:
                        future.set_exception(failed)
        finally:
            self._marker = None
            # Stopped (cancelled at shutdown): nobody may wait for a mark forever.
            for future in [*waiting, *self._waiting]:
                if not future.done():
                    future.set_exception(ConnectionError("marking stopped"))
            self._waiting = []

    async def flush(self) -> None:
        if not self._unmarked:
            return
        batch = set(self._unmarked)
        if self._batch:
            async with self._uows() as uow:
                await uow.outbox_queue.mark_sent(batch, self._clock())
                await uow.commit()
        else:
            lender = self._uows.sessions.lender
            assert lender is not None, "rows are marked one by one on PostgreSQL only"
            await mark_sent_at_once(lender, batch, self._clock())
        self._unmarked -= batch
        self.wake_sender()  # the chats' later rows may go now
