"""Which failures are worth another try, and how to name one in a log without leaking data.

A platform that gets a 5xx delivers the update again (Telegram for a day, Viber for an hour),
so the question for every failed update is: would the same update succeed later? Storage,
Redis and network trouble will pass; a bug in our code or a malformed update will not, and
answering 5xx for those would only repeat the failure (and block the platform's queue).
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
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

# Checked first: these pass, whatever else they also are (a TimeoutError is an OSError).
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections, DNS, timeouts
    RedisError,
    OperationalError,
    InterfaceError,
    InternalError,
    DisconnectionError,
    PoolTimeoutError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
)
# Known to fail the same way every time: our bugs, bad data, a request Telegram refuses.
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
    TelegramBadRequest,
    TelegramForbiddenError,
)


class Fault(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


def classify(exc: BaseException) -> Fault:
    """Transient unless known to be permanent; the chain of causes is looked at too, because
    libraries wrap (SQLAlchemy wraps the driver's error, aiogram wraps aiohttp's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT):
            return Fault.TRANSIENT
        current = current.__cause__ or current.__context__
    return Fault.PERMANENT if isinstance(exc, _PERMANENT) else Fault.TRANSIENT


def describe(exc: BaseException, *, limit: int = 300) -> str:
    """`Type: message`, cut short: enough to act on, never a whole request or row."""
    message = " ".join(str(exc).split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
