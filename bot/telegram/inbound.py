"""Telegram updates in, neutral `Inbound` events out."""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message

from domain.actions import Action
from domain.dialog.events import Channel, ContactShare, GeoPoint, Inbound, MediaItem, MediaKind


def _command(text: str) -> str | None:
    if not text.startswith("/") or len(text) < 2:
        return None
    head = text[1:].split(maxsplit=1)[0]
    return head.split("@", 1)[0].lower() or None


def from_message(message: Message) -> Inbound:
    user = message.from_user
    if user is None:
        raise ValueError("a message without a sender cannot reach the resident dialog")

    def build(**payload: Any) -> Inbound:
        return Inbound(
            channel=Channel.TELEGRAM,
            user_id=str(user.id),
            locale_hint=user.language_code,
            display_name=user.first_name,
            **payload,
        )

    if message.text is not None:
        command = _command(message.text)
        if command is not None:
            return build(command=command)
        return build(text=message.text)
    if message.contact is not None:
        own = message.contact.user_id == user.id
        contact = ContactShare(phone=message.contact.phone_number, is_own=own, verified=own)
        return build(contact=contact)
    location = message.location or (message.venue.location if message.venue else None)
    if location is not None:
        return build(location=GeoPoint(location.latitude, location.longitude))
    media: MediaItem | None = None
    if message.photo:
        largest = message.photo[-1]
        media = MediaItem(
            MediaKind.PHOTO, largest.file_id, largest.file_unique_id, largest.file_size
        )
    elif message.video is not None:
        video = message.video
        media = MediaItem(MediaKind.VIDEO, video.file_id, video.file_unique_id, video.file_size)
    elif message.video_note is not None:
        note = message.video_note
        media = MediaItem(MediaKind.VIDEO, note.file_id, note.file_unique_id, note.file_size)
    if media is not None:
        return build(media=(media,), media_group_id=message.media_group_id, caption=message.caption)
    return build(other=_kind_of(message))


def _kind_of(message: Message) -> str:
    if message.sticker is not None:
        return "sticker"
    if message.voice is not None or message.audio is not None:
        return "voice"
    if message.animation is not None:
        return "animation"
    if message.document is not None:
        return "document"
    if message.poll is not None:
        return "poll"
    return "message"


def from_callback(query: CallbackQuery) -> Inbound:
    action = Action.parse(query.data)
    return Inbound(
        channel=Channel.TELEGRAM,
        user_id=str(query.from_user.id),
        locale_hint=query.from_user.language_code,
        display_name=query.from_user.first_name,
        action=action,
        bad_action=action is None,
    )
