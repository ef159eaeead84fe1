"""The neutral inbound envelope: what a resident did, whatever the messenger."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from domain.actions import Action


class Channel(StrEnum):
    TELEGRAM = "telegram"
    VIBER = "viber"


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class MediaItem:
    kind: MediaKind
    # A channel's own reference: a Telegram file_id, or a stored file's path for Viber.
    file_ref: str
    unique_id: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class ContactShare:
    phone: str
    # False when someone forwards another person's contact instead of sharing their own.
    is_own: bool
    # True only when the platform vouches that the number is the sender's (Telegram: the
    # contact's user id is the sender's). A Viber contact never proves it.
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a resident did. Exactly one of the payload fields is set, or none (`other`)."""

    channel: Channel
    user_id: str
    locale_hint: str | None = None
    display_name: str | None = None
    text: str | None = None
    command: str | None = None  # without the slash, lower case
    action: Action | None = None
    # A button press whose id did not parse: forged or from an old version of the bot.
    bad_action: bool = False
    location: GeoPoint | None = None
    contact: ContactShare | None = None
    media: tuple[MediaItem, ...] = field(default_factory=tuple)
    media_group_id: str | None = None
    # The text sent with a photo or video.
    caption: str | None = None
    # A photo or video came but could not be kept: "too_big" or "unavailable".
    media_error: str | None = None
    # Something the dialog has no use for (a sticker, a voice note, a document...).
    other: str | None = None
