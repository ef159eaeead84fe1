"""One reading of each messenger's errors, and both paths that send acting on it alike."""

from __future__ import annotations

from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    RestartingTelegram,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod

from bot.api_errors import Failure, Outcome
from bot.faults import Fault
from bot.faults import classify as classify_fault
from bot.limits import MemoryRateLimiter, Taken
from bot.media import MediaStore
from bot.outbox.sender import (
    CredentialsRefused,
    PermanentFailure,
    RateLimited,
    RetryLater,
)
from bot.telegram import errors as telegram_errors
from bot.telegram.delivery import PendingCalls
from bot.telegram.outbox import AlreadyShown, Blocked, MessageGone, TelegramTransport
from bot.viber import errors as viber_errors
from bot.viber.client import ViberClient
from bot.viber.errors import ViberApiError, ViberStatus, ViberTransientError
from bot.viber.transport import ViberReplies
from domain.dialog.replies import Reply
from domain.i18n import Translator

SEND = SendMessage(chat_id=1, text="hi")
EDIT = EditMessageText(chat_id=1, message_id=5, text="hi")
IN_TOPIC = SendMessage(chat_id=-100, text="hi", message_thread_id=7)


def bad_request(text: str) -> TelegramBadRequest:
    return TelegramBadRequest(SEND, f"Bad Request: {text}")


TELEGRAM_CASES: list[tuple[Exception, Failure]] = [
    (TelegramRetryAfter(SEND, "Too Many Requests", 17), Failure(Outcome.FLOOD_WAIT, 17.0)),
    (TelegramServerError(SEND, "Internal Server Error"), Failure(Outcome.RETRY)),
    (RestartingTelegram(SEND, "Restarting"), Failure(Outcome.RETRY)),
    (TelegramNetworkError(SEND, "connection reset"), Failure(Outcome.RETRY)),
    (ClientDecodeError("not JSON", ValueError("x"), "<html>"), Failure(Outcome.RETRY)),
    # A NetworkError by aiogram's hierarchy, yet the same file is too big every time.
    (TelegramEntityTooLarge(SEND, "Request Entity Too Large"), Failure(Outcome.PERMANENT)),
    (TelegramUnauthorizedError(SEND, "Unauthorized"), Failure(Outcome.CREDENTIALS)),
    (TelegramNotFound(SEND, "Not Found"), Failure(Outcome.CREDENTIALS)),
    (
        TelegramForbiddenError(SEND, "Forbidden: bot was blocked by the user"),
        Failure(Outcome.BLOCKED),
    ),
    (TelegramForbiddenError(SEND, "Forbidden: user is deactivated"), Failure(Outcome.BLOCKED)),
    (
        TelegramForbiddenError(SEND, "Forbidden: bot was kicked from the group chat"),
        Failure(Outcome.BLOCKED),
    ),
    (bad_request("message thread not found"), Failure(Outcome.TOPIC_GONE)),
    (bad_request("message to edit not found"), Failure(Outcome.MESSAGE_GONE)),
    (
        bad_request(
            "message is not modified: specified new message content and reply "
            "markup are exactly the same"
        ),
        Failure(Outcome.NOT_MODIFIED),
    ),
    (bad_request("chat not found"), Failure(Outcome.PERMANENT)),
    (TelegramMigrateToChat(SEND, "migrated", -1001), Failure(Outcome.PERMANENT)),
    (TelegramConflictError(SEND, "Conflict"), Failure(Outcome.PERMANENT)),
    (TelegramAPIError(SEND, "I'm a teapot"), Failure(Outcome.PERMANENT)),
]


@pytest.mark.parametrize(("exc", "expected"), TELEGRAM_CASES, ids=lambda v: type(v).__name__)
def test_telegram_classifier(exc: TelegramAPIError | ClientDecodeError, expected: Failure) -> None:
    assert telegram_errors.classify(exc) == expected


