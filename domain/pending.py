"""What the desk is waiting for from one operator about one appeal, and the store that keeps it.

A pending action belongs to its card and its operator: only that operator's reply to the bot's
prompt or to that appeal's card completes it, and it expires. Anything that reaches a resident
(a rejection, a duplicate notice, a completion photo sent without «Done», a message) waits in
a pending action for one confirming tap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PendingKind(StrEnum):
    # The desk asked for something and waits for the operator's reply.
    DONE_PHOTO = "done_photo"
    REJECT_REASON = "reject_reason"
    DUPLICATE_OF = "duplicate_of"
    # An executor asked to send the appeal back to the operators: the reason.
    RETURN_REASON = "return_reason"
    # The desk showed what the resident will get and waits for one tap.
    CONFIRM_REJECT = "confirm_reject"
    CONFIRM_DUPLICATE = "confirm_duplicate"
    CONFIRM_DONE = "confirm_done"
    CONFIRM_RELAY = "confirm_relay"

    @property
    def awaits_reply(self) -> bool:
        return self in _AWAITS_REPLY


_AWAITS_REPLY = frozenset(
    {
        PendingKind.DONE_PHOTO,
        PendingKind.REJECT_REASON,
        PendingKind.DUPLICATE_OF,
        PendingKind.RETURN_REASON,
    }
)


@dataclass(frozen=True, slots=True)
class PendingAction:
    id: int
    # A random word carried by the confirmation buttons, so an old button can never confirm a
    # newer action that happens to get the same id.
    token: str
    chat_id: int
    operator_id: int
    operator_name: str
    appeal_id: int
    kind: PendingKind
    created_at: datetime
    expires_at: datetime
    prompt_message_id: int | None = None
    note: str | None = None
    duplicate_of: int | None = None
    # A photo or video waiting for «mark done»: kind, file reference, unique id.
    media_kind: str | None = None
    media_ref: str | None = None
    media_unique_id: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass(frozen=True, slots=True)
class PendingChange:
    """What to store: the fields of a new pending action, or of one that moves on a step."""

    kind: PendingKind
    expires_at: datetime
    note: str | None = None
    duplicate_of: int | None = None
    media_kind: str | None = None
    media_ref: str | None = None
    media_unique_id: str | None = None


class PendingStore(Protocol):
    """Pending desk actions; one per operator and appeal in a staff chat."""

    async def put(
        self,
        chat_id: int,
        operator_id: int,
        operator_name: str,
        appeal_id: int,
        change: PendingChange,
        now: datetime,
    ) -> PendingAction:
        """Create the operator's pending action on the appeal, replacing an earlier one."""
        ...

    async def get(self, pending_id: int) -> PendingAction | None: ...

    async def of(self, chat_id: int, operator_id: int, appeal_id: int) -> PendingAction | None:
        """The operator's pending action on this appeal, expired or not."""
        ...

    async def by_prompt(self, chat_id: int, message_id: int) -> PendingAction | None:
        """The pending action whose prompt or confirmation is this message."""
        ...

    async def all_of(self, chat_id: int, operator_id: int) -> list[PendingAction]: ...

    async def set_prompt(self, pending_id: int, token: str, message_id: int) -> None:
        """Remember which message asked (a reply to it answers the action)."""
        ...

    async def delete(self, pending_id: int) -> None: ...

    async def expired(self, now: datetime, limit: int = 100) -> list[PendingAction]: ...
