"""What repositories hand to services and the dialog: plain frozen data, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.dialog.events import Channel, MediaKind
from domain.statuses import Status


class AppealChannel(StrEnum):
    """How an appeal came: through a messenger, or by phone (an operator filed it)."""

    TELEGRAM = "telegram"
    VIBER = "viber"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    channel: Channel
    external_id: str
    resident_id: int | None
    locale: str | None
    phone: str | None = None
    # True only when the platform vouched for the number (Telegram's own contact).
    phone_verified: bool = False

    @property
    def registered(self) -> bool:
        return self.resident_id is not None


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: int
    code: str
    names: dict[str, str]
    sla_hours: int
    department: str
    parent_id: int | None
    has_children: bool
    urgent: bool = False
    department_en: str | None = None

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("uk") or self.code


@dataclass(frozen=True, slots=True)
class NewMedia:
    kind: MediaKind
    channel: Channel
    file_ref: str
    unique_id: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    kind: str
    actor_kind: str
    actor_name: str | None
    from_status: Status | None
    to_status: Status | None
    note: str | None


@dataclass(frozen=True, slots=True)
class AppealSummary:
    id: int
    number: str
    status: Status
    category_names: dict[str, str]
    created_at: datetime
    due_at: datetime
    # Where: a typed address, a pin, or both (a phone appeal); shown in «My appeals» rows.
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class AppealDetail:
    summary: AppealSummary
    parent_category_names: dict[str, str] | None
    address: str | None
    latitude: float | None
    longitude: float | None
    description: str
    media_count: int
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True, slots=True)
class StoredMedia:
    kind: MediaKind
    channel: Channel
    file_ref: str
    role: str


@dataclass(frozen=True, slots=True)
class AppealState:
    """An appeal as the lifecycle needs it: who, where it stands, where its card is."""

    id: int
    number: str
    status: Status
    # None: a phone appeal waiting for its caller to verify the number in a messenger.
    resident_id: int | None
    # None: a phone appeal (pushes go to every chat of the resident, if any).
    account_id: int | None
    category_id: int
    department: str | None
    due_at: datetime
    status_changed_at: datetime
    staff_chat_id: int | None
    staff_thread_id: int | None
    staff_message_id: int | None
    # The card is the caption of its single photo or video (see storage.models.Appeal).
    staff_card_caption: bool = False


@dataclass(frozen=True, slots=True)
class StaffView:
    """Everything the staff card shows."""

    appeal: AppealState
    category_names: dict[str, str]
    parent_category_names: dict[str, str] | None
    root_category_id: int
    default_department: str
    address: str | None
    latitude: float | None
    longitude: float | None
    description: str
    created_at: datetime
    media: tuple[StoredMedia, ...]
    duplicate_of: str | None
    last_event: HistoryEntry | None
    # Set for an appeal an operator took by phone.
    origin: CallOrigin | None = None


@dataclass(frozen=True, slots=True)
class CallOrigin:
    """Who called and which operator took the call (the caller's phone is not here: it is
    shown only through a recorded reveal)."""

    caller_name: str | None
    operator_name: str | None
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: Channel
    chat: str
    kind: str
    appeal_id: int | None
    payload: dict[str, object]
    attempts: int
    progress: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class OperatorMessage:
    """The latest operator's message an account received about an open appeal."""

    event_id: int
    appeal_id: int
    number: str
    at: datetime
    # The resident has written to the operator about this appeal since.
    answered: bool
