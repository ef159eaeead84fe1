"""A resident's chats: one account per messenger chat, with its locale and subscription."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from domain.dialog.events import Channel
from domain.entities import Account
from storage._rows import account
from storage._sql import SessionStore, clip_name
from storage.models import ChannelAccount


class AccountRepository(SessionStore):
    async def _row(self, channel: Channel, external_id: str) -> ChannelAccount | None:
        query = select(ChannelAccount).where(
            ChannelAccount.channel == channel.value, ChannelAccount.external_id == external_id
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def get_or_create(
        self, channel: Channel, external_id: str, *, display_name: str | None, now: datetime
    ) -> Account:
        row = await self._row(channel, external_id)
        if row is None:
            row = ChannelAccount(
                channel=channel.value,
                external_id=external_id,
                telegram_id=int(external_id) if channel is Channel.TELEGRAM else None,
                display_name=clip_name(display_name),
                subscribed=True,
                created_at=now,
            )
            self._session.add(row)
            await self._session.flush()
        return account(row)

    async def by_id(self, account_id: int) -> Account | None:
        row = await self._session.get(ChannelAccount, account_id)
        return account(row) if row else None

    async def locale_of(self, channel: Channel, external_id: str) -> str | None:
        row = await self._row(channel, external_id)
        return row.locale if row else None

    async def set_subscribed(self, channel: Channel, external_id: str, subscribed: bool) -> None:
        await self._session.execute(
            update(ChannelAccount)
            .where(
                ChannelAccount.channel == channel.value, ChannelAccount.external_id == external_id
            )
            .values(subscribed=subscribed)
        )

    async def is_subscribed(self, channel: Channel, external_id: str) -> bool:
        row = await self._row(channel, external_id)
        return row is not None and row.subscribed

    async def set_locale(self, account_id: int, locale: str) -> None:
        await self._session.execute(
            update(ChannelAccount).where(ChannelAccount.id == account_id).values(locale=locale)
        )
