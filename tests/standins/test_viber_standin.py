"""The stand-in Viber server, exercised with a plain aiohttp client and a tiny webhook app
(and with the official viberbot SDK's parsing and its blocking client)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from viberbot import Api
from viberbot.api.bot_configuration import BotConfiguration
from viberbot.api.messages import TextMessage
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberDeliveredRequest,
    ViberFailedRequest,
    ViberMessageRequest,
    ViberSeenRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)

from standins.viber import AUTH_HEADER, SIGNATURE_HEADER, ViberStandIn, ViberStatus

BOT_SENDER = {"name": "15-80", "avatar": None}
KEYBOARD: dict[str, Any] = {
    "Type": "keyboard",
    "InputFieldState": "regular",
    "Buttons": [
        {"Columns": 3, "Rows": 1, "Text": "New appeal", "ActionBody": "appeal:new"},
        {
            "Columns": 3,
            "Rows": 1,
            "Text": "Share phone",
            "ActionType": "share-phone",
            "ActionBody": "share-phone",
        },
        {"Columns": 6, "Text": "Where?", "ActionType": "location-picker", "ActionBody": "where"},
        {"Columns": 6, "Text": "Site", "ActionType": "open-url", "ActionBody": "https://x.org"},
        {"Columns": 6, "Text": "—", "ActionType": "none", "ActionBody": "divider"},
    ],
}


@dataclass
class Callback:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Hook:
    """A webhook app standing in for the bot: records callbacks, answers ``status``
    (with ``answer`` as JSON body if set) and may react to each event."""

    url: str = ""
    status: int = 200
    answer: dict[str, Any] | None = None
    react: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    received: list[Callback] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Callback(dict(request.headers), body))
        if self.react is not None:
            await self.react(json.loads(body))
        if self.answer is not None:
            return web.json_response(self.answer, status=self.status)
        return web.Response(status=self.status)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [c.event for c in self.received if c.event.get("event") == kind]


@pytest.fixture
async def viber() -> AsyncIterator[ViberStandIn]:
    async with ViberStandIn() as standin:
        yield standin


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    hook = Hook()
    app = web.Application()
    app.router.add_post("/viber", hook.handle)
    server = TestServer(app)
    await server.start_server()
    hook.url = str(server.make_url("/viber"))
    try:
        yield hook
    finally:
        await server.close()


async def call(
    http: ClientSession,
    viber: ViberStandIn,
    method: str,
    payload: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """One REST API call with the token in the header, as the docs ask."""
    headers = {AUTH_HEADER: token if token is not None else viber.auth_token}
    data = body if body is not None else json.dumps(payload or {}, ensure_ascii=False).encode()
    async with http.post(f"{viber.api_url}/{method}", data=data, headers=headers) as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


@pytest.fixture
async def webhook(viber: ViberStandIn, http: ClientSession, hook: Hook) -> Hook:
    """``hook`` registered as the bot's webhook (names and photos requested)."""
    answer = await call(
        http, viber, "set_webhook", {"url": hook.url, "send_name": True, "send_photo": True}
    )
    assert answer["status"] == 0, answer
    hook.received.clear()
    return hook


def text(receiver: str, body: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"receiver": receiver, "type": "text", "text": body, "sender": BOT_SENDER, **extra}


def verified(callback: Callback, token: str) -> bool:
    expected = hmac.new(token.encode(), callback.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, callback.headers.get(SIGNATURE_HEADER, ""))


# ------------------------------------------------------------------------ set_webhook


