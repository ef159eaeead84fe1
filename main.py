"""Entry point: load settings, build the application through factories, run it."""

from __future__ import annotations

import asyncio
import signal
import sys

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from bot.app import ConfigurationError, build_application, run
from bot.config import Settings
from bot.faults import describe
from bot.logs import configure_logging, settle_heap
from bot.redact import Redactor, redact_logs
from bot.startup import StartupError
from bot.workers import run_workers
from sandbox.web import serve as serve_sandbox
from storage.database import DatabasePathError


async def _main(settings: Settings) -> None:
    """Run until SIGTERM or Ctrl-C, then stop taking updates, finish those in hand, and exit
    within SHUTDOWN_TIMEOUT_SECONDS (plus a little to close)."""
    app = build_application(settings)
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run(app, stop)
    finally:
        async with asyncio.timeout(settings.shutdown_timeout_seconds + 5):
            await app.close()


def _secrets(settings: Settings) -> list[str | None]:
    return [
        secret.get_secret_value() if secret is not None else None
        for secret in (
            settings.telegram_bot_token,
            settings.viber_auth_token,
            settings.webhook_secret,
        )
    ]


def main() -> int:
    configure_logging("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        redact_logs(Redactor(_secrets(settings)))
        if (
            settings.telegram_bot_token is None
            or not settings.telegram_bot_token.get_secret_value()
        ):
            # No bot yet: the sandbox, the real bot against the stand-ins (README, first screen).
            asyncio.run(serve_sandbox(settings))
            return 0
        if settings.web_workers > 1:
            return run_workers(settings)
        asyncio.run(_main(settings))
    except (ConfigurationError, StartupError, DatabasePathError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except OperationalError as exc:
        # The database refused at start-up (a read-only file, PostgreSQL down): one sentence.
        print(f"The database cannot be used: {describe(exc.orig or exc)}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"Invalid settings: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
