"""Factories that build the running bot from settings. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.types import BotCommand
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.appointments import create_appointment_config, sync_reception
from bot.background import create_maintenance, create_sender
from bot.categories_version import RedisCatalogueVersion
from bot.config import PROJECT_ROOT, Settings
from bot.config import ConfigurationError as ConfigurationError  # where main.py looks for it
from bot.durable import DurableReplies
from bot.faults import describe, stop_tasks
from bot.flood import FloodGuard
from bot.leader import Leadership
from bot.limits import LimitRules, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from bot.maintenance import Maintenance
from bot.media import MediaSources, MediaStore
from bot.outbox.sender import OutboxSender, Transport
from bot.startup import startup_backoff, telegram_call
from bot.telegram.flood import FloodMiddleware
from bot.telegram.outbox import TelegramTransport
from bot.telegram.setup import create_bot, create_dispatcher, create_executors, create_staff
from bot.viber.outbox import ViberTransport
from bot.viber.setup import create_viber
from bot.viber.webhook import ViberWebhook
from bot.web import serving as serving  # the entry sandbox and tests start from
from domain.categories import load_categories
from domain.clock import Clock, utc_now
from domain.departments import load_departments, resolve_categories
from domain.dialog.core import Dialog, DialogConfig
from domain.dialog.events import Channel
from domain.geo import Bounds
from domain.i18n import Translator, gettext
from domain.lifecycle import LifecycleConfig
from storage.accounts import AccountVersions
from storage.database import Sessions, create_engine, create_session_factory, is_sqlite
from storage.fsm import RecordCache, SQLAlchemyStorage
from storage.fsm_redis import HeldRedisStorage
from storage.isolation import KeyedIsolation
from storage.redis_batch import BatchingRedis
from storage.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)

PROCESSED_UPDATES_KEPT = timedelta(days=3)
# Every update's replies pass through the outbox now: delivered rows are kept this long.
SENT_OUTBOX_KEPT = timedelta(days=7)


@dataclass(slots=True)
class Application:
    """Everything the running bot holds; `close()` releases it."""

    settings: Settings
    engine: AsyncEngine
    uows: UnitOfWorkFactory
    translator: Translator
    dialog: Dialog
    bot: Bot
    dispatcher: Dispatcher
    storage: BaseStorage
    clock: Clock
    sender: OutboxSender
    maintenance: Maintenance
    leadership: Leadership
    media: MediaStore
    durable: DurableReplies
    viber: ViberWebhook | None = None
    redis: Redis | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start_background(self) -> None:
        """The outbox sender and the lifecycle timers (in the elected worker), for as long as
        the bot runs."""
        self.tasks.append(asyncio.create_task(self.leadership.run(), name="leadership"))
        self.tasks.append(asyncio.create_task(self.sender.run(), name="outbox-sender"))
        self.tasks.append(asyncio.create_task(self.maintenance.run(), name="maintenance"))
        self.tasks.append(asyncio.create_task(self.durable.run(), name="sent-replies"))

    async def stop_background(self) -> None:
        await stop_tasks(self.tasks)
        self.tasks.clear()

    async def close(self) -> None:
        await self.stop_background()
        try:
            await self.durable.flush()  # replies sent: do not let the sender send them again
        except Exception as exc:
            logger.warning("could not mark sent replies at shutdown: %s", describe(exc))
        await self.dispatcher.storage.close()
        await self.bot.session.close()
        if self.viber is not None:
            await self.viber.client.close()
        await self.media.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.uows.sessions.close()
        await self.engine.dispose()


def create_translator(settings: Settings) -> Translator:
    return Translator(PROJECT_ROOT / "locales", settings.default_locale)


def create_lifecycle_config(settings: Settings) -> LifecycleConfig:
    return LifecycleConfig(
        staff_chat_id=settings.staff_chat_id,
        staff_locale=settings.default_locale,
        timezone=ZoneInfo(settings.timezone),
        centre_phone=settings.contact_centre_phone,
        confirm_window=timedelta(days=settings.confirm_days),
        escalation_after=timedelta(hours=settings.escalation_hours),
        escalation_period=timedelta(hours=settings.escalation_period_hours),
    )


def create_dialog(settings: Settings, translator: Translator, clock: Clock) -> Dialog:
    config = DialogConfig(
        lifecycle=create_lifecycle_config(settings),
        city_bounds=Bounds(*settings.city_bounds),
        timezone=ZoneInfo(settings.timezone),
        number_prefix=settings.appeal_number_prefix,
        contact_centre_phone=settings.contact_centre_phone,
        max_media=settings.max_media_per_appeal,
        appointments=create_appointment_config(settings),
        page_size=settings.appeals_page_size,
        media_max_mb=settings.media_max_bytes // (1024 * 1024),
    )
    return Dialog(config, translator, clock)


def create_redis(url: str) -> Redis:
    """One client for everything Redis holds; its scripts go to the server in batches
    (storage.redis_batch `BatchingRedis`). A command on a connection that broke (Redis
    restarted) is retried on a fresh one, so a short outage costs only the updates that
    arrived during it (and those are delivered again: see bot.faults)."""
    return BatchingRedis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def create_fsm(
    settings: Settings,
    sessions: Sessions,
    redis: Redis | None,
    categories: RedisCatalogueVersion | None = None,
    accounts: AccountVersions | None = None,
) -> tuple[BaseStorage, BaseEventIsolation]:
    """Dialog state in Redis when configured (several workers), else in the database."""
    if redis is not None:
        keys = DefaultKeyBuilder(prefix=settings.redis_prefix, with_bot_id=True, with_destiny=True)
        storage = HeldRedisStorage(redis, key_builder=keys)
        # The categories' version is read with the lock: a dialog step that shows categories
        # then checks its copy without a round trip of its own (storage.category_cache).
        # So is the resident's account's version (storage.accounts, `SharedAccountCache`).
        also = [categories.key] if categories is not None else []
        lock = storage.chat_lock(
            timeout=settings.redis_lock_seconds,
            also_read=also,
            also_read_for=accounts.lock_reads if accounts is not None else None,
        )
        return storage, lock
    keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
    # Where one process owns the database it also knows every dialog's committed state.
    cache = RecordCache() if sessions.single_process else None
    return SQLAlchemyStorage(sessions, keys, cache=cache), KeyedIsolation()


def create_limiter(settings: Settings, redis: Redis | None) -> RateLimiter:
    """Telegram's limits are per bot token: shared through Redis when workers share one."""
    rules = LimitRules(
        global_per_second=settings.telegram_rate_global_per_second,
        chat_per_second=settings.telegram_rate_chat_per_second,
        group_per_minute=settings.telegram_rate_group_per_minute,
    )
    if redis is not None:
        return RedisRateLimiter(redis, rules, prefix=settings.redis_prefix)
    return MemoryRateLimiter(rules)