async def test_set_webhook_checks_the_url_with_a_signed_callback(
    viber: ViberStandIn, http: ClientSession, hook: Hook
) -> None:
    answer = await call(
        http, viber, "set_webhook", {"url": hook.url, "event_types": ["delivered", "failed"]}
    )

    assert answer["status"] == 0
    assert answer["status_message"] == "ok"
    assert answer["event_types"] == ["delivered", "failed"]
    assert viber.webhook_url == hook.url
    assert viber.webhook_event_types == ["delivered", "failed"]
    [check] = hook.received
    assert check.event["event"] == "webhook"
    assert isinstance(check.event["timestamp"], int)
    assert isinstance(check.event["message_token"], int)
    assert check.event["chat_hostname"].startswith("SN-")
    assert verified(check, viber.auth_token)
    assert create_request(check.event).event_type == "webhook"
    assert [(c.method, c.status) for c in viber.calls] == [("set_webhook", 0)]


@pytest.mark.parametrize("status", [404, 500, 204])
async def test_set_webhook_fails_unless_the_url_answers_200(
    viber: ViberStandIn, http: ClientSession, hook: Hook, status: int
) -> None:
    hook.status = status

    answer = await call(http, viber, "set_webhook", {"url": hook.url})

    assert answer["status"] == ViberStatus.INVALID_URL
    assert str(status) in answer["status_message"]
    assert viber.webhook_url is None
    assert len(hook.received) == 1  # it did try


async def test_set_webhook_rejects_unreachable_and_malformed_urls(
    viber: ViberStandIn, http: ClientSession
) -> None:
    unreachable = await call(http, viber, "set_webhook", {"url": "http://127.0.0.1:1/hook"})
    malformed = await call(http, viber, "set_webhook", {"url": "ftp://example.org/hook"})
    missing = await call(http, viber, "set_webhook", {"event_types": []})

    assert unreachable["status"] == 1
    assert "could not be reached" in unreachable["status_message"]
    assert malformed["status"] == 1
    assert missing["status"] == ViberStatus.MISSING_DATA
    assert viber.webhook_url is None


