"""Viber callbacks in, the dialog's `Inbound` out: pure, no I/O (like bot.telegram.inbound).

A picture or a video is not fetched here: Viber's link comes back beside the event, and the
caller downloads it only at a step that takes media (so a picture sent anywhere else is never
kept).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from viberbot.api.messages import (
    ContactMessage,
    LocationMessage,
    PictureMessage,
    StickerMessage,
    TextMessage,
    VideoMessage,
)
from viberbot.api.viber_requests import ViberMessageRequest, ViberSubscribedRequest

from domain.actions import Action
from domain.dialog.events import Channel, ContactShare, GeoPoint, Inbound, MediaKind


@dataclass(frozen=True, slots=True)
class MediaLink:
    """A picture or video Viber holds for a while under `url`."""

    kind: MediaKind
    url: str


def _base(user: Any) -> Inbound:
    return Inbound(
        channel=Channel.VIBER,
        user_id=user.id,
        locale_hint=getattr(user, "language", None),
        display_name=getattr(user, "name", None),
    )


def from_subscribed(request: ViberSubscribedRequest) -> Inbound:
    """Subscribing is Viber's /start."""
    return replace(_base(request.user), command="start")


def from_text(base: Inbound, text: str) -> Inbound:
    """A command, a button's action id (a `reply` button sends its ActionBody as text), or
    what the resident typed."""
    words = text[1:].split(maxsplit=1) if text.startswith("/") else []
    if words:
        return replace(base, command=words[0].lower())
    action = Action.parse(text)
    if action is not None:
        return replace(base, action=action)
    return replace(base, text=text)


def from_message(request: ViberMessageRequest) -> tuple[Inbound, MediaLink | None]:
    """The event, and the link of the picture or video it carries (None for anything else).
    With a link the event says `other="photo"`: what the dialog gets when it is not fetched."""
    base = _base(request.sender)
    message = request.message
    match message:
        case TextMessage():
            return from_text(base, message.text or ""), None
        case ContactMessage() if message.contact is not None:
            # Viber offers no way to tell the share-phone button from a forwarded contact
            # card: the number is taken as the sender's claim, never as verified.
            phone = str(message.contact.phone_number)
            return replace(base, contact=ContactShare(phone, is_own=True, verified=False)), None
        case LocationMessage() if message.location is not None:
            location = message.location
            point = GeoPoint(float(location.latitude), float(location.longitude))
            return replace(base, location=point), None
        case PictureMessage() | VideoMessage():
            kind = MediaKind.VIDEO if isinstance(message, VideoMessage) else MediaKind.PHOTO
            caption = str(message.text) if getattr(message, "text", None) else None
            event = replace(base, other="photo", caption=caption)
            return event, MediaLink(kind, str(message.media))
        case StickerMessage():
            return replace(base, other="sticker"), None
    other = "document" if type(message).__name__ == "FileMessage" else "message"
    return replace(base, other=other), None
