"""Router filters that run on the event loop.

aiogram runs a synchronous filter (a magic `F` expression included) through
`asyncio.to_thread`: a thread hop for a comparison, several per update on the hot path. These
filters are coroutines, so aiogram awaits them in place.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from magic_filter import MagicFilter


class Magic(Filter):
    """A magic filter (`F.chat.id == 42`) checked without a thread hop."""

    def __init__(self, magic: MagicFilter) -> None:
        self._resolve = magic.resolve

    async def __call__(self, event: Any) -> bool:
        return bool(self._resolve(event))
