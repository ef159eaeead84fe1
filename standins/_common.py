"""Pieces both stand-in servers use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self


class Signal:
    """Broadcast "the state changed" to any number of waiters.

    ``notify`` is synchronous so state mutations never need to await a lock; waiters
    re-check their predicate after every change.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def next_change(self, seconds: float | None) -> bool:
        """Wait for the next ``notify``; ``False`` when ``seconds`` passed without one."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    async def wait_for(self, predicate: Callable[[], bool], seconds: float | None) -> None:
        """Return once ``predicate()`` holds; raise ``TimeoutError`` after ``seconds``."""
        async with asyncio.timeout(seconds):
            while True:
                event = self._event  # taken before the check so no change slips by
                if predicate():
                    return
                await event.wait()


class Served:
    """`async with` for a server with `start()` and `stop()`."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
