"""Several webhook workers behind one address (WEB_WORKERS=N, SO_REUSEPORT).

The parent prepares once (categories, commands), starts N worker processes that share the port
(the kernel spreads connections between them), registers the webhooks when all of them listen,
and stops them on SIGTERM or Ctrl-C. The workers share PostgreSQL and Redis: Redis serialises a
resident's updates whichever worker gets them, and one elected worker delivers the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
from multiprocessing.synchronize import Event as ProcessEvent
from types import FrameType

from bot.app import build_application, prepare
from bot.config import ConfigurationError, Settings
from bot.logs import configure_logging, settle_heap
from bot.telegram.setup import register_telegram
from bot.viber.setup import register_viber, register_viber_until_done
from bot.web import serving
from storage.database import is_sqlite

logger = logging.getLogger(__name__)
READY_TIMEOUT = 60.0


def check(settings: Settings) -> None:
    if not settings.webhook_mode:
        raise ConfigurationError(
            "WEB_WORKERS > 1 needs webhook mode (WEBHOOK_BASE_URL): Telegram allows only one "
            "long-polling process per bot."
        )
    if is_sqlite(settings.database_url) or not settings.redis_url:
        raise ConfigurationError(
            "WEB_WORKERS > 1 needs DATABASE_URL on PostgreSQL and REDIS_URL: workers must "
            "share the database, dialog state and per-resident ordering."
        )


def _configure_logging() -> None:
    configure_logging("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")


async def _serve(settings: Settings, ready: ProcessEvent) -> None:
    app = build_application(settings)
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        app.start_background()
        async with serving(
            app, settings.web_host, settings.web_port, register=False, reuse_port=True
        ):
            ready.set()
            await stop.wait()
    finally:
        await app.close()


def worker(ready: ProcessEvent) -> None:
    """A worker process: serve webhooks until told to stop."""
    _configure_logging()
    asyncio.run(_serve(Settings(), ready))


async def _prepare(settings: Settings) -> None:
    app = build_application(settings)
    try:
        await prepare(app)
    finally:
        await app.close()


async def _register(settings: Settings) -> bool:
    """Telegram's webhook (start-up fails without it); True when Viber's was set too."""
    app = build_application(settings)
    try:
        await register_telegram(app)
        return await register_viber(app)
    finally:
        await app.close()


async def _register_viber_until_done(settings: Settings) -> None:
    app = build_application(settings)
    try:
        await register_viber_until_done(app)
    finally:
        await app.close()


def run_workers(settings: Settings) -> int:
    """Start settings.web_workers workers and wait for them; the exit code of the group."""
    check(settings)
    asyncio.run(_prepare(settings))
    context = multiprocessing.get_context("spawn")
    readiness = [context.Event() for _ in range(settings.web_workers)]
    processes = [
        context.Process(target=worker, args=(ready,), name=f"webhook-worker-{index}")
        for index, ready in enumerate(readiness)
    ]
    for process in processes:
        process.start()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not all(ready.wait(READY_TIMEOUT) for ready in readiness):
        stop(signal.SIGTERM, None)
        raise ConfigurationError("the webhook workers did not start listening in time")
    if not asyncio.run(_register(settings)):
        # Viber is down: the workers serve Telegram; keep trying Viber beside them.
        threading.Thread(
            target=asyncio.run,
            args=(_register_viber_until_done(settings),),
            name="viber-webhook",
            daemon=True,
        ).start()
    logger.info(
        "%d workers listening on %s:%d", len(processes), settings.web_host, settings.web_port
    )
    for process in processes:
        process.join()
    return max((process.exitcode or 0) for process in processes)
