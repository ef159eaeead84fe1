"""The Telegram inbound translator: an update's message or callback in, the neutral event out."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import CallbackQuery, Message

from bot.telegram.inbound import from_callback, from_message
from domain.actions import Act, Action
from domain.dialog.events import Channel, ContactShare, GeoPoint, Inbound, MediaItem, MediaKind

OLENA = {"id": 1001, "is_bot": False, "first_name": "Olena", "language_code": "uk"}


def message(**payload: Any) -> Message:
    """A private message from Olena as the Bot API sends it."""
    return Message.model_validate(
        {
            "message_id": 10,
            "date": 1_796_000_000,
            "chat": {"id": 1001, "type": "private", "first_name": "Olena"},
            "from": OLENA,
            **payload,
        }
    )


def olena(**fields: Any) -> Inbound:
    return Inbound(
        channel=Channel.TELEGRAM, user_id="1001", locale_hint="uk", display_name="Olena", **fields
    )


def photo_size(n: int, size: int) -> dict[str, Any]:
    return {
        "file_id": f"p{n}",
        "file_unique_id": f"u{n}",
        "width": n,
        "height": n,
        "file_size": size,
    }


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "Pothole on Lesi Ukrainky"}, olena(text="Pothole on Lesi Ukrainky")),
        ({"text": "/start@city1580_bot deep-link"}, olena(command="start")),
        ({"text": "/Help"}, olena(command="help")),
        ({"text": "/"}, olena(text="/")),
        (
            {"contact": {"phone_number": "+380501234567", "first_name": "Olena", "user_id": 1001}},
            olena(contact=ContactShare("+380501234567", is_own=True, verified=True)),
        ),
        (
            {"contact": {"phone_number": "+380671112233", "first_name": "Taras", "user_id": 7}},
            olena(contact=ContactShare("+380671112233", is_own=False, verified=False)),
        ),
        (
            {"location": {"latitude": 50.7472, "longitude": 25.3254}},
            olena(location=GeoPoint(50.7472, 25.3254)),
        ),
        (
            {
                "venue": {
                    "location": {"latitude": 50.75, "longitude": 25.33},
                    "title": "Theatre",
                    "address": "Teatralna sq.",
                }
            },
            olena(location=GeoPoint(50.75, 25.33)),
        ),
        (
            {"photo": [photo_size(90, 1000), photo_size(1280, 90_000)], "caption": "Here"},
            olena(media=(MediaItem(MediaKind.PHOTO, "p1280", "u1280", 90_000),), caption="Here"),
        ),
        (
            {"photo": [photo_size(800, 5000)], "media_group_id": "album-1"},
            olena(
                media=(MediaItem(MediaKind.PHOTO, "p800", "u800", 5000),), media_group_id="album-1"
            ),
        ),
        (
            {
                "video": {
                    "file_id": "v1",
                    "file_unique_id": "uv1",
                    "width": 640,
                    "height": 480,
                    "duration": 5,
                    "file_size": 2_000_000,
                }
            },
            olena(media=(MediaItem(MediaKind.VIDEO, "v1", "uv1", 2_000_000),)),
        ),
        (
            {
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "us1",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                }
            },
            olena(other="sticker"),
        ),
        (
            {"voice": {"file_id": "vo", "file_unique_id": "uvo", "duration": 3}},
            olena(other="voice"),
        ),
        (
            {"document": {"file_id": "d", "file_unique_id": "ud", "file_name": "act.pdf"}},
            olena(other="document"),
        ),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_a_message_becomes_one_neutral_event(payload: dict[str, Any], expected: Inbound) -> None:
    assert from_message(message(**payload)) == expected


def test_a_message_without_a_sender_is_refused() -> None:
    anonymous = Message.model_validate(
        {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"}, "text": "hi"}
    )
    with pytest.raises(ValueError, match="without a sender"):
        from_message(anonymous)


def callback(data: str | None) -> CallbackQuery:
    return CallbackQuery.model_validate(
        {"id": "cb1", "from": OLENA, "chat_instance": "ci", "data": data}
    )


def test_a_press_carries_its_action_id() -> None:
    assert from_callback(callback("cat:roads")) == olena(action=Action(Act.CATEGORY, "roads"))
    assert from_callback(callback("fx:12")) == olena(action=Action(Act.FIXED, "12"))


@pytest.mark.parametrize("data", ["no_such_act", "cat:DROP TABLE", None, "x" * 65])
def test_a_forged_or_old_press_is_marked_and_carries_nothing(data: str | None) -> None:
    assert from_callback(callback(data)) == olena(bad_action=True)
