"""Start-up calls to the platforms, retried with backoff: a Bot API that is down for a minute
must not stop the bot, and Viber being down must not take Telegram with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.api_errors import Outcome
from bot.config import Settings
from bot.faults import Fault, classify, describe, stop_if_cancelled
from bot.telegram.errors import API_ERRORS
from bot.telegram.errors import classify as api_error

logger = logging.getLogger(__name__)
T = TypeVar("T")


class StartupError(Exception):
    """Start-up cannot go on; the message is one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 1.0
    cap: float = 30.0
    # Give up after this long (None: never, for background retries).
    within: float | None = 300.0


async def telegram_call(what: str, call: Callable[[], Awaitable[T]], backoff: Backoff) -> T:
    """A start-up Bot API call, retried while the failure may pass; a refused token or a
    request Telegram rejects stops start-up with one sentence at once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    delay = backoff.first
    while True:
        try:
            return await call()
        except Exception as exc:
            stop_if_cancelled()
            if isinstance(exc, API_ERRORS) and api_error(exc).outcome is Outcome.CREDENTIALS:
                raise StartupError(
                    f"Telegram refused the bot token ({what}: {type(exc).__name__}): check "
                    "TELEGRAM_BOT_TOKEN (and TELEGRAM_API_URL if you set it)."
                ) from exc
            if classify(exc) is Fault.PERMANENT:
                raise StartupError(f"Telegram refused {what}: {describe(exc)}.") from exc
            waited = loop.time() - started
            if backoff.within is not None and waited + delay > backoff.within:
                raise StartupError(
                    f"Telegram did not answer {what} for {waited:.0f} s ({describe(exc)}): "
                    "check the network and TELEGRAM_API_URL."
                ) from exc
            logger.warning("%s failed (%s); retrying in %.1f s", what, describe(exc), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff.cap)


async def until_done(what: str, call: Callable[[], Awaitable[None]], backoff: Backoff) -> None:
    """Keep trying `call` in the background until it succeeds (or the task is cancelled)."""
    delay = backoff.first
    while True:
        try:
            await call()
        except Exception as exc:
            stop_if_cancelled()
            logger.warning("%s failed (%s); retrying in %.1f s", what, describe(exc), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff.cap)
        else:
            logger.info("%s done", what)
            return


def startup_backoff(settings: Settings, *, forever: bool = False) -> Backoff:
    return Backoff(
        first=settings.startup_backoff_seconds,
        within=None if forever else settings.startup_retry_seconds,
    )
