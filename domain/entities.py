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
