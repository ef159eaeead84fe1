"""Which failures are worth another try, and how to name one in a log without leaking data.

A platform that gets a 5xx delivers the update again (Telegram for a day, Viber for an hour),
so the question for every failed update is: would the same update succeed later? Storage,
Redis and network trouble will pass; a bug in our code or a malformed update will not, and
answering 5xx for those would only repeat the failure (and block the platform's queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import (
    TimeoutError as PoolTimeoutError,
)

from bot.api_errors import Outcome
from bot.telegram import errors as telegram_errors
from bot.viber import errors as viber_errors

logger = logging.getLogger(__name__)

# Checked first: these pass, whatever else they also are (a TimeoutError is an OSError).
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections, DNS, timeouts
    RedisError,
    OperationalError,
    InterfaceError,
    InternalError,
    DisconnectionError,
    PoolTimeoutError,
)
# Known to fail the same way every time: our bugs, bad data.
_PERMANENT: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    AssertionError,
    NotImplementedError,
    ArithmeticError,
    RecursionError,
    IntegrityError,
    DataError,
    ProgrammingError,
)


class Fault(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


# What a messenger's refusal means for the update that got it: the same refusal may pass
# (a 5xx, a flood wait, a token being rotated) or will not (the chat is gone, the request is
# wrong). Each channel's classifier decides, so this agrees with the replies and the outbox.
_API_FAULTS = {
    Outcome.RETRY: Fault.TRANSIENT,
    Outcome.FLOOD_WAIT: Fault.TRANSIENT,
    Outcome.CREDENTIALS: Fault.TRANSIENT,
    Outcome.BLOCKED: Fault.PERMANENT,
    Outcome.TOPIC_GONE: Fault.PERMANENT,
    Outcome.MESSAGE_GONE: Fault.PERMANENT,
    Outcome.NOT_MODIFIED: Fault.PERMANENT,
    Outcome.PERMANENT: Fault.PERMANENT,
}


def _api_fault(exc: BaseException) -> Fault | None:
    """The fault of a messenger API error, None for anything else."""
    if isinstance(exc, telegram_errors.API_ERRORS):
        return _API_FAULTS[telegram_errors.classify(exc).outcome]
    if isinstance(exc, viber_errors.ViberApiError | viber_errors.ViberTransientError):
        return _API_FAULTS[viber_errors.classify(exc).outcome]
    return None


def classify(exc: BaseException) -> Fault:
    """Transient unless known to be permanent; the chain of causes is looked at too, because
    libraries wrap (SQLAlchemy wraps the driver's error, aiogram wraps aiohttp's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        fault = _api_fault(current)
        if fault is Fault.TRANSIENT or (fault is None and isinstance(current, _TRANSIENT)):
            return Fault.TRANSIENT
        current = current.__cause__ or current.__context__
    fault = _api_fault(exc)
    if fault is not None:
        return fault
    return Fault.PERMANENT if isinstance(exc, _PERMANENT) else Fault.TRANSIENT


def describe(exc: BaseException, *, limit: int = 300) -> str:
    """`Type: message`, cut short: enough to act on, never a whole request or row."""
    message = " ".join(str(exc).split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def stop_if_cancelled() -> None:
    """Re-raise a cancellation that a client swallowed or turned into an error of its own.
    redis-py 8 does so when the cancellation lands inside a command, and Python 3.11's
    `asyncio.wait_for` (also inside SQLAlchemy's pool) returns normally when its awaitable
    finishes in the same turn as the cancellation: a loop that goes on would then never stop,
    and shutdown would wait for it forever. Call it in every `except Exception` of a loop
    that runs until cancelled, after its Redis calls, and at the top of each round."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop_tasks(tasks: Sequence[asyncio.Task[Any]], *, again_after: float = 1.0) -> None:
    """Cancel the tasks and wait until all have ended. A task that is still running after
    `again_after` seconds swallowed its cancellation somewhere `stop_if_cancelled` does not
    look: it is logged and cancelled again, rather than holding the shutdown forever."""
    running = {task for task in tasks if not task.done()}
    for task in running:
        task.cancel()
    while running:
        _done, running = await asyncio.wait(running, timeout=again_after)
        for task in running:
            logger.warning("task %s did not stop when cancelled: again", task.get_name())
            task.cancel()
    for task in tasks:
        failed = None if task.cancelled() else task.exception()
        if failed is not None:
            logger.error("task %s had failed: %s", task.get_name(), describe(failed))
