"""Entry point: load settings, build the application through factories, run it."""

from __future__ import annotations

import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.app import ConfigurationError, build_application, run
from bot.config import Settings
from bot.workers import run_workers


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