async def test_empty_url_removes_the_webhook(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")

    answer = await call(http, viber, "set_webhook", {"url": ""})

    assert answer["status"] == 0
    assert viber.webhook_url is None
    assert webhook.received[-1].event["event"] == "message"  # no check callback for removal
    # Without a webhook Viber refuses to send and the stand-in cannot deliver.
    refused = await call(http, viber, "send_message", text(resident.id))
    assert refused["status"] == ViberStatus.WEBHOOK_NOT_SET
    with pytest.raises(RuntimeError, match="webhook"):
        await viber.send_text(resident, "anyone?")
    assert len(viber.history(resident)) == 1  # the refused message left no trace


# -------------------------------------------------------------------------- callbacks


async def test_callbacks_are_signed_over_the_raw_bytes(viber: ViberStandIn, webhook: Hook) -> None:
    resident = viber.user("01234567890A=", name="Олена")

    delivery = await viber.send_text(resident, "Привіт, ями на дорозі")

    assert delivery.status == 200 and delivery.ok
    [callback] = webhook.received
    assert callback.body == delivery.body
    assert "Привіт".encode() in callback.body  # raw UTF-8, not \\u escapes
    assert verified(callback, viber.auth_token)
    assert callback.headers[SIGNATURE_HEADER] == viber.sign(callback.body)
    assert not verified(callback, "another-token")
    event = callback.event
    assert event["sender"]["id"] == "01234567890A="
    assert event["sender"]["name"] == "Олена"
    assert event["message"] == {"type": "text", "text": "Привіт, ями на дорозі"}


async def test_forged_and_raw_callbacks(viber: ViberStandIn, webhook: Hook) -> None:
    resident = viber.user()
    first = await viber.send_text(resident, "once")

    again = await viber.deliver(first.event)
    forged = await viber.deliver(first.event, signature="0" * 64)
    unsigned = await viber.deliver(first.event, signature=None)
    raw = b'{"event":"message", "broken": '
    truncated = await viber.deliver({"event": "message"}, raw_body=raw)

    one, two, three, four, five = webhook.received
    assert again.message_token == first.message_token
    assert two.event == one.event and two.body == one.body and verified(two, viber.auth_token)
    assert forged.status == 200 and three.headers[SIGNATURE_HEADER] == "0" * 64
    assert not verified(three, viber.auth_token)
    assert unsigned.status == 200 and SIGNATURE_HEADER not in four.headers
    assert truncated.body == five.body == raw and verified(five, viber.auth_token)


async def test_unwanted_event_types_are_not_delivered(
    viber: ViberStandIn, http: ClientSession, hook: Hook
) -> None:
    answer = await call(http, viber, "set_webhook", {"url": hook.url, "event_types": ["seen"]})
    assert answer["status"] == 0
    hook.received.clear()
    resident = viber.user()

    opened = await viber.open_conversation(resident)
    subscribed = await viber.subscribe(resident)  # mandatory: cannot be filtered out
    wrote = await viber.send_text(resident, "hi")

    assert (opened.delivered, opened.status) == (False, None)
    assert subscribed.ok and wrote.ok
    assert [c.event["event"] for c in hook.received] == ["subscribed", "message"]


async def test_names_and_photos_only_when_the_bot_asked(
    viber: ViberStandIn, http: ClientSession, hook: Hook
) -> None:
    assert (await call(http, viber, "set_webhook", {"url": hook.url}))["status"] == 0
    resident = viber.user(name="Taras", avatar="https://cdn.example/t.jpg")

    await viber.send_text(resident, "hi")

    sender = hook.events("message")[0]["sender"]
    assert sender == {"id": resident.id, "language": "uk", "country": "UA", "api_version": 10}
    assert not viber.webhook_sends_name


# ------------------------------------------------------------------------ send_message


async def test_send_message_records_the_transcript(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")

    first = await call(
        http,
        viber,
        "send_message",
        text(resident.id, "Choose", keyboard=KEYBOARD, min_api_version=3, tracking_data="menu"),
    )
    second = await call(http, viber, "send_message", text(resident.id, "Thanks"))

    assert first["status"] == second["status"] == 0
    assert first["message_token"] != second["message_token"]
    assert first["chat_hostname"].startswith("SN-")
    menu, thanks = viber.messages(resident.id)
    assert (menu.type, menu.text, menu.tracking_data) == ("text", "Choose", "menu")
    assert menu.message_token == first["message_token"]
    assert menu.min_api_version == 3
    assert menu.sender == BOT_SENDER
    assert menu.keyboard == KEYBOARD
    assert menu.buttons()[:2] == [
        ("New appeal", "reply", "appeal:new"),
        ("Share phone", "share-phone", "share-phone"),
    ]
    assert "auth_token" not in menu.raw and menu.raw["receiver"] == resident.id
    assert (thanks.text, thanks.keyboard, thanks.buttons()) == ("Thanks", None, [])
    assert viber.last_message(resident) is thanks
    assert [entry["from"] for entry in viber.history(resident)] == ["user", "bot", "bot"]
    assert [c.method for c in viber.calls_of("send_message")] == ["send_message"] * 2
    assert all(c.ok for c in viber.calls_of("send_message"))


async def test_media_messages_are_validated_and_recorded(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")
    picture = {"type": "picture", "text": "", "media": "https://cdn.example/a.jpg"}
    video = {"type": "video", "media": "https://cdn.example/v.mp4", "size": 1000, "duration": 5}
    place = {"type": "location", "location": {"lat": 50.45, "lon": 30.52}}
    sent = [
        await call(http, viber, "send_message", {**text(resident.id), **body})
        for body in (picture, video, place)
    ]
    keyboard_only = await call(
        http,
        viber,
        "send_message",
        {"receiver": resident.id, "sender": BOT_SENDER, "keyboard": KEYBOARD, "min_api_version": 3},
    )
    no_size = await call(http, viber, "send_message", {**text(resident.id), **video, "size": None})

    assert [answer["status"] for answer in sent] == [0, 0, 0]
    assert keyboard_only["status"] == 0
    assert no_size["status"] == ViberStatus.MISSING_DATA
    kinds = [(m.type, m.media) for m in viber.messages(resident)]
    assert kinds == [
        ("picture", "https://cdn.example/a.jpg"),
        ("video", "https://cdn.example/v.mp4"),
        ("location", None),
        ("keyboard", None),
    ]
    assert viber.messages(resident)[1].size == 1000
    assert viber.messages(resident)[2].location == (50.45, 30.52)


BAD_KEYBOARDS: list[tuple[str, dict[str, Any]]] = [
    ("wrong Type", {"Type": "inline", "Buttons": KEYBOARD["Buttons"][:1]}),
    ("no Buttons", {"Type": "keyboard", "Buttons": []}),
    ("Columns 7", {"Type": "keyboard", "Buttons": [{"Columns": 7, "ActionBody": "a"}]}),
    ("Rows 3", {"Type": "keyboard", "Buttons": [{"Rows": 3, "ActionBody": "a"}]}),
    ("ActionType", {"Type": "keyboard", "Buttons": [{"ActionType": "call", "ActionBody": "a"}]}),
    ("empty ActionBody", {"Type": "keyboard", "Buttons": [{"ActionBody": ""}]}),
    ("no ActionBody", {"Type": "keyboard", "Buttons": [{"Text": "Yes"}]}),
]


@pytest.mark.parametrize(("_name", "keyboard"), BAD_KEYBOARDS, ids=[n for n, _ in BAD_KEYBOARDS])
async def test_bad_keyboards_are_bad_data(
    viber: ViberStandIn,
    http: ClientSession,
    webhook: Hook,
    _name: str,
    keyboard: dict[str, Any],
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")

    answer = await call(
        http, viber, "send_message", text(resident.id, keyboard=keyboard, min_api_version=3)
    )

    assert answer["status"] == 3
    assert answer["status_message"].startswith("badData")
    assert viber.messages(resident) == []
    assert [c.status for c in viber.calls_of("send_message")] == [3]


async def test_share_phone_needs_api_version_3(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    old_client = viber.user(api_version=2)
    await viber.send_text(resident, "hi")
    await viber.send_text(old_client, "hi")
    share = {"Type": "keyboard", "Buttons": [KEYBOARD["Buttons"][1]]}

    too_low = await call(
        http, viber, "send_message", text(resident.id, keyboard=share, min_api_version=1)
    )
    implicit = await call(http, viber, "send_message", text(resident.id, keyboard=share))
    fine = await call(
        http, viber, "send_message", text(resident.id, keyboard=share, min_api_version=3)
    )
    old = await call(
        http, viber, "send_message", text(old_client.id, keyboard=share, min_api_version=3)
    )

    assert too_low["status"] == implicit["status"] == 3
    assert fine["status"] == 0
    assert old["status"] == ViberStatus.API_VERSION_NOT_SUPPORTED


async def test_send_message_refusals(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    stranger = viber.user()  # known to Viber, never wrote to the bot
    await viber.send_text(resident, "hi")

    answers = {
        "unsubscribed": await call(http, viber, "send_message", text(stranger.id)),
        "unregistered": await call(http, viber, "send_message", text("nobody000000=")),
        "too long": await call(http, viber, "send_message", text(resident.id, "я" * 7001)),
        "longest": await call(http, viber, "send_message", text(resident.id, "я" * 7000)),
        "tracking": await call(
            http, viber, "send_message", text(resident.id, tracking_data="t" * 4001)
        ),
        "no text": await call(http, viber, "send_message", text(resident.id, "")),
        "no sender": await call(
            http, viber, "send_message", {"receiver": resident.id, "type": "text", "text": "x"}
        ),
        "type": await call(http, viber, "send_message", text(resident.id, type="voice")),
        "token": await call(http, viber, "send_message", text(resident.id), token="wrong"),
        "json": await call(http, viber, "send_message", body=b"{not json"),
        # 7000 Cyrillic letters are 14 KB as UTF-8 but 42 KB as \\u escapes.
        "30 KB": await call(
            http, viber, "send_message", body=json.dumps(text(resident.id, "я" * 7000)).encode()
        ),
    }

    statuses = {name: answer["status"] for name, answer in answers.items()}
    assert statuses == {
        "unsubscribed": 6,
        "unregistered": 5,
        "too long": 3,
        "longest": 0,
        "tracking": 3,
        "no text": 3,
        "no sender": 4,
        "type": 3,
        "token": 2,
        "json": 3,
        "30 KB": 3,
    }
    assert answers["token"]["status_message"] == "invalidAuthToken"
    assert [m.text for m in viber.messages(resident)] == ["я" * 7000]


async def test_token_in_the_body_is_accepted_and_a_missing_one_refused(
    viber: ViberStandIn, http: ClientSession
) -> None:
    url = f"{viber.api_url}/get_account_info"
    async with http.post(url, json={"auth_token": viber.auth_token}) as response:
        in_body = await response.json()
    async with http.post(url, json={}) as response:
        missing = await response.json()

    assert in_body["status"] == 0 and in_body["name"] == "15-80"
    assert (missing["status"], missing["status_message"]) == (2, "missing_auth_token")


async def test_unknown_methods_and_verbs(viber: ViberStandIn, http: ClientSession) -> None:
    headers = {AUTH_HEADER: viber.auth_token}
    async with http.post(f"{viber.api_url}/post", json={}, headers=headers) as response:
        assert response.status == 404
    async with http.get(f"{viber.api_url}/get_account_info", headers=headers) as response:
        assert response.status == 405
    assert [(c.method, c.http_status, c.ok) for c in viber.calls] == [("post", 404, False)]


async def test_unsubscribed_users_cannot_be_messaged_until_they_write(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    opened = await viber.open_conversation(resident, context="from-poster")
    assert not viber.is_subscribed(resident)
    assert opened.event["subscribed"] is False and opened.event["context"] == "from-poster"
    assert (await call(http, viber, "send_message", text(resident.id)))["status"] == 6

    await viber.send_text(resident, "hi")  # writing subscribes, without a callback
    assert viber.is_subscribed(resident)
    assert webhook.events("subscribed") == []
    assert (await call(http, viber, "send_message", text(resident.id)))["status"] == 0

    gone = await viber.unsubscribe(resident)
    assert gone.event == {**gone.event, "event": "unsubscribed", "user_id": resident.id}
    assert (await call(http, viber, "send_message", text(resident.id)))["status"] == 6

    await viber.subscribe(resident)
    assert webhook.events("subscribed")[0]["user"]["id"] == resident.id
    assert (await call(http, viber, "send_message", text(resident.id)))["status"] == 0
    again = await viber.open_conversation(resident)
    assert again.event["subscribed"] is True


async def test_welcome_message_in_the_conversation_started_answer(
    viber: ViberStandIn, webhook: Hook
) -> None:
    resident = viber.user()
    webhook.answer = {
        "sender": BOT_SENDER,
        "type": "text",
        "text": "Welcome to 15-80",
        "keyboard": {"Type": "keyboard", "Buttons": [{"ActionBody": "start", "Text": "Go"}]},
    }

    opened = await viber.open_conversation(resident)

    assert opened.welcome is not None
    assert opened.welcome.via == "welcome"
    assert viber.messages(resident) == [opened.welcome]
    assert not viber.is_subscribed(resident)  # a welcome message does not subscribe
    pressed = await viber.press(resident, "start")
    assert pressed.event["message"]["text"] == "start"

    webhook.answer = {"type": "text", "text": "no sender"}
    invalid = await viber.open_conversation(viber.user())
    assert invalid.welcome is None
    assert [c.status for c in viber.calls_of("welcome_message")] == [0, 4]


# ----------------------------------------------------------------------- press()


async def test_press_sends_what_the_buttons_send(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user(phone="+380671234567", name="Iryna")
    await viber.send_text(resident, "hi")
    menu = text(resident.id, "Choose", keyboard=KEYBOARD, min_api_version=3, tracking_data="s1")
    assert (await call(http, viber, "send_message", menu))["status"] == 0

    reply = await viber.press(resident, "appeal:new")
    contact = await viber.press(resident, "share-phone")
    link = await viber.press(resident, "https://x.org")

    assert reply.event["message"] == {"type": "text", "text": "appeal:new", "tracking_data": "s1"}
    assert contact.event["message"] == {
        "type": "contact",
        "contact": {"name": "Iryna", "phone_number": "+380671234567"},
        "tracking_data": "s1",
    }
    assert link.event["message"]["text"] == "https://x.org"
    with pytest.raises(ValueError, match="send_location"):
        await viber.press(resident, "where")
    with pytest.raises(ValueError, match="does nothing"):
        await viber.press(resident, "divider")
    with pytest.raises(LookupError, match="appeal:new"):
        await viber.press(resident, "appeal:old")
    forged = await viber.press(resident, "appeal:old", check=False)
    assert forged.event["message"]["text"] == "appeal:old"
    assert len(webhook.events("message")) == 5


async def test_a_message_without_keyboard_hides_it(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")
    await call(http, viber, "send_message", text(resident.id, keyboard=KEYBOARD, min_api_version=3))
    await call(http, viber, "send_message", text(resident.id, "plain"))

    with pytest.raises(LookupError, match="no button"):
        await viber.press(resident, "appeal:new")


# ------------------------------------------------------------------------ media


async def test_media_is_served_with_its_status(viber: ViberStandIn, http: ClientSession) -> None:
    photo = viber.media("pothole.jpg", b"\xff\xd8\xffjpeg-bytes")
    expired = viber.media("old.jpg", b"", status=404)
    broken = viber.media("broken.mp4", b"x", content_type="video/mp4", status=500)

    async with http.get(photo.url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert await response.read() == b"\xff\xd8\xffjpeg-bytes"
    for media, status in ((expired, 404), (broken, 500)):
        async with http.get(media.url) as response:
            assert response.status == status
    async with http.get(f"{viber.base_url}/media/unknown.png") as response:
        assert response.status == 404
    assert photo.url == f"{viber.base_url}/media/pothole.jpg" and photo.size == 13


async def test_residents_media_points_at_downloadable_files(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    big = viber.media("big.mp4", b"\x00" * 300_000, content_type="video/mp4")

    picture = await viber.send_picture(resident, caption="Яма")
    video = await viber.send_video(resident, media=big)
    claimed = await viber.send_video(resident, size=30_000_000)
    document = await viber.send_file(resident, file_name="scan.pdf")

    shown = picture.event["message"]
    assert (shown["type"], shown["text"]) == ("picture", "Яма")
    async with http.get(shown["media"]) as response:
        assert response.status == 200
        assert response.content_type == "image/jpeg"
        assert len(await response.read()) == shown["size"]
    assert video.event["message"]["media"] == big.url
    assert video.event["message"]["size"] == 300_000
    assert claimed.event["message"]["size"] == 30_000_000
    assert document.event["message"]["file_name"] == "scan.pdf"
    async with http.get(document.event["message"]["media"]) as response:
        assert (await response.read()).startswith(b"%PDF")


# ------------------------------------------------------------------------ faults


async def test_fail_returns_the_status_once(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")
    viber.fail("send_message")

    limited = await call(http, viber, "send_message", text(resident.id))
    passed = await call(http, viber, "send_message", text(resident.id))

    assert (limited["status"], limited["status_message"]) == (12, "tooManyRequests")
    assert passed["status"] == 0
    assert [m.message_token for m in viber.messages(resident)] == [passed["message_token"]]
    assert [c.status for c in viber.calls_of("send_message")] == [12, 0]


async def test_fail_with_http_errors(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    await viber.send_text(resident, "hi")
    viber.fail("send_message", http_status=503, times=2)
    url = f"{viber.api_url}/send_message"
    headers = {AUTH_HEADER: viber.auth_token}

    statuses = []
    for _ in range(3):
        async with http.post(url, json=text(resident.id), headers=headers) as response:
            statuses.append(response.status)

    assert statuses == [503, 503, 200]
    assert [(c.status, c.http_status) for c in viber.calls_of("send_message")] == [
        (None, 503),
        (None, 503),
        (0, 200),
    ]
    with pytest.raises(ValueError, match="does not serve"):
        viber.fail("sendMessage")


# ------------------------------------------------------------------ other methods


async def test_account_user_details_online_and_broadcast(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    olena = viber.user(name="Olena", language="en")
    petro = viber.user(name="Petro")
    await viber.send_text(olena, "hi")

    account = await call(http, viber, "get_account_info")
    details = await call(http, viber, "get_user_details", {"id": olena.id})
    await call(http, viber, "get_user_details", {"id": olena.id})
    third = await call(http, viber, "get_user_details", {"id": olena.id})
    unknown = await call(http, viber, "get_user_details", {"id": "nobody000000="})
    online = await call(http, viber, "get_online", {"ids": [olena.id, "nobody000000="]})
    broadcast = await call(
        http,
        viber,
        "broadcast_message",
        {**text("", "City news"), "broadcast_list": [olena.id, petro.id]},
    )
    too_many = await call(
        http,
        viber,
        "broadcast_message",
        {**text("", "x"), "broadcast_list": [f"id{n}" for n in range(301)]},
    )

    assert account["webhook"] == webhook.url and account["subscribers_count"] == 1
    assert details["user"]["name"] == "Olena" and details["user"]["language"] == "en"
    assert third["status"] == ViberStatus.TOO_MANY_REQUESTS  # Viber: twice per 12 hours
    assert unknown["status"] == 5
    assert [u["online_status"] for u in online["users"]] == [0, 4]
    assert broadcast["status"] == 0
    assert broadcast["failed_list"] == [
        {"receiver": petro.id, "status": 6, "status_message": "notSubscribed"}
    ]
    [news] = viber.messages(olena)
    assert (news.text, news.via, news.message_token) == (
        "City news",
        "broadcast_message",
        broadcast["message_token"],
    )
    assert too_many["status"] == 3


# ------------------------------------------------------------------ waiting


async def test_wait_for_messages_waits_for_the_bots_answer(
    viber: ViberStandIn, http: ClientSession, webhook: Hook
) -> None:
    resident = viber.user()
    replies: list[asyncio.Task[dict[str, Any]]] = []

    async def answer_later(event: dict[str, Any]) -> None:
        # A bot answering after its webhook returned, as a queue-based bot does.
        if event["event"] == "message":
            reply = text(event["sender"]["id"], f"echo: {event['message']['text']}")
            replies.append(asyncio.create_task(later(reply)))

    async def later(reply: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return await call(http, viber, "send_message", reply)

    webhook.react = answer_later
    await viber.send_text(resident, "one")
    await viber.send_text(resident, "two")
    assert viber.messages(resident) == []

    sent = await viber.wait_for_messages(resident.id, 2)

    assert [m.text for m in sent] == ["echo: one", "echo: two"]
    answers = await asyncio.gather(*replies)
    assert [a["message_token"] for a in answers] == [m.message_token for m in sent]
    with pytest.raises(TimeoutError, match="expected 3 bot messages"):
        await viber.wait_for_messages(resident.id, 3, timeout=0.1)


# ----------------------------------------------------------- the viberbot SDK


async def test_viberbot_parses_every_callback(viber: ViberStandIn, webhook: Hook) -> None:
    resident = viber.user(name="Olena", avatar="https://cdn.example/o.jpg")
    await viber.open_conversation(resident, context="poster-17")
    await viber.subscribe(resident)
    await viber.send_text(resident, "Яма на Хрещатику")
    await viber.send_picture(resident, caption="фото")
    await viber.send_video(resident)
    await viber.send_file(resident)
    await viber.send_location(resident, 50.4473, 30.5226)
    await viber.send_contact(resident)
    await viber.send_sticker(resident)
    token = 5_491_000_000_000_000_777  # a message the bot sent earlier
    await viber.notify_delivered(resident, token)
    await viber.notify_seen(resident, token)
    await viber.notify_failed(resident, token, desc="keyboard is not valid")
    await viber.unsubscribe(resident)
    sdk = Api(BotConfiguration(viber.auth_token, "15-80", None))

    parsed = [create_request(json.loads(callback.body)) for callback in webhook.received]

    assert all(sdk.verify_signature(c.body, c.headers[SIGNATURE_HEADER]) for c in webhook.received)
    started, subscribed, *messages, delivered, seen, failed, unsubscribed = parsed
    assert isinstance(started, ViberConversationStartedRequest)
    assert (started.context, started.subscribed, started.type) == ("poster-17", False, "open")
    assert (started.user.id, started.user.name, started.user.avatar) == (
        resident.id,
        "Olena",
        "https://cdn.example/o.jpg",
    )
    assert isinstance(subscribed, ViberSubscribedRequest)
    assert subscribed.user.id == resident.id
    assert all(isinstance(m, ViberMessageRequest) for m in messages)
    kinds = [type(m.message).__name__ for m in messages]
    assert kinds == [
        "TextMessage",
        "PictureMessage",
        "VideoMessage",
        "FileMessage",
        "LocationMessage",
        "ContactMessage",
        "StickerMessage",
    ]
    first = messages[0]
    assert isinstance(first, ViberMessageRequest)
    assert (first.sender.id, first.message.text) == (resident.id, "Яма на Хрещатику")
    assert messages[4].message.location.latitude == 50.4473
    assert messages[5].message.contact.phone_number == resident.phone
    assert messages[6].message.sticker_id == 40100
    assert all(m.message.validate() for m in messages)
    assert isinstance(delivered, ViberDeliveredRequest) and delivered.user_id == resident.id
    assert isinstance(seen, ViberSeenRequest) and seen.message_token == token
    assert isinstance(failed, ViberFailedRequest) and failed.desc == "keyboard is not valid"
    assert isinstance(unsubscribed, ViberUnsubscribedRequest)
    assert unsubscribed.user_id == resident.id


async def test_viberbots_blocking_client_works_against_the_stand_in(
    viber: ViberStandIn, hook: Hook
) -> None:
    """viberbot sends the token in the body and no header; the stand-in takes both."""
    sdk = Api(BotConfiguration(viber.auth_token, "15-80", None))
    sdk._request_sender._viber_bot_api_url = viber.api_url
    resident = viber.user()

    event_types = await asyncio.to_thread(sdk.set_webhook, hook.url)
    await viber.send_text(resident, "hi")
    message = TextMessage(text="Hello from the SDK", keyboard=KEYBOARD, min_api_version=3)
    tokens = await asyncio.to_thread(sdk.send_messages, resident.id, [message])
    details = await asyncio.to_thread(sdk.get_user_details, resident.id)

    assert "conversation_started" in event_types
    [sent] = viber.messages(resident)
    assert tokens == [sent.message_token]
    assert (sent.text, sent.sender["name"], sent.min_api_version) == (
        "Hello from the SDK",
        "15-80",
        3,
    )
    assert details["id"] == resident.id
    assert [c.method for c in viber.calls] == ["set_webhook", "send_message", "get_user_details"]
