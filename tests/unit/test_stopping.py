"""Shutdown stops every background loop, also when a library swallowed the cancellation: Python
3.11's `asyncio.wait_for` returns normally when its awaitable finishes in the same turn as the
cancellation, and a client may catch one inside its call. A loop that went on would hold
`Application.close()` (and the worker's exit after SIGTERM) forever."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from bot.durable import DurableReplies
from bot.faults import stop_tasks
from bot.outbox.sender import OutboxSender, SenderConfig
from storage.uow import UnitOfWorkFactory
from tests.unit.test_sender_order import OpenLimiter


async def test_a_wake_in_the_same_turn_as_the_cancellation_still_stops_the_sender(
    uows: UnitOfWorkFactory,
) -> None:
    sender = OutboxSender(
        uows, {}, OpenLimiter(), config=SenderConfig(poll_interval=30.0), leading=lambda: False
    )
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.01)  # waiting to be woken (it does not lead)
    sender.wake()  # a commit's wake ...
    task.cancel()  # ... and the shutdown, in the same turn
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)


async def test_a_flush_that_swallows_the_cancellation_still_stops_the_marking(
    uows: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    durable = DurableReplies(uows, lease=30.0, flush_every=0.0)
    flushing = asyncio.Event()

    async def swallowing_flush() -> None:
        flushing.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.2)

    monkeypatch.setattr(durable, "flush", swallowing_flush)
    task = asyncio.create_task(durable.run())
    await durable.sent(1)
    await asyncio.wait_for(flushing.wait(), 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)


async def test_a_task_that_ignores_its_cancellation_is_cancelled_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def ignores_the_first() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)
        await asyncio.sleep(30)

    async def fails() -> None:
        raise RuntimeError("broken")

    stubborn = asyncio.create_task(ignores_the_first(), name="stubborn")
    failed = asyncio.create_task(fails(), name="failed")
    plain = asyncio.create_task(asyncio.sleep(30), name="plain")
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="bot.faults"):
        await asyncio.wait_for(stop_tasks([stubborn, failed, plain], again_after=0.05), 2.0)
    assert stubborn.cancelled() and plain.cancelled()
    assert "task stubborn did not stop when cancelled" in caplog.text
    assert "task failed had failed: RuntimeError" in caplog.text
