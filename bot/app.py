"""Factories that build the running bot from settings. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import SendMessage
from aiogram.types import BotCommand, Chat, ErrorEvent
from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.appointments import create_appointment_config, sync_reception
from bot.config import PROJECT_ROOT, Settings
from bot.durable import DurableReplies
from bot.faults import Fault, classify, describe
from bot.flood import FloodGuard
from bot.leader import Leadership
from bot.maintenance import Maintenance
from bot.media import MediaSources, MediaStore
from bot.outbox.limits import LimitRules, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from bot.outbox.sender import OutboxSender, SenderConfig, Transport
from bot.outbox.telegram import TelegramTransport
from bot.outbox.viber import ViberTransport
from bot.startup import Backoff, telegram_call, until_done
from bot.telegram.delivery import send
from bot.telegram.flood import FloodMiddleware
from bot.telegram.fsm import LockingFSMMiddleware
from bot.telegram.membership import (
    MembershipCache,
    MemoryMembershipCache,
    RedisMembershipCache,
    StaffMembership,
)
from bot.telegram.middleware import UnitOfWorkMiddleware
from bot.telegram.retry import RetryTransientMiddleware
from bot.telegram.session import BotApiSession
from bot.telegram.staff_gate import StaffGateMiddleware
from bot.telegram.webhook import TelegramWebhook, update_kind
from bot.viber.client import ViberClient
from bot.viber.webhook import ViberWebhook
from domain.categories import load_categories
from domain.clock import Clock, utc_now
from domain.dialog.core import Dialog, DialogConfig
from domain.dialog.events import Channel
from domain.geo import Bounds
from domain.i18n import Translator, gettext
from domain.lifecycle import LifecycleConfig
from handlers import appointments as appointment_handlers
from handlers import calls, resident
from handlers import staff as staff_handlers
from storage.database import Sessions, create_engine, create_session_factory, is_sqlite
from storage.fsm import SQLAlchemyStorage
from storage.isolation import KeyedIsolation
from storage.uow import UnitOfWorkFactory

logger = logging.getLogger(__name__)

PROCESSED_UPDATES_KEPT = timedelta(days=3)
# Every update's replies pass through the outbox now: delivered rows are kept this long.
SENT_OUTBOX_KEPT = timedelta(days=7)
URL_SCHEMES = ("http://", "https://")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message says what to set."""


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
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
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
    )


def create_dialog(settings: Settings, translator: Translator, clock: Clock) -> Dialog:
    config = DialogConfig(
        lifecycle=create_lifecycle_config(settings),
        city_bounds=Bounds(*settings.city_bounds),
        timezone=ZoneInfo(settings.timezone),
        number_prefix=settings.appeal_number_prefix,
        contact_centre_phone=settings.contact_centre_phone,
        max_media=settings.max_media_per_appeal,
        page_size=settings.appeals_page_size,
        media_max_mb=settings.media_max_bytes // (1024 * 1024),
        appointments=create_appointment_config(settings),
    )
    return Dialog(config, translator, clock)


def create_bot(settings: Settings) -> Bot:
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise ConfigurationError(
            "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather into the environment "
            "or into .env (see .env.example)."
        )
    if settings.telegram_api_url and not settings.telegram_api_url.startswith(URL_SCHEMES):
        # Without a scheme aiohttp refuses the URL, and the URL it names holds the token.
        raise ConfigurationError(
            "TELEGRAM_API_URL must start with http:// or https:// "
            "(for example http://127.0.0.1:8081), or be left unset for Telegram's own server."
        )
    session = (
        BotApiSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else BotApiSession()
    )
    return Bot(settings.telegram_bot_token.get_secret_value(), session=session)


