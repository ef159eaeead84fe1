"""The appeal being filed, kept in the dialog's state data between steps (JSON-safe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.dialog.events import GeoPoint, MediaItem, MediaKind


@dataclass(slots=True)
class CallInfo:
    """A phone appeal an operator is filing for a caller (set only by the staff's /call)."""

    phone: str
    operator_id: str
    operator_name: str
    caller_name: str | None = None
    # The caller did not want to give a name: asked once, not again.
    name_skipped: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "operator_id": self.operator_id,
            "operator_name": self.operator_name,
            "caller_name": self.caller_name,
            "name_skipped": self.name_skipped,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CallInfo:
        return cls(
            phone=str(data["phone"]),
            operator_id=str(data["operator_id"]),
            operator_name=str(data["operator_name"]),
            caller_name=data.get("caller_name"),
            name_skipped=bool(data.get("name_skipped", False)),
        )


def _media_data(media: list[MediaItem]) -> list[list[object]]:
    return [[m.kind.value, m.file_ref, m.unique_id, m.size] for m in media]


@dataclass(slots=True)
class Draft:
    category: str | None = None
    subcategory: str | None = None
    location: GeoPoint | None = None
    address: str | None = None
    media: list[MediaItem] = field(default_factory=list)
    # Albums already acknowledged, so an album of N items gets one reply, not N.
    albums: list[str] = field(default_factory=list)
    description: str | None = None
    # Set when the resident came from the review to change one step: finishing it returns there.
    editing: bool = False
    call: CallInfo | None = None
    # The emergency numbers were shown for this draft's category.
    urgent_shown: bool = False
    # The operator's message (its event id) the resident was last asked about mid-step, so
    # that "is this for the operator?" comes once per operator's message.
    relay_seen: int = 0
    # What the resident sent while that question waits: replayed into the step or relayed.
    held_text: str | None = None
    held_media: list[MediaItem] = field(default_factory=list)
    # The album the held media came in: its other items are held with it, not put in the step.
    held_group: str | None = None

    @property
    def category_code(self) -> str | None:
        """The most specific category chosen."""
        return self.subcategory or self.category

    @property
    def has_place(self) -> bool:
        return self.location is not None or bool(self.address)

    def to_data(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "subcategory": self.subcategory,
            "location": [self.location.latitude, self.location.longitude]
            if self.location
            else None,
            "address": self.address,
            "media": _media_data(self.media),
            "albums": self.albums[-20:],
            "description": self.description,
            "editing": self.editing,
            "call": self.call.to_data() if self.call else None,
            "urgent_shown": self.urgent_shown,
            "relay_seen": self.relay_seen,
            "held_text": self.held_text,
            "held_media": _media_data(self.held_media),
            "held_group": self.held_group,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Draft:
        location = data.get("location")
        call = data.get("call")
        return cls(
            category=data.get("category"),
            subcategory=data.get("subcategory"),
            location=GeoPoint(float(location[0]), float(location[1])) if location else None,
            address=data.get("address"),
            media=[
                MediaItem(MediaKind(kind), ref, uid, size)
                for kind, ref, uid, size in data.get("media", [])
            ],
            albums=list(data.get("albums", [])),
            description=data.get("description"),
            editing=bool(data.get("editing", False)),
            call=CallInfo.from_data(call) if call else None,
            urgent_shown=bool(data.get("urgent_shown", False)),
            relay_seen=int(data.get("relay_seen", 0)),
            held_text=data.get("held_text"),
            held_media=[
                MediaItem(MediaKind(kind), ref, uid, size)
                for kind, ref, uid, size in data.get("held_media", [])
            ],
            held_group=data.get("held_group"),
        )
