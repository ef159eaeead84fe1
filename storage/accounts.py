"""A resident's chats: one account per messenger chat, with its locale and subscription."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from itertools import chain
from typing import Any, cast

from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis
from sqlalchemy import Result, Table, bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.expression import ClauseElement

from domain.dialog.events import Channel
from domain.entities import Account
from storage._hot import (
    HotStatement,
    Program,
    hold_until_commit,
    lender_of,
    param,
    run,
    run_alone,
)
from storage._rows import account
from storage._sql import SessionStore, clip_name, insert_for
from storage.lock_reads import read_with_lock
from storage.models import ChannelAccount
from storage.redis_batch import ScriptCall, run_before_commit, run_now

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
    names = [
        "channel",
        "external_id",
        "telegram_id",
        "display_name",
        "subscribed",
        "created_at",
        "locale",
    ]
    create: ClauseElement = (
        insert_for(dialect)(table)
        .values({name: param(table.c[name]) for name in names})
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )
    return create


# A resident's first message makes their account (a second, concurrent one finds it made).
_CREATE = HotStatement(_create)


def _create_returning(dialect: str) -> ClauseElement:
    table = cast(Table, ChannelAccount.__table__)
    create = cast(Any, _create(dialect))
    made: ClauseElement = create.returning(*(table.c[name] for name in _COLUMNS))
    return made


# PostgreSQL: the account made and read back in one statement, committed on its own.
_CREATE_RETURNING = HotStatement(_create_returning)


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

    # A new account's row, read in the transaction that made it, may be kept (SQLite: that
    # transaction is a trip of its own, committed by the time it is read).
    keeps_new = True
    # Shared with other workers through versions (`SharedAccountCache`).
    shared = False

    async def ready(self) -> None:
        """Before a read that the cache did not answer."""

    def read(self, chat: Chat, account_id: int) -> None:
        """An account of this chat was read (in a transaction or out of one)."""

    def changed(
        self, info: dict[Any, Any], *, account_id: int | None = None, chat: Chat | None = None
    ) -> None:
        """An account changed in the unit of work whose session's `info` this is: forget it
        (by id, or by chat)."""
        if account_id is not None:
            self.forget(account_id)
        if chat is not None:
            found = self._by_chat.get(chat)
            if found is not None:
                self.forget(found["id"])

    def watch(self, session_class: type[Session]) -> None:
        """Forget what the sessions of this class change (their flushes and statements run
        in a transaction, which holds the database's one connection: no reader fills an
        entry between the change and its commit)."""
        event.listen(session_class, "after_flush", self._flushed)
        event.listen(session_class, "do_orm_execute", self._executing)

    def _flushed(self, session: Session, _flush: UOWTransaction) -> None:
        for row in chain(session.dirty, session.deleted):
            if isinstance(row, ChannelAccount) and row.id is not None:
                self.changed(session.info, account_id=row.id, chat=(row.channel, row.external_id))

    def _executing(self, state: ORMExecuteState) -> Result[Any] | None:
        if not (state.is_update or state.is_delete) or state.execution_options.get(HANDLED):
            return None
        if not any(mapper.class_ is ChannelAccount for mapper in state.all_mappers):
            return None
        # Forgotten once the statement ran: its transaction holds the connection from then
        # on, while before it another transaction could still read and keep the old rows.
        result = state.invoke_statement()
        self.cleared(state.session.info)
        return result

    def cleared(self, info: dict[Any, Any]) -> None:
        """Any account may have changed (a statement over the table)."""
        self.clear()


def account_chat(key: StorageKey) -> Chat | None:
    """The account whose dialog `key` is: a Telegram private chat (its chat is its user) or a
    Viber user (its id in the key's destiny: bot.viber.turn)."""
    if key.destiny.startswith("viber:"):
        return (Channel.VIBER.value, key.destiny.removeprefix("viber:"))
    if key.chat_id == key.user_id and key.chat_id > 0:
        return (Channel.TELEGRAM.value, str(key.user_id))
    return None


# KEYS: the versions of changed accounts, then the epoch. ARGV: a new epoch, or "" to keep it.
_BUMP_LUA = """
for i = 1, #KEYS - 1 do redis.call('INCR', KEYS[i]) end
if ARGV[1] ~= '' then redis.call('SET', KEYS[#KEYS], ARGV[1]) end
return #KEYS
"""


class AccountVersions:
    """What the workers share of their account caches (`SharedAccountCache`), in Redis: a
    version per account, moved on by every change of it, and an epoch, replaced when any
    account may have changed (a statement over the table) and gone when Redis lost its keys.
    An update reads its own account's version and the epoch in the round trip that takes
    its chat's lock (storage.fsm_redis), so checking its copy costs nothing more."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self._prefix = f"{prefix}:accounts"
        self.epoch_key = f"{self._prefix}:epoch"
        self._bump = redis.register_script(_BUMP_LUA)

    def key(self, chat: Chat) -> str:
        return f"{self._prefix}:v:{chat[0]}:{chat[1]}"

    def lock_reads(self, key: StorageKey) -> list[str]:
        """What the lock of `key`'s chat reads for the cache."""
        chat = account_chat(key)
        return [self.epoch_key, self.key(chat)] if chat is not None else []

    async def start(self) -> None:
        """An epoch, if Redis has none (first start, or it lost its keys)."""
        await self.redis.set(self.epoch_key, secrets.token_hex(8), nx=True)

    def bump_call(self, chats: Collection[Chat], everything: bool) -> ScriptCall:
        keys = [self.key(chat) for chat in sorted(chats)]
        return ScriptCall(
            self._bump, [*keys, self.epoch_key], [secrets.token_hex(8) if everything else ""]
        )

    async def bump(self, chats: Collection[Chat], everything: bool) -> None:
        await run_now(self.bump_call(chats, everything))


_STAMP = "_stamp"
_CHANGED = "accounts_changed"


class SharedAccountCache(AccountCache):
    """Accounts by chat in each worker, where several share PostgreSQL and Redis. An entry
    keeps the versions it was read under (`AccountVersions`); it is used only while the
    update's lock read the same ones, so a change by any worker is seen by the next update
    of that chat on every worker. A change moves the versions on right before its commit and
    again right after it: a worker that read the row between the two keeps it under the
    first, which the second makes old. Entries are filled only from reads outside a
    transaction (committed rows)."""

    keeps_new = False
    shared = True

    def __init__(self, versions: AccountVersions, size: int = 20_000) -> None:
        super().__init__(size)
        self._versions = versions
        # The chat of each account read here, kept after its entry went (an account's chat
        # never changes): a change of it then moves its own version on, where an unknown
        # account would replace the epoch and make every worker read every account again.
        self._chats: OrderedDict[int, Chat] = OrderedDict()

    def read(self, chat: Chat, account_id: int) -> None:
        self._chats[account_id] = chat
        self._chats.move_to_end(account_id)
        if len(self._chats) > self._size:
            self._chats.popitem(last=False)

    def _stamp(self, chat: Chat) -> tuple[Any, Any] | None:
        has_epoch, epoch = read_with_lock(self._versions.epoch_key)
        has_version, version = read_with_lock(self._versions.key(chat))
        if not (has_epoch and has_version) or epoch is None:
            return None
        return (epoch, version)

    async def ready(self) -> None:
        has_epoch, epoch = read_with_lock(self._versions.epoch_key)
        if has_epoch and epoch is None:
            await self._versions.start()  # Redis has none: the next update can keep entries

    def get(self, chat: Chat) -> Values | None:
        found = super().get(chat)
        if found is None:
            return None
        stamp = self._stamp(chat)
        if stamp is None or found[_STAMP] != stamp:
            return None
        return found

    def put(self, chat: Chat, values: Values) -> None:
        stamp = self._stamp(chat)
        if stamp is not None:
            super().put(chat, {**values, _STAMP: stamp})

    def changed(
        self, info: dict[Any, Any], *, account_id: int | None = None, chat: Chat | None = None
    ) -> None:
        if chat is None and account_id is not None:
            chat = self._chats.get(account_id) or self._chat_of.get(account_id)
        super().changed(info, account_id=account_id, chat=chat)
        # A chat this worker does not know: every worker's copies go.
        self._note(info, chat)

    def cleared(self, info: dict[Any, Any]) -> None:
        super().cleared(info)
        self._note(info, None)

    def bump_before_commit(self, session: AsyncSession) -> None:
        """Move the versions of what the unit of work changed on right before its commit,
        with its other Redis scripts (storage.redis_batch); those noted until then count."""

        def make() -> ScriptCall | None:
            changed: tuple[set[Chat], list[bool]] | None = session.info.get(_CHANGED)
            if changed is None:
                return None
            return self._versions.bump_call(changed[0], changed[1][0])

        run_before_commit(session, self._versions.redis, "accounts~", make)

    def _note(self, info: dict[Any, Any], chat: Chat | None) -> None:
        changed: tuple[set[Chat], list[bool]] | None = info.get(_CHANGED)
        if changed is None:
            changed = info[_CHANGED] = (set(), [False])
            versions = self._versions

            async def bump() -> None:
                await versions.bump(changed[0], changed[1][0])

            info[_BUMPS] = bump
        if chat is None:
            changed[1][0] = True
        else:
            changed[0].add(chat)


# Where a session keeps its accounts' bump (`SharedAccountCache._note`), for the unit of work
# to run before and after its commit (storage.uow).
_BUMPS = "accounts_bumps"


def account_bumps(info: dict[Any, Any]) -> Callable[[], Awaitable[None]] | None:
    """The versions this unit of work moves on, if it changed accounts."""
    bump: Callable[[], Awaitable[None]] | None = info.get(_BUMPS)
    return bump


class AccountRepository(SessionStore):
    def __init__(self, session: AsyncSession, cache: AccountCache | None = None) -> None:
        super().__init__(session)
        self._cache = cache

    def _read(self, chat: Chat, row: tuple[Any, ...]) -> Values:
        """An account's row as values; the cache learns the account's chat."""
        values = dict(zip(_COLUMNS, row, strict=True))
        if self._cache is not None:
            self._cache.read(chat, values["id"])
        return values

    async def _values(self, channel: Channel, external_id: str) -> Values | None:
        chat = (channel.value, external_id)
        if self._cache is not None:
            cached = self._cache.get(chat)
            if cached is not None:
                return cached
            await self._cache.ready()
        cache = self._fills()
        found: list[Values] = []

        def read() -> Program:
            rows = yield _BY_CHAT, {"channel": channel.value, "external_id": external_id}
            if rows:
                found.append(self._read(chat, rows[0]))
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
        self,
        channel: Channel,
        external_id: str,
        *,
        display_name: str | None,
        now: datetime,
        locale: str | None = None,
    ) -> Account:
        found = await self._values(channel, external_id)
        if found is None:
            found = await self._create(
                channel, external_id, display_name=display_name, now=now, locale=locale
            )
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
        self,
        channel: Channel,
        external_id: str,
        *,
        display_name: str | None,
        now: datetime,
        locale: str | None,
    ) -> Values:
        """Make the account, or find the one a concurrent first message made. Where the
        unit of work has not begun its transaction, this is a trip of its own (SQLite:
        storage._hot.run) or a statement of its own (PostgreSQL) and commits at once: an
        account with nothing in it yet, which the resident's next message would make just
        the same, so it needs no rollback with the update; the update's own transaction then
        stays short."""
        chat = (channel.value, external_id)
        values = {
            "channel": channel.value,
            "external_id": external_id,
            "telegram_id": int(external_id) if channel is Channel.TELEGRAM else None,
            "display_name": clip_name(display_name),
            "subscribed": True,
            "created_at": now,
            "locale": locale,
        }
        session = self._session
        if not session.in_transaction() and session.get_bind().dialect.name != "sqlite":
            # Nothing begun yet (PostgreSQL): one statement, its own transaction, so the row
            # it returns is committed and may be kept.
            rows = await run_alone(lender_of(session), _CREATE_RETURNING, values)
            if not rows:  # made by a concurrent first message: read it
                made = await self._values(channel, external_id)
                assert made is not None, "an account that conflicted exists"
                return made
            created = self._read(chat, rows[0])
            if self._cache is not None:
                self._cache.put(chat, created)
            return created
        cache = self._fills()
        found: list[Values] = []

        def create() -> Program:
            yield _CREATE, values
            rows = yield _BY_CHAT, {"channel": channel.value, "external_id": external_id}
            found.append(self._read(chat, rows[0]))
            if cache is not None and cache.keeps_new:
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
        if self._cache is not None:
            self._cache.changed(self._session.info, chat=(channel.value, external_id))

    async def is_subscribed(self, channel: Channel, external_id: str) -> bool:
        found = await self._values(channel, external_id)
        return found is not None and bool(found["subscribed"])

    async def set_locale(self, account_id: int, locale: str) -> None:
        """Written with the unit of work's commit (a held write: storage._hot)."""
        cache = self._cache
        info = self._session.info

        def write() -> Program:
            yield _SET_LOCALE, {"account_id": account_id, "locale": locale}
            if cache is not None:
                # Where the write ran, in its transaction: the next read finds it.
                cache.changed(info, account_id=account_id)

        hold_until_commit(self._session, f"locale:{account_id}", write)
