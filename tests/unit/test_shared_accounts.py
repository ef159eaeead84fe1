"""Accounts kept by each worker where several share PostgreSQL and Redis (storage.accounts
`SharedAccountCache`): an update uses its worker's copy only while the versions its chat's
lock read are those the copy was read under, so a change by any worker is seen by the next
update of that chat on every worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from redis.asyncio import Redis
from sqlalchemy import update

from domain.dialog.events import Channel
from domain.entities import Account
from storage.accounts import AccountVersions
from storage.database import create_session_factory
from storage.fsm_redis import HeldRedisStorage, RedisChatLock
from storage.models import ChannelAccount
from storage.uow import UnitOfWorkFactory
from tests.asyncpg_trips import round_trips

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
CHAT = "7001"
KEY = StorageKey(bot_id=1, chat_id=7001, user_id=7001)


class Worker:
    """One worker's units of work and chat lock, as bot.app wires them."""

    def __init__(self, uows: UnitOfWorkFactory, url: str, prefix: str) -> None:
        self.redis = Redis.from_url(url)
        versions = AccountVersions(self.redis, prefix)
        self.uows = UnitOfWorkFactory(
            create_session_factory(uows.sessions.engine), accounts=versions
        )
        keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
        storage = HeldRedisStorage(self.redis, key_builder=keys)
        self.lock: RedisChatLock = storage.chat_lock(timeout=10, also_read_for=versions.lock_reads)

    async def account(self, chat: str = CHAT) -> tuple[Account, int]:
        """The resident's account as an update of their chat sees it, and how many statements
        that update sent to PostgreSQL for it."""
        async with self.lock.lock(StorageKey(bot_id=1, chat_id=int(chat), user_id=int(chat))):
            with round_trips() as sent:
                async with self.uows() as uow:
                    found = await uow.accounts.get_or_create(
                        Channel.TELEGRAM, chat, display_name="Олена", now=NOW
                    )
                    await uow.commit()
        return found, len(sent)


@pytest.fixture
async def workers(
    uows: UnitOfWorkFactory, redis_url: tuple[str | None, str]
) -> AsyncIterator[tuple[Worker, Worker]]:
    url, prefix = redis_url
    assert url is not None
    pair = Worker(uows, url, prefix), Worker(uows, url, prefix)
    yield pair
    for worker in pair:
        await worker.uows.sessions.close()
        await worker.redis.aclose()


async def test_a_change_on_one_worker_is_seen_on_the_other(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    made, _ = await a.account()  # made; the epoch is set for the next reads
    first, reads = await a.account()
    assert reads == 1 and first.locale is None  # read and kept
    again, reads = await a.account()
    assert reads == 0 and again == first  # from the copy
    async with b.lock.lock(KEY), b.uows() as uow:
        await uow.accounts.set_locale(made.id, "en")
        await uow.commit()
    changed, reads = await a.account()
    assert reads == 1 and changed.locale == "en"
    kept, reads = await a.account()
    assert reads == 0 and kept.locale == "en"


async def test_changes_of_one_account_keep_the_other_accounts_copies(
    workers: tuple[Worker, Worker],
) -> None:
    a, _b = workers
    other = "7002"
    made, _ = await a.account()
    await a.account()
    await a.account(other)
    await a.account(other)
    assert (await a.account(other))[1] == 0
    # Two changes in a row (the locale, then the phone, as a new resident's dialog makes
    # them): the second comes after the first made this worker drop its copy.
    for locale in ("en", "uk"):
        async with a.lock.lock(KEY), a.uows() as uow:
            await uow.accounts.set_locale(made.id, locale)
            await uow.commit()
    assert (await a.account(other))[1] == 0  # still the copy: only the changed one is read
    changed, reads = await a.account()
    assert reads == 1 and changed.locale == "uk"


async def test_a_statement_over_the_table_drops_every_workers_copies(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    await a.account()
    await a.account()
    assert (await a.account())[1] == 0
    async with b.uows() as uow:
        # As linking moves a resident's chats (storage.identity): not one account by id.
        await uow.session.execute(
            update(ChannelAccount).where(ChannelAccount.external_id == CHAT).values(locale="uk")
        )
        await uow.commit()
    found, reads = await a.account()
    assert reads == 1 and found.locale == "uk"


async def test_no_copy_is_used_once_redis_lost_its_keys(
    workers: tuple[Worker, Worker], redis_url: tuple[str | None, str]
) -> None:
    a, _b = workers
    _url, prefix = redis_url
    await a.account()
    await a.account()
    assert (await a.account())[1] == 0
    keys = [key async for key in a.redis.scan_iter(f"{prefix}:accounts:*")]
    await a.redis.delete(*keys)  # a restarted Redis keeps nothing here
    assert (await a.account())[1] == 1  # read again (and a new epoch set)
    assert (await a.account())[1] == 1  # kept under the new epoch
    assert (await a.account())[1] == 0


async def test_an_update_without_its_chats_lock_reads_the_table(
    workers: tuple[Worker, Worker],
) -> None:
    a, _b = workers
    await a.account()
    await a.account()
    with round_trips() as sent:
        async with a.uows() as uow:
            await uow.accounts.get_or_create(Channel.TELEGRAM, CHAT, display_name=None, now=NOW)
    assert len(sent) == 1
