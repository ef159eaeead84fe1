"""The Telegram renderer: a neutral reply in, the exact Bot API calls out."""

from __future__ import annotations

from typing import Any

from aiogram.client.default import Default

from bot.telegram.calls import ApiCall, Call
from bot.telegram.render import KEYBOARD_CARRIER, TEXT_LIMIT, render, render_press
from domain.actions import Act, Action
from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Button, Reply, Request

CHAT = 1001
MENU = Button("🏠 Menu", Action(Act.MENU))
NEW = Button("📝 New appeal", Action(Act.NEW_APPEAL))
ROADS = Button("Roads", Action(Act.CATEGORY, "roads"))


def _set(value: Any) -> Any:
    """Fields left to the bot's defaults (parse mode, previews) are not the renderer's."""
    if isinstance(value, dict):
        return {k: _set(v) for k, v in value.items() if not isinstance(v, Default)}
    if isinstance(value, list):
        return [_set(v) for v in value]
    return value


def _dumped(call: Call) -> tuple[str, dict[str, Any]]:
    """The call as aiogram sends its method."""
    method = call.to_method() if isinstance(call, ApiCall) else call
    return method.__api_method__, _set(method.model_dump(exclude_none=True))


def wire(calls: list[Call]) -> list[tuple[str, dict[str, Any]]]:
    """Each call as its method name and the fields it sends. A call in its wire form is sent
    as it is where nobody reads the answer, and as aiogram's method where one does (or when
    it waited in the outbox): both must say the same."""
    sent: list[tuple[str, dict[str, Any]]] = []
    for call in calls:
        if isinstance(call, ApiCall):
            assert (call.method, call.params) == _dumped(call)
            sent.append((call.method, call.params))
        else:
            sent.append(_dumped(call))
    return sent


def test_buttons_become_an_inline_keyboard_of_action_ids() -> None:
    calls = render(CHAT, [Reply("Choose:", ((ROADS,), (NEW, MENU)))])
    assert wire(calls) == [
        (
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": "Choose:",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Roads", "callback_data": "cat:roads"}],
                        [
                            {"text": "📝 New appeal", "callback_data": "new"},
                            {"text": "🏠 Menu", "callback_data": "menu"},
                        ],
                    ]
                },
            },
        )
    ]


def test_a_plain_reply_in_a_private_chat_removes_a_request_keyboard_and_not_in_a_group() -> None:
    assert wire(render(CHAT, [Reply("Thanks")])) == [
        (
            "sendMessage",
            {"chat_id": CHAT, "text": "Thanks", "reply_markup": {"remove_keyboard": True}},
        )
    ]
    staff = render(-100, [Reply("Card")], private=False, thread_id=7, reply_to=42)
    assert wire(staff) == [
        (
            "sendMessage",
            {
                "chat_id": -100,
                "text": "Card",
                "message_thread_id": 7,
                "reply_parameters": {"message_id": 42, "allow_sending_without_reply": True},
            },
        )
    ]


def test_a_request_is_a_reply_keyboard_and_with_buttons_a_second_message() -> None:
    contact = Reply("Share your phone", request=Request.CONTACT, request_label="📱 Share")
    assert wire(render(CHAT, [contact])) == [
        (
            "sendMessage",
            {
                "chat_id": CHAT,
                "text": "Share your phone",
                "reply_markup": {
                    "keyboard": [[{"text": "📱 Share", "request_contact": True}]],
                    "resize_keyboard": True,
                    "one_time_keyboard": True,
                },
            },
        )
    ]
    location = Reply(
        "Where is it?", ((MENU,),), request=Request.LOCATION, request_label="📍 Send location"
    )
    calls = wire(render(CHAT, [location]))
    assert [(name, fields["text"]) for name, fields in calls] == [
        ("sendMessage", "Where is it?"),
        ("sendMessage", KEYBOARD_CARRIER),
    ]
    assert calls[0][1]["reply_markup"] == {
        "inline_keyboard": [[{"text": "🏠 Menu", "callback_data": "menu"}]]
    }
    assert calls[1][1]["reply_markup"]["keyboard"] == [
        [{"text": "📍 Send location", "request_location": True}]
    ]


def test_media_go_first_one_as_itself_several_as_an_album() -> None:
    photo = MediaItem(MediaKind.PHOTO, "photo-id")
    video = MediaItem(MediaKind.VIDEO, "video-id")
    one = wire(render(CHAT, [Reply("Done", media=(video,))]))
    assert [name for name, _fields in one] == ["sendVideo", "sendMessage"]
    assert one[0][1] == {"chat_id": CHAT, "video": "video-id"}
    album = wire(render(CHAT, [Reply("Before and after", media=(photo, video))]))
    assert album[0] == (
        "sendMediaGroup",
        {
            "chat_id": CHAT,
            "media": [
                {"type": "photo", "media": "photo-id"},
                {"type": "video", "media": "video-id"},
            ],
        },
    )


def test_a_long_text_is_cut_to_telegrams_limit() -> None:
    (call,) = wire(render(CHAT, [Reply("x" * (TEXT_LIMIT + 10))], private=False))
    assert len(call[1]["text"]) == TEXT_LIMIT
    assert call[1]["text"].endswith("…")


def test_a_press_edits_the_pressed_message_where_the_dialog_allows() -> None:
    screen = Reply("Choose:", ((ROADS,),), in_place=True)
    answer = render_press(CHAT, [screen, Reply("And then")], origin=55)
    assert answer.edit is not None
    assert wire([answer.edit]) == [
        (
            "editMessageText",
            {
                "chat_id": CHAT,
                "message_id": 55,
                "text": "Choose:",
                "reply_markup": {
                    "inline_keyboard": [[{"text": "Roads", "callback_data": "cat:roads"}]]
                },
            },
        )
    ]
    # Should Telegram refuse the edit, the same screen goes as a new message.
    assert [fields["text"] for _name, fields in wire(answer.fallback)] == ["Choose:"]
    assert [fields["text"] for _name, fields in wire(answer.rest)] == ["And then"]


def test_a_press_under_a_kept_message_takes_its_keyboard_and_answers_below() -> None:
    answer = render_press(CHAT, [Reply("Thank you!")], origin=56)
    assert answer.edit is not None
    assert wire([answer.edit]) == [("editMessageReplyMarkup", {"chat_id": CHAT, "message_id": 56})]
    assert [name for name, _fields in wire(answer.rest)] == ["sendMessage"]
