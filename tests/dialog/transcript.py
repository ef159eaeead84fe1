"""Drive the channel-neutral dialog directly: send an event, get the replies it produced."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey

from domain.actions import Act, Action
from domain.dialog.core import Dialog
from domain.dialog.events import Channel, ContactShare, GeoPoint, Inbound, MediaItem, MediaKind
from domain.dialog.replies import Reply
from storage.fsm import SQLAlchemyStorage
from storage.uow import UnitOfWorkFactory


class Transcript:
    """One resident talking to the dialog core; each call is one unit of work."""

    def __init__(
        self, dialog: Dialog, uows: UnitOfWorkFactory, user_id: int, locale: str = "en"
    ) -> None:
        self._dialog = dialog
        # Public, for tests that look into the database this resident writes to.
        self.uows = uows
        self.user_id = str(user_id)
        self._storage = SQLAlchemyStorage(uows.sessions)
        self._key = StorageKey(bot_id=0, chat_id=user_id, user_id=user_id)
        self._base = Inbound(
            channel=Channel.TELEGRAM, user_id=str(user_id), locale_hint=locale, display_name="Olena"
        )
        self.replies: list[Reply] = []
        self._media_seq = 0

    async def send(self, **fields: Any) -> list[Reply]:
        event = replace(self._base, **fields)
        async with self.uows() as uow:
            state = FSMContext(self._storage, self._key)
            replies = await self._dialog.handle(event, state, uow)
            await uow.commit()
        self.replies = replies
        return replies

    async def state(self) -> str | None:
        return await self._storage.get_state(self._key)

    async def data(self) -> dict[str, Any]:
        return await self._storage.get_data(self._key)

    async def text(self, text: str) -> list[Reply]:
        return await self.send(text=text)

    async def command(self, name: str) -> list[Reply]:
        return await self.send(command=name)

    async def press(self, act: Act, arg: str = "") -> list[Reply]:
        return await self.send(action=Action(act, arg))

    async def location(self, lat: float, lon: float) -> list[Reply]:
        return await self.send(location=GeoPoint(lat, lon))

    async def contact(self, phone: str, *, own: bool = True) -> list[Reply]:
        return await self.send(contact=ContactShare(phone, own))

    async def photo(self, group: str | None = None) -> list[Reply]:
        self._media_seq += 1
        item = MediaItem(MediaKind.PHOTO, f"photo-{self._media_seq}", f"u{self._media_seq}")
        return await self.send(media=(item,), media_group_id=group)

    async def register(self) -> None:
        await self.command("start")
        await self.contact("+380501234567")

    def texts(self) -> str:
        return "\n".join(reply.text for reply in self.replies)

    def actions(self) -> list[str]:
        return [b.action.pack() for reply in self.replies for b in reply.all_buttons()]
