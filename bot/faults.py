"""Which failures are worth another try, and how to name one in a log without leaking data.

A platform that gets a 5xx delivers the update again (Telegram for a day, Viber for an hour),
so the question for every failed update is: would the same update succeed later? Storage,
Redis and network trouble will pass; a bug in our code or a malformed update will not, and
answering 5xx for those would only repeat the failure (and block the platform's queue).
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

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
    redis-py 8 does so when the cancellation lands inside a command: a loop that logs
    failures and goes on would then never stop, and shutdown would wait for it forever. Call
    it in every `except Exception` of a loop that runs until cancelled, and after its Redis
    calls."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