def create_redis(url: str) -> Redis:
    """One client for everything Redis holds. A command on a connection that broke (Redis
    restarted) is retried on a fresh one, so a short outage costs only the updates that
    arrived during it (and those are delivered again: see bot.faults)."""
    return Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def create_fsm(
    settings: Settings, sessions: Sessions, redis: Redis | None
) -> tuple[BaseStorage, BaseEventIsolation]:
    """Dialog state in Redis when configured (several workers), else in the database."""
    if redis is not None:
        keys = DefaultKeyBuilder(prefix=settings.redis_prefix, with_bot_id=True, with_destiny=True)
        storage = RedisStorage(redis, key_builder=keys)
        lock = {"timeout": settings.redis_lock_seconds}
        return storage, storage.create_isolation(lock_kwargs=lock)
    keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
    return SQLAlchemyStorage(sessions, keys), KeyedIsolation()


def create_dispatcher(
    storage: BaseStorage,
    isolation: BaseEventIsolation,
    uows: UnitOfWorkFactory,
    dialog: Dialog,
    clock: Clock,
    staff: staff_handlers.StaffRuntime | None,
    limiter: RateLimiter,
    durable: DurableReplies | None = None,
    *,
    polling: bool = False,
    flood: FloodMiddleware | None = None,
    reply_wait: float = 1.0,
) -> Dispatcher:
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, disable_fsm=True)
    if staff is not None:
        dispatcher["staff"] = staff
    if flood is not None:
        # Before the resident's lock and the transaction: flooding costs neither.
        dispatcher.update.outer_middleware(flood)
    if polling:
        # No redelivery in long polling: retry here what may pass, before the next update.
        dispatcher.update.outer_middleware(RetryTransientMiddleware())
    # Registered in aiogram's place (after the user context), then the staff check (a
    # Telegram call: never inside a transaction), then the unit of work inside the
    # per-resident lock.
    dispatcher.update.outer_middleware(LockingFSMMiddleware(storage, isolation))
    if staff is not None:
        dispatcher.update.outer_middleware(StaffGateMiddleware(staff.membership))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(uows, dialog, clock, limiter, durable))
    if staff is not None:
        # First, so that staff buttons pressed anywhere get the operators' check; /call
        # before the staff router, which takes every other command in the staff chat.
        dispatcher.include_router(calls.create_router(staff, dialog))
        dispatcher.include_router(appointment_handlers.create_router())
        dispatcher.include_router(staff_handlers.create_router())
    dispatcher.include_router(resident.create_router())
    dispatcher.errors.register(_on_error)
    return dispatcher


async def _on_error(event: ErrorEvent, bot: Bot, event_chat: Chat | None = None) -> bool:
    """A failure that may pass (storage, Redis, network: see bot.faults) fails the update, so
    that Telegram delivers it again and nothing the resident sent is lost. One that would fail
    the same way every time is logged, the resident gets an apology, and the update is done.
    The log names the update by id and kind: never its content (names, phone numbers)."""
    exception = event.exception
    if classify(exception) is Fault.TRANSIENT:
        raise exception
    logger.error(
        "update %d (%s) failed for good: %s",
        event.update.update_id,
        update_kind(event.update),
        describe(exception),
        exc_info=exception,
    )
    if event_chat is not None:
        text = gettext("Sorry, something went wrong. Please try again.")
        await send(bot, SendMessage(chat_id=event_chat.id, text=text))
    return True


def create_staff(
    settings: Settings,
    translator: Translator,
    clock: Clock,
    lifecycle: LifecycleConfig,
    uows: UnitOfWorkFactory,
    redis: Redis | None,
) -> staff_handlers.StaffRuntime | None:
    """The staff chat's desk, when STAFF_CHAT_ID is set."""
    chat_id = settings.staff_chat_id
    if chat_id is None:
        return None
    cache: MembershipCache = (
        RedisMembershipCache(redis, settings.redis_prefix, chat_id)
        if redis is not None
        else MemoryMembershipCache()
    )
    return staff_handlers.StaffRuntime(
        chat_id=chat_id,
        locale=settings.default_locale,
        timezone=ZoneInfo(settings.timezone),
        translator=translator,
        clock=clock,
        lifecycle=lifecycle,
        membership=StaffMembership(chat_id, cache),
        uows=uows,
        pending_ttl=timedelta(minutes=settings.staff_pending_minutes),
        appointments=create_appointment_config(settings),
    )


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


