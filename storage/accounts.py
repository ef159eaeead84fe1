"""A resident's chats: one account per messenger chat, with its locale and subscription."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from itertools import chain
from typing import Any, cast

from sqlalchemy import Result, Table, bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.expression import ClauseElement

from domain.dialog.events import Channel
from domain.entities import Account
from storage._hot import HotStatement, Program, hold_until_commit, param, run
from storage._rows import account
from storage._sql import SessionStore, clip_name, insert_for
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


def _create(dialect: str) -> ClauseElement:
    table = cast(Table, ChannelAccount.__table__)
    names = ("channel", "external_id", "telegram_id", "display_name", "subscribed", "created_at")
    create: ClauseElement = (
        insert_for(dialect)(table)
        .values({name: param(table.c[name]) for name in names})
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )
    return create


# A resident's first message makes their account (a second, concurrent one finds it made).
_CREATE = HotStatement(_create)


def _set_locale(_dialect: str) -> ClauseElement:
    table = cast(Table, ChannelAccount.__table__)
    statement: ClauseElement = (
        update(table)
        .where(table.c.id == bindparam("account_id", type_=table.c.id.type))
        .values(locale=param(table.c.locale))
    )
    return statement


_SET_LOCALE = HotStatement(_set_locale)


# An account's row as the hot path reads it, keyed by the names in _COLUMNS.
Values = dict[str, Any]
Chat = tuple[str, str]
# Set on an UPDATE of accounts whose cache entries the statement's caller forgets itself.
HANDLED = "accounts_cache_handled"


class AccountCache:
    """Accounts by chat as last committed, where this process owns the database (SQLite), so
    that a step knows who is writing without the database and its thinking runs before its
    transaction begins. Every change of the table through the ORM forgets what it touched
    (`watch`): an object flushed forgets its own entry, any other UPDATE or DELETE of the
    table forgets them all unless its caller did. A missing account is never kept, so a new
    one needs no forgetting. The least recently used entries go first past `size`."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._by_chat: OrderedDict[Chat, Values] = OrderedDict()
        self._chat_of: dict[int, Chat] = {}

    def get(self, chat: Chat) -> Values | None:
        found = self._by_chat.get(chat)
        if found is not None:
            self._by_chat.move_to_end(chat)
        return found

    def put(self, chat: Chat, values: Values) -> None:
        self._by_chat[chat] = values
        self._by_chat.move_to_end(chat)
        self._chat_of[values["id"]] = chat
        if len(self._by_chat) > self._size:
            _chat, oldest = self._by_chat.popitem(last=False)
            self._chat_of.pop(oldest["id"], None)

    def forget(self, account_id: int) -> None:
        chat = self._chat_of.pop(account_id, None)
        if chat is not None:
            self._by_chat.pop(chat, None)

    def clear(self) -> None:
        self._by_chat.clear()
        self._chat_of.clear()

    def watch(self, session_class: type[Session]) -> None:
        """Forget what the sessions of this class change (their flushes and statements run
        in a transaction, which holds the database's one connection: no reader fills an
        entry between the change and its commit)."""
        event.listen(session_class, "after_flush", self._flushed)
        event.listen(session_class, "do_orm_execute", self._executing)

    def _flushed(self, session: Session, _flush: UOWTransaction) -> None:
        for row in chain(session.dirty, session.deleted):
            if isinstance(row, ChannelAccount) and row.id is not None:
                self.forget(row.id)

    def _executing(self, state: ORMExecuteState) -> Result[Any] | None:
        if not (state.is_update or state.is_delete) or state.execution_options.get(HANDLED):
            return None
        if not any(mapper.class_ is ChannelAccount for mapper in state.all_mappers):
            return None
        # Forgotten once the statement ran: its transaction holds the connection from then
        # on, while before it another transaction could still read and keep the old rows.
        result = state.invoke_statement()
        self.clear()
        return result


class AccountRepository(SessionStore):
    def __init__(self, session: AsyncSession, cache: AccountCache | None = None) -> None:
        super().__init__(session)
        self._cache = cache

    async def _values(self, channel: Channel, external_id: str) -> Values | None:
        chat = (channel.value, external_id)
        if self._cache is not None:
            cached = self._cache.get(chat)
            if cached is not None:
                return cached
        cache = self._fills()
        found: list[Values] = []

        def read() -> Program:
            rows = yield _BY_CHAT, {"channel": channel.value, "external_id": external_id}
            if rows:
                found.append(dict(zip(_COLUMNS, rows[0], strict=True)))
                if cache is not None:
                    # Here, where the read ran (in its trip's transaction): no change of the
                    # row comes between the read and this (see `AccountCache.watch`).
                    cache.put(chat, found[0])

        await run(self._session, read())
        return found[0] if found else None

    def _fills(self) -> AccountCache | None:
        """The cache, when a read now runs as a trip of its own and so sees only what is
        committed; a read in the unit of work's transaction may see its own changes, which a
        rollback could still take back."""
        return None if self._session.in_transaction() else self._cache

    async def get_or_create(
        self, channel: Channel, external_id: str, *, display_name: str | None, now: datetime
    ) -> Account:
        found = await self._values(channel, external_id)
        if found is None:
            found = await self._create(channel, external_id, display_name=display_name, now=now)
        return Account(
            id=found["id"],
            channel=channel,
            external_id=external_id,
            resident_id=found["resident_id"],
            locale=found["locale"],
            phone=found["phone"],
            phone_verified=found["phone_verified_at"] is not None,
        )

    async def _create(
        self, channel: Channel, external_id: str, *, display_name: str | None, now: datetime
    ) -> Values:
        """Make the account, or find the one a concurrent first message made. Where one
        process owns the database and the unit of work has not begun its transaction, this
        is a trip of its own and commits at once (storage._hot.run): an account with nothing
        in it yet, which the resident's next message would make just the same, so it needs
        no rollback with the update; the update's own transaction then stays short."""
        chat = (channel.value, external_id)
        values = {
            "channel": channel.value,
            "external_id": external_id,
            "telegram_id": int(external_id) if channel is Channel.TELEGRAM else None,
            "display_name": clip_name(display_name),
            "subscribed": True,
            "created_at": now,
        }
        cache = self._fills()
        found: list[Values] = []

        def create() -> Program:
            yield _CREATE, values
            rows = yield _BY_CHAT, {"channel": channel.value, "external_id": external_id}
            found.append(dict(zip(_COLUMNS, rows[0], strict=True)))
            if cache is not None:
                cache.put(chat, found[0])

        await run(self._session, create())
        return found[0]

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
            .execution_options(**{HANDLED: True})
        )
        found = self._cache.get((channel.value, external_id)) if self._cache else None
        if found is not None:
            self._cache_forget(found["id"])

    async def is_subscribed(self, channel: Channel, external_id: str) -> bool:
        found = await self._values(channel, external_id)
        return found is not None and bool(found["subscribed"])

    async def set_locale(self, account_id: int, locale: str) -> None:
        """Written with the unit of work's commit (a held write: storage._hot)."""
        cache = self._cache

        def write() -> Program:
            yield _SET_LOCALE, {"account_id": account_id, "locale": locale}
            if cache is not None:
                # Where the write ran, in its transaction: the next read finds it.
                cache.forget(account_id)

        hold_until_commit(self._session, f"locale:{account_id}", write)

    def _cache_forget(self, account_id: int) -> None:
        # After the statement, while its transaction holds the database's one connection:
        # before it, a transaction still running could read and keep the old row again.
        if self._cache is not None:
            self._cache.forget(account_id)