def build_application(settings: Settings, *, clock: Clock = utc_now) -> Application:
    """Wire every part; raises ConfigurationError with a sentence for the operator."""
    bot = create_bot(settings)
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = create_session_factory(engine)
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    categories = RedisCatalogueVersion(redis, settings.redis_prefix) if redis else None
    accounts = AccountVersions(redis, settings.redis_prefix) if redis else None
    uows = UnitOfWorkFactory(sessions, categories, accounts)
    translator = create_translator(settings)
    dialog = create_dialog(settings, translator, clock)
    lifecycle = create_lifecycle_config(settings)
    timezone = ZoneInfo(settings.timezone)
    storage, isolation = create_fsm(settings, sessions, redis, categories, accounts)
    staff = create_staff(settings, translator, clock, lifecycle, uows, redis)
    executors = create_executors(settings, translator, clock, lifecycle, uows, redis)
    limiter = create_limiter(settings, redis)
    leadership = Leadership(redis, prefix=settings.redis_prefix)
    flood = FloodGuard(
        redis,
        prefix=settings.redis_prefix,
        limit=settings.flood_limit,
        window=settings.flood_window_seconds,
    )
    durable = DurableReplies(
        uows, lease=settings.reply_lease_seconds, batch=is_sqlite(settings.database_url)
    )
    dispatcher = create_dispatcher(
        storage,
        isolation,
        uows,
        dialog,
        clock,
        staff,
        limiter,
        durable,
        polling=not settings.webhook_mode,
        flood=FloodMiddleware(flood, translator),
        reply_wait=settings.reply_wait_seconds,
        executors=executors,
    )
    media = MediaStore(
        settings.media_dir,
        settings.media_max_bytes,
        settings.webhook_base_url,
        sources=MediaSources(settings.viber_media_hosts),
        parallel=settings.media_parallel_downloads,
    )
    transports: dict[Channel, Transport] = {
        Channel.TELEGRAM: TelegramTransport(
            bot,
            uows,
            translator,
            clock,
            staff_chat_id=settings.staff_chat_id,
            staff_locale=settings.default_locale,
            timezone=timezone,
            media=media,
        )
    }
    viber = create_viber(
        settings,
        dialog,
        uows,
        storage,
        isolation,
        media,
        translator,
        clock,
        limiter,
        durable,
        flood,
    )
    if viber is not None:
        transports[Channel.VIBER] = ViberTransport(viber.client, uows, media, bot)
    sender = create_sender(settings, uows, transports, limiter, leadership)
    uows.on_outbox = sender.wake
    durable.wake_sender = sender.wake
    sender.busy = durable.busy
    maintenance = create_maintenance(
        settings, uows, translator, clock, lifecycle, leadership, media
    )
    return Application(
        settings=settings,
        engine=engine,
        uows=uows,
        translator=translator,
        dialog=dialog,
        bot=bot,
        dispatcher=dispatcher,
        storage=storage,
        clock=clock,
        sender=sender,
        maintenance=maintenance,
        leadership=leadership,
        media=media,
        durable=durable,
        viber=viber,
        redis=redis,
    )


