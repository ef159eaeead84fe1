"""Viber callbacks into the dialog's `Inbound`: the translation alone, no server, no I/O."""

from __future__ import annotations

from typing import Any

import pytest
from viberbot.api.viber_requests import (
    ViberMessageRequest,
    ViberSubscribedRequest,
    create_request,
)

from bot.viber.inbound import MediaLink, from_message, from_subscribed
from domain.actions import Act, Action
from domain.dialog.events import Channel, ContactShare, GeoPoint, Inbound, MediaKind

USER = {"id": "taras==", "name": "Taras", "language": "en", "country": "UA", "api_version": 10}


def message(body: dict[str, Any]) -> ViberMessageRequest:
    request = create_request(
        {
            "event": "message",
            "timestamp": 1,
            "message_token": 7,
            "sender": USER,
            "message": body,
        }
    )
    assert isinstance(request, ViberMessageRequest)
    return request


def event(**fields: Any) -> Inbound:
    return Inbound(
        channel=Channel.VIBER,
        user_id="taras==",
        locale_hint="en",
        display_name="Taras",
        **fields,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "text", "text": "Potholes again"}, event(text="Potholes again")),
        ({"type": "text", "text": "/Start now"}, event(command="start")),
        # Nothing after the slash is no command (as on Telegram): the text as typed.
        ({"type": "text", "text": "/"}, event(text="/")),
        # A `reply` button sends its ActionBody as text: the same ids as Telegram's buttons.
        ({"type": "text", "text": "cat:roads"}, event(action=Action(Act.CATEGORY, "roads"))),
        ({"type": "text", "text": "catalogue"}, event(text="catalogue")),
        (
            {"type": "contact", "contact": {"name": "T", "phone_number": "+380501112233"}},
            event(contact=ContactShare("+380501112233", is_own=True, verified=False)),
        ),
        (
            {"type": "location", "location": {"lat": 50.75, "lon": 25.33}},
            event(location=GeoPoint(50.75, 25.33)),
        ),
        ({"type": "sticker", "sticker_id": 40100}, event(other="sticker")),
        (
            {"type": "file", "media": "https://x/f.pdf", "file_name": "f.pdf", "size": 3},
            event(other="document"),
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_message_without_media(body: dict[str, Any], expected: Inbound) -> None:
    assert from_message(message(body)) == (expected, None)


def test_a_picture_comes_with_its_link_and_is_not_fetched_here() -> None:
    url = "https://dl-media.viber.com/1/share/2/long/bot/generated/doc.jpg"
    got = from_message(message({"type": "picture", "text": "Here", "media": url}))
    assert got == (event(other="photo", caption="Here"), MediaLink(MediaKind.PHOTO, url))


def test_a_video_without_a_caption() -> None:
    url = "https://dl-media.viber.com/v.mp4"
    got = from_message(message({"type": "video", "media": url, "size": 10, "duration": 3}))
    assert got == (event(other="photo"), MediaLink(MediaKind.VIDEO, url))


def test_subscribing_is_start() -> None:
    request = create_request(
        {"event": "subscribed", "timestamp": 1, "message_token": 8, "user": USER}
    )
    assert isinstance(request, ViberSubscribedRequest)
    assert from_subscribed(request) == event(command="start")
