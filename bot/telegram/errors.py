"""The one reading of the Bot API's errors, for immediate replies and the outbox alike.

aiogram maps the HTTP answer onto exception types (aiogram.client.session.base): 429 carries
`retry_after`, 401 and 404 mean the token is refused (404 is what Telegram answers for an
unknown token), 403 a chat that takes nothing from the bot, 400 a request that is wrong, with
three wordings that mean "the target is gone" or "already so" rather than "wrong".
"""

from __future__ import annotations

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.api_errors import Failure, Outcome

# Telegram's wording for a deleted forum topic, a deleted message we edit, and an edit that
# changes nothing.
THREAD_GONE = "message thread not found"
EDIT_TARGET_GONE = "message to edit not found"
NOT_MODIFIED = "message is not modified"

# The exceptions `classify` knows; anything else is not a refusal of the API.
API_ERRORS: tuple[type[TelegramAPIError], type[ClientDecodeError]] = (
    TelegramAPIError,
    ClientDecodeError,
)


def classify(exc: TelegramAPIError | ClientDecodeError) -> Failure:
    """What the refusal of one Bot API call means for that call."""
    match exc:
        case TelegramRetryAfter():
            return Failure(Outcome.FLOOD_WAIT, float(exc.retry_after))
        # Before TelegramNetworkError, its base: a file over the upload limit stays too big.
        case TelegramEntityTooLarge():
            return Failure(Outcome.PERMANENT)
        # RestartingTelegram is a TelegramServerError; a garbled answer (a proxy's error page)
        # is no answer from Telegram at all.
        case TelegramServerError() | TelegramNetworkError() | ClientDecodeError():
            return Failure(Outcome.RETRY)
        case TelegramUnauthorizedError() | TelegramNotFound():
            return Failure(Outcome.CREDENTIALS)
        # "bot was blocked by the user", "user is deactivated", "bot was kicked from the
        # group chat", "bot can't initiate conversation": no call to this chat will go through.
        case TelegramForbiddenError():
            return Failure(Outcome.BLOCKED)
        case TelegramBadRequest() if THREAD_GONE in exc.message:
            return Failure(Outcome.TOPIC_GONE)
        case TelegramBadRequest() if EDIT_TARGET_GONE in exc.message:
            return Failure(Outcome.MESSAGE_GONE)
        case TelegramBadRequest() if NOT_MODIFIED in exc.message:
            return Failure(Outcome.NOT_MODIFIED)
        # A group that became a supergroup has a new id: the setting must change, not the call
        # be repeated. A 409 or any other 4xx is as final as a 400.
        case TelegramMigrateToChat() | TelegramBadRequest() | TelegramAPIError():
            return Failure(Outcome.PERMANENT)
    return Failure(Outcome.PERMANENT)
