"""Entry point: load settings, build the application through factories, run it."""

from __future__ import annotations

import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.app import ConfigurationError, build_application, run
from bot.config import Settings
from bot.workers import run_workers
from sandbox.web import serve as serve_sandbox


async def _main(settings: Settings) -> None:
    app = build_application(settings)
    try:
        await run(app)
    finally:
        await app.close()


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings()
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
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"Invalid settings: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
