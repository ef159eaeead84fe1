"""Wiring the Telegram channel: the bot, its dispatcher (middlewares in their order, the
routers), the staff chat's desk, and the webhook's registration."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.methods import SendMessage
from aiogram.types import Chat, ErrorEvent
from redis.asyncio import Redis

from bot.appointments import create_appointment_config
from bot.config import URL_SCHEMES, ConfigurationError, Settings
from bot.durable import DurableReplies
from bot.faults import Fault, classify, describe
from bot.limits import RateLimiter
from bot.startup import startup_backoff, telegram_call
from bot.telegram.delivery import send
from bot.telegram.executor_gate import ExecutorGateMiddleware
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
from bot.telegram.webhook import update_kind
from domain.clock import Clock
from domain.departments import load_departments
from domain.dialog.core import Dialog
from domain.i18n import Translator, gettext
from domain.lifecycle import LifecycleConfig
from handlers import appointments as appointment_handlers
from handlers import calls, resident
from handlers import executors as executor_handlers
from handlers import staff as staff_handlers
from storage.uow import UnitOfWorkFactory

if TYPE_CHECKING:
    from bot.app import Application

logger = logging.getLogger(__name__)


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
    executors: executor_handlers.ExecutorRuntime | None = None,
) -> Dispatcher:
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, disable_fsm=True)
    dispatcher["dialog"] = dialog
    if staff is not None:
        dispatcher["staff"] = staff
    if executors is not None:
        dispatcher["executors"] = executors
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
    if executors is not None:
        dispatcher.update.outer_middleware(ExecutorGateMiddleware(executors.chats))
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(uows, dialog, clock, limiter, durable))
    if staff is not None:
        # First, so that staff buttons pressed anywhere get the operators' check; /call
        # before the staff router, which takes every other command in the staff chat.
        dispatcher.include_router(calls.create_router())
        dispatcher.include_router(appointment_handlers.create_router())
        dispatcher.include_router(staff_handlers.create_router())
    if executors is not None:
        dispatcher.include_router(executor_handlers.create_router())
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


def create_executors(
    settings: Settings,
    translator: Translator,
    clock: Clock,
    lifecycle: LifecycleConfig,
    uows: UnitOfWorkFactory,
    redis: Redis | None,
) -> executor_handlers.ExecutorRuntime | None:
    """The departments' executors' chats, when the departments file gives any."""
    chat_ids = [d.chat_id for d in load_departments(settings.departments_file) if d.chat_id]
    if not chat_ids:
        return None
    chats: dict[int, StaffMembership] = {}
    for chat_id in chat_ids:
        cache: MembershipCache = (
            RedisMembershipCache(redis, settings.redis_prefix, chat_id)
            if redis is not None
            else MemoryMembershipCache()
        )
        chats[chat_id] = StaffMembership(chat_id, cache)
    return executor_handlers.ExecutorRuntime(
        locale=settings.default_locale,
        translator=translator,
        clock=clock,
        lifecycle=lifecycle,
        chats=chats,
        uows=uows,
        pending_ttl=timedelta(minutes=settings.staff_pending_minutes),
    )


def webhook_url(settings: Settings) -> str:
    base = (settings.webhook_base_url or "").rstrip("/")
    return base + settings.webhook_path


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
