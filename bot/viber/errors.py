"""The one reading of the Viber REST API's errors, for immediate replies and the outbox alike.

Viber answers HTTP 200 with a `status` in the body for every refusal
(developers.viber.com/docs/api/rest-bot-api/#error-codes); the client raises `ViberApiError`
with it, and `ViberTransientError` when no such answer came (network, 5xx, not JSON).
"""

from __future__ import annotations

from enum import IntEnum

from bot.api_errors import Failure, Outcome


class ViberStatus(IntEnum):
    OK = 0
    INVALID_URL = 1
    INVALID_AUTH_TOKEN = 2
    BAD_DATA = 3
    MISSING_DATA = 4
    RECEIVER_NOT_REGISTERED = 5
    RECEIVER_NOT_SUBSCRIBED = 6
    PUBLIC_ACCOUNT_BLOCKED = 7
    PUBLIC_ACCOUNT_NOT_FOUND = 8
    PUBLIC_ACCOUNT_SUSPENDED = 9
    WEBHOOK_NOT_SET = 10
    RECEIVER_NO_SUITABLE_DEVICE = 11
    TOO_MANY_REQUESTS = 12
    API_VERSION_NOT_SUPPORTED = 13
    INCOMPATIBLE_WITH_VERSION = 14
    PUBLIC_ACCOUNT_NOT_AUTHORIZED = 15


class ViberApiError(Exception):
    """Viber answered with a non-zero status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Viber status {status}: {message}")
        self.status = status


class ViberTransientError(Exception):
    """A network error or a 5xx: the same request may succeed later."""


# Viber answers status 12 when a resident got too many messages without replying (about 100
# an hour); it names no wait, so the next message to that resident waits a good while.
TOO_MANY_BACKOFF = 600.0

# The bot's account or token is refused: every resident would get the same answer.
_CREDENTIALS = frozenset(
    {
        ViberStatus.INVALID_AUTH_TOKEN,
        ViberStatus.PUBLIC_ACCOUNT_BLOCKED,
        ViberStatus.PUBLIC_ACCOUNT_NOT_FOUND,
        ViberStatus.PUBLIC_ACCOUNT_SUSPENDED,
        ViberStatus.PUBLIC_ACCOUNT_NOT_AUTHORIZED,
    }
)
# This resident cannot be messaged: gone from Viber, unsubscribed, or no device that can.
_BLOCKED = frozenset(
    {
        ViberStatus.RECEIVER_NOT_REGISTERED,
        ViberStatus.RECEIVER_NOT_SUBSCRIBED,
        ViberStatus.RECEIVER_NO_SUITABLE_DEVICE,
    }
)
# The request itself is wrong: sending it again gives the same answer.
_PERMANENT = frozenset(
    {
        ViberStatus.INVALID_URL,
        ViberStatus.BAD_DATA,
        ViberStatus.MISSING_DATA,
        ViberStatus.API_VERSION_NOT_SUPPORTED,
        ViberStatus.INCOMPATIBLE_WITH_VERSION,
    }
)


def classify(exc: ViberApiError | ViberTransientError) -> Failure:
    """What the refusal of one API call means for that call. Statuses not listed (Viber's
    "generalError" and any it adds) and a webhook not set yet (start-up sets it, and keeps
    trying) may pass: they are retried, within the outbox's attempts."""
    if isinstance(exc, ViberTransientError):
        return Failure(Outcome.RETRY)
    status = exc.status
    if status == ViberStatus.TOO_MANY_REQUESTS:
        return Failure(Outcome.FLOOD_WAIT, TOO_MANY_BACKOFF)
    if status in _CREDENTIALS:
        return Failure(Outcome.CREDENTIALS)
    if status in _BLOCKED:
        return Failure(Outcome.BLOCKED)
    if status in _PERMANENT:
        return Failure(Outcome.PERMANENT)
    return Failure(Outcome.RETRY)
