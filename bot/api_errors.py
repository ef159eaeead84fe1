"""What a messenger's refusal means for the call that got it, in words both channels share.

Each channel has one classifier (`bot.telegram.errors`, `bot.viber.errors`) that turns its API's
errors into a `Failure`; the immediate replies and the outbox transports both ask it, so a
status cannot mean "try again" on one path and "give up" on the other. What each path then
does differs on purpose (an immediate reply waits at most seconds, the outbox hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    # The same call may succeed later: 5xx, network trouble, an answer that is not JSON.
    RETRY = "retry"
    # The platform asked us to slow down; `Failure.retry_after` says for how long.
    FLOOD_WAIT = "flood_wait"
    # The bot itself is refused (token revoked or rotated, account blocked): every call of the
    # channel fails the same way until an admin acts, so no single chat is at fault.
    CREDENTIALS = "credentials"
    # This chat takes no messages from the bot any more (blocked, unsubscribed, deactivated).
    BLOCKED = "blocked"
    # The forum topic the call was sent into was deleted.
    TOPIC_GONE = "topic_gone"
    # The message the call edits was deleted.
    MESSAGE_GONE = "message_gone"
    # An edit to what the message already shows: nothing was wrong, nothing to do.
    NOT_MODIFIED = "not_modified"
    # The same call fails the same way every time (bad request, too large, wrong chat).
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: Outcome
    # For FLOOD_WAIT: the seconds to wait before the next call to the chat.
    retry_after: float | None = None
