"""A resident's chats: one account per messenger chat, with its locale and subscription."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.sql.expression import ClauseElement

from domain.dialog.events import Channel
from domain.entities import Account
from storage._hot import HotStatement, param
from storage._rows import account
from storage._sql import SessionStore, clip_name
from storage.models import ChannelAccount

_COLUMNS = ("id", "resident_id", "locale", "phone", "phone_verified_at", "subscribed")


def _by_chat(_dialect: str) -> ClauseElement:
    table = cast(Table, ChannelAccount.__table__)
    columns = [table.c[name] for name in _COLUMNS]
    by_chat: ClauseElement = select(*columns).where(
        table.c.channel == param(table.c.channel),
        table.c.external_id == param(table.c.external_id),
    )
    return by_chat


# Every update reads its sender's account (storage._hot): plain values, no ORM object.
_BY_CHAT = HotStatement(_by_chat)


class AccountRepository(SessionStore):
    async def _values(self, channel: Channel, external_id: str) -> dict[str, Any] | None:
        rows = await _BY_CHAT.rows(
            self._session, {"channel": channel.value, "external_id": external_id}
        )
        return dict(zip(_COLUMNS, rows[0], strict=True)) if rows else None

    async def get_or_create(
        self, channel: Channel, external_id: str, *, display_name: str | None, now: datetime
    ) -> Account:
        found = await self._values(channel, external_id)
        if found is not None:
            return Account(
                id=found["id"],
                channel=channel,
                external_id=external_id,
                resident_id=found["resident_id"],
                locale=found["locale"],
                phone=found["phone"],
                phone_verified=found["phone_verified_at"] is not None,
            )
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
        found = await self._values(channel, external_id)
        return found["locale"] if found else None

    async def set_subscribed(self, channel: Channel, external_id: str, subscribed: bool) -> None:
        await self._session.execute(
            update(ChannelAccount)
            .where(
                ChannelAccount.channel == channel.value, ChannelAccount.external_id == external_id
            )
            .values(subscribed=subscribed)
        )

    async def is_subscribed(self, channel: Channel, external_id: str) -> bool:
        found = await self._values(channel, external_id)
        return found is not None and bool(found["subscribed"])

    async def set_locale(self, account_id: int, locale: str) -> None:
        await self._session.execute(
            update(ChannelAccount).where(ChannelAccount.id == account_id).values(locale=locale)
        )
