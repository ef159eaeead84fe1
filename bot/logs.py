"""How a bot process starts: our own records logged at INFO, nothing per update from
libraries, and the start-up heap kept out of the garbage collector's way."""

from __future__ import annotations

import gc
import logging

# Written once per handled update (aiogram's "Update id=... is handled", aiohttp's access
# line): under load, formatting and writing them cost a few percent of the bot's CPU and
# they say nothing an operator acts on. Failures still come through at WARNING and above.
PER_UPDATE_LOGGERS = ("aiogram.event", "aiohttp.access")


def configure_logging(fmt: str) -> None:
    logging.basicConfig(level=logging.INFO, format=fmt)
    for name in PER_UPDATE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def settle_heap() -> None:
    """Once per process, after the application is built: what start-up made (modules, classes,
    SQLAlchemy's mappers, aiogram's types) lives as long as the process, and the collector's
    full passes walked all of it again and again under load. Frozen, they skip it. Not for
    processes that build many applications (tests): frozen objects are never collected.

    The collector then runs less often than Python's default (700, 10, 10). Under a burst
    the default ran a young pass every 700 objects and a full pass every 70,000, and each
    full pass walked every update in flight; with these, 200 residents' burst on
    PostgreSQL cost about 8% less CPU per update (README, "Benchmark"). Most objects die
    young by their reference count, so larger young passes find no more to do; cycles are
    still collected, a full pass some ten million objects apart."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


# The collector's thresholds after start-up (`settle_heap`).
COLLECTOR_THRESHOLDS = (10_000, 20, 50)