def create_viber(
    settings: Settings,
    dialog: Dialog,
    uows: UnitOfWorkFactory,
    storage: BaseStorage,
    isolation: BaseEventIsolation,
    media: MediaStore,
    translator: Translator,
    clock: Clock,
    limiter: RateLimiter,
    durable: DurableReplies | None = None,
    flood: FloodGuard | None = None,
) -> ViberWebhook | None:
    """The Viber channel when VIBER_AUTH_TOKEN is set (it needs webhook mode)."""
    if settings.viber_auth_token is None or not settings.viber_auth_token.get_secret_value():
        return None
    if not settings.webhook_base_url:
        raise ConfigurationError(
            "VIBER_AUTH_TOKEN is set but WEBHOOK_BASE_URL is not: Viber delivers only to a "
            "public HTTPS webhook, so set WEBHOOK_BASE_URL (and WEBHOOK_SECRET)."
        )
    if not settings.viber_api_url.startswith(URL_SCHEMES):
        raise ConfigurationError(
            "VIBER_API_URL must start with https:// (or http:// for a local stand-in)."
        )
    token = settings.viber_auth_token.get_secret_value()
    client = ViberClient(
        settings.viber_api_url,
        token,
        sender_name=settings.viber_bot_name,
        sender_avatar=settings.viber_bot_avatar,
    )
    return ViberWebhook(
        token=token,
        client=client,
        dialog=dialog,
        uows=uows,
        storage=storage,
        isolation=isolation,
        media=media,
        translator=translator,
        clock=clock,
        limiter=limiter,
        durable=durable,
        flood=flood,
        reply_wait=settings.reply_wait_seconds,
    )