VIBER_CASES: list[tuple[Exception, Failure]] = [
    (ViberTransientError("HTTP 502"), Failure(Outcome.RETRY)),
    (
        ViberApiError(ViberStatus.TOO_MANY_REQUESTS, "tooManyRequests"),
        Failure(Outcome.FLOOD_WAIT, viber_errors.TOO_MANY_BACKOFF),
    ),
    *(
        (ViberApiError(status, status.name), Failure(Outcome.CREDENTIALS))
        for status in (
            ViberStatus.INVALID_AUTH_TOKEN,
            ViberStatus.PUBLIC_ACCOUNT_BLOCKED,
            ViberStatus.PUBLIC_ACCOUNT_NOT_FOUND,
            ViberStatus.PUBLIC_ACCOUNT_SUSPENDED,
            ViberStatus.PUBLIC_ACCOUNT_NOT_AUTHORIZED,
        )
    ),
    *(
        (ViberApiError(status, status.name), Failure(Outcome.BLOCKED))
        for status in (
            ViberStatus.RECEIVER_NOT_REGISTERED,
            ViberStatus.RECEIVER_NOT_SUBSCRIBED,
            ViberStatus.RECEIVER_NO_SUITABLE_DEVICE,
        )
    ),
    *(
        (ViberApiError(status, status.name), Failure(Outcome.PERMANENT))
        for status in (
            ViberStatus.INVALID_URL,
            ViberStatus.BAD_DATA,
            ViberStatus.MISSING_DATA,
            ViberStatus.API_VERSION_NOT_SUPPORTED,
            ViberStatus.INCOMPATIBLE_WITH_VERSION,
        )
    ),
    # Start-up keeps setting the webhook; "generalError" and statuses Viber adds may pass.
    (ViberApiError(ViberStatus.WEBHOOK_NOT_SET, "webhookNotSet"), Failure(Outcome.RETRY)),
    (ViberApiError(-1, "generalError"), Failure(Outcome.RETRY)),
]


@pytest.mark.parametrize(("exc", "expected"), VIBER_CASES, ids=str)
def test_viber_classifier(exc: ViberApiError | ViberTransientError, expected: Failure) -> None:
    assert viber_errors.classify(exc) == expected


# -- the paths that send --------------------------------------------------------------------


class RefusingBot:
    """Answers each call with the next of `answers`: an exception is raised, else returned."""

    token = "123:secret"

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[TelegramMethod[Any]] = []

    async def __call__(self, method: TelegramMethod[Any]) -> object:
        self.calls.append(method)
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_an_edit_that_changes_nothing_is_done_without_its_fallback() -> None:
    bot = RefusingBot(bad_request("message is not modified"))
    pending = PendingCalls()
    pending.add_or(EDIT, [SEND])
    assert await pending.flush(cast(Bot, bot)) == []
    assert bot.calls == [EDIT]


async def test_an_edit_of_a_deleted_message_sends_the_fallback() -> None:
    bot = RefusingBot(bad_request("message to edit not found"))
    pending = PendingCalls()
    pending.add_or(EDIT, [SEND])
    await pending.flush(cast(Bot, bot))
    assert bot.calls == [EDIT, SEND]