async def sync_categories(
    uows: UnitOfWorkFactory, path: Path, departments_path: Path | None = None
) -> None:
    """Make the categories and departments tables match the city's files (both validated
    before anything is written); categories naming a department by code get its names, and a
    department's SLA overrides its categories'."""
    specs = load_categories(path)
    departments = load_departments(departments_path) if departments_path is not None else []
    specs = resolve_categories(specs, departments)
    async with uows() as uow:
        if departments_path is not None:
            await uow.departments.sync(departments)
        await uow.categories.sync(specs)
        await uow.commit()
    if uows.catalogue is not None:
        # Read again after the commit, not from what the sync's own transaction saw; other
        # workers too.
        await uows.catalogue.changed()


async def prepare(app: Application) -> None:
    """Load the categories file into the database, check the token (getMe) and tell
    Telegram our commands; Telegram's calls are retried while it is unreachable."""
    await sync_categories(app.uows, app.settings.categories_file, app.settings.departments_file)
    await sync_reception(app.uows, app.settings.reception_file)
    backoff = startup_backoff(app.settings)
    await telegram_call("getMe", app.bot.me, backoff)
    async with app.uows() as uow:
        await uow.updates.prune(app.clock() - PROCESSED_UPDATES_KEPT)
        await uow.outbox_queue.prune_sent(app.clock() - SENT_OUTBOX_KEPT)
        await uow.commit()
    for locale in ("uk", "en"):
        with app.translator.use(locale):
            commands = [
                BotCommand(command="start", description=gettext("Main menu")),
                BotCommand(command="new", description=gettext("New appeal")),
                BotCommand(command="my", description=gettext("My appeals")),
                BotCommand(command="language", description=gettext("Language")),
                BotCommand(command="help", description=gettext("Help")),
                BotCommand(command="cancel", description=gettext("Cancel the current step")),
            ]
        language = None if locale == app.settings.default_locale else locale
        await telegram_call(
            "setMyCommands",
            partial(app.bot.set_my_commands, commands, language_code=language),
            backoff,
        )


async def run(app: Application, stop: asyncio.Event | None = None) -> None:
    """Long polling, or the webhook server when WEBHOOK_BASE_URL is set; until `stop` is set
    (SIGTERM, Ctrl-C) or the task is cancelled."""
    stop = stop or asyncio.Event()
    await prepare(app)
    app.start_background()
    if app.settings.webhook_mode:
        async with serving(app, app.settings.web_host, app.settings.web_port):
            logger.info(
                "webhook mode: listening on %s:%d", app.settings.web_host, app.settings.web_port
            )
            await stop.wait()
            logger.info("stopping: finishing the updates in hand")
        return
    await telegram_call(
        "deleteWebhook",
        partial(app.bot.delete_webhook, drop_pending_updates=False),
        startup_backoff(app.settings),
    )
    logger.info("long polling")

    async def stop_polling() -> None:
        await stop.wait()
        logger.info("stopping: finishing the update in hand")
        await app.dispatcher.stop_polling()

    # One update at a time, each finished before the next getUpdates confirms it: aiogram's
    # default (a task per update) confirms updates before they are handled.
    polling = asyncio.create_task(
        app.dispatcher.start_polling(
            app.bot,
            handle_signals=False,
            handle_as_tasks=False,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
        ),
        name="polling",
    )
    # Created after `polling`, so that polling has started when the stopper asks it to stop.
    stopper = asyncio.create_task(stop_polling())
    try:
        await asyncio.shield(polling)
    except asyncio.CancelledError:
        # Cancelling start_polling itself would leave aiogram's getUpdates loop running (it
        # waits for it with asyncio.wait, which does not cancel what it waits for): the loop
        # would go on handling updates after close() and open a new HTTP session that is never
        # closed. A cancelled run stops polling the way SIGTERM does.
        stop.set()
        await asyncio.gather(polling, return_exceptions=True)
    finally:
        stopper.cancel()