def build_application(settings: Settings, *, clock: Clock = utc_now) -> Application:
    """Wire every part; raises ConfigurationError with a sentence for the operator."""
    bot = create_bot(settings)
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    uows = UnitOfWorkFactory(sessions)
    translator = create_translator(settings)
    dialog = create_dialog(settings, translator, clock)
    lifecycle = create_lifecycle_config(settings)
    timezone = ZoneInfo(settings.timezone)
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    storage, isolation = create_fsm(settings, sessions, redis)
    staff = create_staff(settings, translator, clock, lifecycle, uows, redis)
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
    sender = OutboxSender(
        uows,
        transports,
        limiter,
        config=SenderConfig(
            poll_interval=settings.outbox_poll_seconds,
            backoff_base=settings.outbox_backoff_seconds,
            max_attempts=settings.outbox_max_attempts,
            credentials_pause=settings.outbox_credentials_pause_seconds,
            staff_chat=str(settings.staff_chat_id) if settings.staff_chat_id is not None else None,
        ),
        leading=lambda: leadership.is_leader,
    )
    uows.on_outbox = sender.wake
    durable.wake_sender = sender.wake
    sender.busy = durable.busy
    maintenance = Maintenance(
        uows,
        translator,
        clock,
        lifecycle,
        reminder_period=timedelta(hours=settings.reminder_period_hours),
        pending_ttl=timedelta(minutes=settings.staff_pending_minutes),
        interval=settings.maintenance_interval_seconds,
        leading=lambda: leadership.is_leader,
        media=media,
        media_orphan_age=settings.media_orphan_hours * 3600,
        appointments=create_appointment_config(settings),
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


async def sync_categories(uows: UnitOfWorkFactory, path: Path) -> None:
    """Make the categories table match the city's file (validated before anything is written)."""
    specs = load_categories(path)
    async with uows() as uow:
        await uow.categories.sync(specs)
        await uow.commit()
    if uows.catalogue is not None:
        # Read again after the commit, not from what the sync's own transaction saw.
        uows.catalogue.invalidate()


def startup_backoff(settings: Settings, *, forever: bool = False) -> Backoff:
    return Backoff(
        first=settings.startup_backoff_seconds,
        within=None if forever else settings.startup_retry_seconds,
    )


async def prepare(app: Application) -> None:
    """Load the categories file into the database, check the token (getMe) and tell
    Telegram our commands; Telegram's calls are retried while it is unreachable."""
    await sync_categories(app.uows, app.settings.categories_file)
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


def create_web_app(app: Application) -> web.Application:
    """The aiohttp application: the Telegram and Viber webhooks and the media Viber fetches."""
    if not app.settings.webhook_secret or not app.settings.webhook_secret.get_secret_value():
        raise ConfigurationError(
            "WEBHOOK_SECRET is not set: webhook mode needs a secret (1-256 of A-Z, a-z, 0-9, _ -) "
            "so that only Telegram can post updates."
        )
    web_app = web.Application()
    TelegramWebhook(
        app.dispatcher, app.bot, app.settings.webhook_secret.get_secret_value()
    ).register(web_app, path=app.settings.webhook_path)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app.router.add_get("/health", health)
    web_app.router.add_get("/media/{name}", app.media.serve)
    if app.viber is not None:
        web_app.router.add_post(app.settings.viber_webhook_path, app.viber.handle)
    return web_app


def webhook_url(settings: Settings) -> str:
    base = (settings.webhook_base_url or "").rstrip("/")
    return base + settings.webhook_path


@asynccontextmanager
async def serving(
    app: Application, host: str, port: int, *, register: bool = True, reuse_port: bool = False
) -> AsyncIterator[web.AppRunner]:
    """Serve the webhooks, then register them once the server is listening (Viber calls the
    URL at once and wants a 200). Workers sharing a port (reuse_port) leave registering to
    the process that started them."""
    # On stop: no new connections, the updates in hand finish (their replies go out), then
    # whatever is still running after the timeout is cancelled (Telegram delivers it again).
    runner = web.AppRunner(
        create_web_app(app), shutdown_timeout=app.settings.shutdown_timeout_seconds
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    try:
        if register:
            await register_webhooks(app)
        yield runner
    finally:
        await runner.cleanup()


async def register_webhooks(app: Application) -> None:
    """Telegram's webhook, retried with backoff (start-up fails only after
    STARTUP_RETRY_SECONDS); Viber's in the background until it succeeds, so that a Viber
    outage degrades Viber only."""
    await register_telegram(app)
    if not await register_viber(app):
        app.tasks.append(asyncio.create_task(register_viber_until_done(app), name="viber-webhook"))


async def register_telegram(app: Application) -> None:
    await telegram_call(
        "setWebhook",
        partial(
            app.bot.set_webhook,
            webhook_url(app.settings),
            secret_token=app.settings.webhook_secret.get_secret_value()
            if app.settings.webhook_secret
            else None,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        ),
        startup_backoff(app.settings),
    )


def _viber_webhook_url(settings: Settings) -> str:
    return (settings.webhook_base_url or "").rstrip("/") + settings.viber_webhook_path


async def register_viber(app: Application) -> bool:
    """Set Viber's webhook once; False (and an error in the log) when Viber is unreachable or
    refuses: Telegram goes on working meanwhile."""
    if app.viber is None:
        return True
    try:
        await app.viber.client.set_webhook(_viber_webhook_url(app.settings))
    except Exception as exc:
        logger.error(
            "Viber's webhook could not be set (%s): Telegram works, Viber is retried in the "
            "background",
            describe(exc),
        )
        return False
    return True


async def register_viber_until_done(app: Application) -> None:
    if app.viber is None:
        return
    await until_done(
        "Viber set_webhook",
        partial(app.viber.client.set_webhook, _viber_webhook_url(app.settings)),
        startup_backoff(app.settings, forever=True),
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

    stopper = asyncio.create_task(stop_polling())
    try:
        with suppress(asyncio.CancelledError):
            # One update at a time, each finished before the next getUpdates confirms it:
            # aiogram's default (a task per update) confirms updates before they are handled.
            await app.dispatcher.start_polling(
                app.bot,
                handle_signals=False,
                handle_as_tasks=False,
                allowed_updates=app.dispatcher.resolve_used_update_types(),
            )
    finally:
        stopper.cancel()