@pytest.mark.parametrize(
    "refusal",
    [
        TelegramUnauthorizedError(SEND, "Unauthorized"),
        TelegramEntityTooLarge(SEND, "Request Entity Too Large"),
        TelegramForbiddenError(SEND, "Forbidden: bot was blocked by the user"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_an_immediate_reply_gives_up_at_once_on_what_cannot_pass(
    refusal: Exception,
) -> None:
    """Tried once and reported unsent; a refused token no longer escapes after the commit."""
    bot = RefusingBot(refusal)
    pending = PendingCalls()
    pending.add(SEND)
    assert await pending.flush(cast(Bot, bot)) == []
    assert bot.calls == [SEND]


async def test_an_immediate_reply_is_tried_again_after_a_5xx() -> None:
    bot = RefusingBot(TelegramServerError(SEND, "Bad Gateway"))
    pending = PendingCalls()
    pending.add(SEND)
    await pending.flush(cast(Bot, bot))
    assert bot.calls == [SEND, SEND]


class CountingLimiter:
    """Takes every send; counts those asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def reserve(self, chat_key: str, *, group: bool) -> float:
        self.asked.append(chat_key)
        return 0.0

    async def pause(self, chat_key: str | None, seconds: float) -> None:
        return None


async def test_a_send_taken_ahead_is_not_asked_for_again_but_a_retry_is() -> None:
    """The first call's send was taken with the dialog's write (bot.limits `Taken`), the
    second's was not: only the second asks; a retry after a 5xx asks as any send does."""
    limiter = CountingLimiter()
    pending = PendingCalls()
    pending.add(SEND, SEND)
    taken = Taken(2)
    taken.sends[0] = True
    await pending.flush(cast(Bot, RefusingBot()), limiter, max_wait=1.0, taken=taken)
    assert limiter.asked == [f"tg:{SEND.chat_id}"]
    retried = PendingCalls()
    retried.add(SEND)
    taken.sends[0] = True
    bot = RefusingBot(TelegramServerError(SEND, "Bad Gateway"))
    limiter.asked.clear()
    await retried.flush(cast(Bot, bot), limiter, max_wait=1.0, taken=taken)
    assert bot.calls == [SEND, SEND] and limiter.asked == [f"tg:{SEND.chat_id}"]


def transport(bot: RefusingBot, tmp_path: Any) -> TelegramTransport:
    return TelegramTransport(
        cast(Bot, bot),
        uows=cast(Any, None),  # no call below reaches the database
        translator=cast(Translator, None),
        clock=cast(Any, None),
        staff_chat_id=-100,
        staff_locale="en",
        timezone=ZoneInfo("UTC"),
        media=MediaStore(tmp_path, max_bytes=1, public_base=None),
    )


async def _open_gate() -> None:
    return None


@pytest.mark.parametrize(
    ("refusal", "method", "raised"),
    [
        (TelegramRetryAfter(SEND, "Too Many Requests", 9), SEND, RateLimited),
        (TelegramServerError(SEND, "Bad Gateway"), SEND, RetryLater),
        (ClientDecodeError("not JSON", ValueError("x"), "<html>"), SEND, RetryLater),
        (TelegramEntityTooLarge(SEND, "Request Entity Too Large"), SEND, PermanentFailure),
        (TelegramNotFound(SEND, "Not Found"), SEND, CredentialsRefused),
        (TelegramForbiddenError(SEND, "Forbidden: user is deactivated"), SEND, Blocked),
        (bad_request("message thread not found"), IN_TOPIC, MessageGone),
        # A thread error on a call sent into no topic is no topic of ours that went.
        (bad_request("message thread not found"), SEND, PermanentFailure),
        (bad_request("message to edit not found"), EDIT, MessageGone),
        (bad_request("message is not modified"), EDIT, AlreadyShown),
        (TelegramMigrateToChat(SEND, "migrated", -1001), SEND, PermanentFailure),
    ],
    ids=lambda v: type(v).__name__,
)
async def test_the_outbox_reads_telegram_the_same_way(
    refusal: Exception, method: TelegramMethod[Any], raised: type[Exception], tmp_path: Any
) -> None:
    bot = RefusingBot(refusal)
    with pytest.raises(raised) as caught:
        await transport(bot, tmp_path)._call(method, _open_gate)
    assert type(caught.value) is raised
    assert "secret" not in str(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.seconds == 9.0


class RefusingViber:
    def __init__(self, *answers: Exception) -> None:
        self.answers = list(answers)
        self.sent = 0

    async def send(self, receiver: str, message: dict[str, Any]) -> dict[str, Any]:
        self.sent += 1
        if self.answers:
            raise self.answers.pop(0)
        return {"status": 0}


@pytest.mark.parametrize(
    ("refusals", "tries"),
    [
        ((ViberTransientError("HTTP 503"),), 2),
        ((ViberApiError(-1, "generalError"),), 2),
        ((ViberApiError(ViberStatus.RECEIVER_NOT_SUBSCRIBED, "notSubscribed"),), 1),
        ((ViberApiError(ViberStatus.TOO_MANY_REQUESTS, "tooManyRequests"),), 1),
        ((ViberApiError(ViberStatus.INVALID_AUTH_TOKEN, "invalidAuthToken"),), 1),
    ],
    ids=str,
)
async def test_an_immediate_viber_reply_retries_only_what_may_pass(
    refusals: tuple[Exception, ...], tries: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_sleep(_seconds: float) -> None:
        return None

    monkeypatch.setattr("bot.viber.transport.asyncio.sleep", no_sleep)
    client = RefusingViber(*refusals)
    replies = ViberReplies(
        cast(ViberClient, client),
        MediaStore(tmp_path, max_bytes=1, public_base=None),
        MemoryRateLimiter(),
    )
    assert await replies.send("u1", [Reply("hi")]) is None
    assert client.sent == tries


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (TelegramServerError(SEND, "Bad Gateway"), Fault.TRANSIENT),
        (TelegramRetryAfter(SEND, "Too Many Requests", 3), Fault.TRANSIENT),
        (TelegramUnauthorizedError(SEND, "Unauthorized"), Fault.TRANSIENT),
        # A NetworkError by type: an update failing on it would be retried for a day.
        (TelegramEntityTooLarge(SEND, "Request Entity Too Large"), Fault.PERMANENT),
        (TelegramForbiddenError(SEND, "Forbidden: bot was blocked by the user"), Fault.PERMANENT),
        (TelegramMigrateToChat(SEND, "migrated", -1001), Fault.PERMANENT),
        (ViberTransientError("HTTP 503"), Fault.TRANSIENT),
        (ViberApiError(ViberStatus.BAD_DATA, "badData"), Fault.PERMANENT),
        (ViberApiError(ViberStatus.INVALID_AUTH_TOKEN, "invalidAuthToken"), Fault.TRANSIENT),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_failed_update_is_retried_exactly_when_its_api_error_may_pass(
    exc: Exception, fault: Fault
) -> None:
    """The update-level question (answer 5xx, retry in polling) agrees with the channel's
    classifier, also when the API error is the cause of another."""
    assert classify_fault(exc) is fault
    wrapper = ValueError("while handling the update")
    wrapper.__cause__ = exc
    assert classify_fault(wrapper) is fault
