"""What repositories hand to services and the dialog: plain frozen data, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.dialog.events import Channel, MediaKind
from domain.statuses import Status


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    channel: Channel
    external_id: str
    resident_id: int | None
    locale: str | None

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
    resident_id: int
    account_id: int
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
