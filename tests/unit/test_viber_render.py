"""The Viber renderer: a neutral reply in, the exact send_message payloads out."""

from __future__ import annotations

from bot.viber.render import REQUEST_API_VERSION, TEXT_LIMIT, render
from domain.actions import Act, Action
from domain.dialog.events import MediaItem, MediaKind
from domain.dialog.replies import Button, Reply, Request

MENU = Button("🏠 Menu", Action(Act.MENU))
NEW = Button("📝 New appeal", Action(Act.NEW_APPEAL))
ROADS = Button("Roads", Action(Act.CATEGORY, "roads"))


def button(text: str, body: str, columns: int, action_type: str = "reply") -> dict[str, object]:
    return {
        "Columns": columns,
        "Rows": 1,
        "ActionType": action_type,
        "ActionBody": body,
        "Text": text,
        "TextSize": "regular",
        "Silent": True,
    }


def board(*buttons: dict[str, object]) -> dict[str, object]:
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "InputFieldState": "regular",
        "Buttons": list(buttons),
    }


async def no_media(item: MediaItem) -> tuple[str, int] | None:
    return None


async def hosted(item: MediaItem) -> tuple[str, int] | None:
    return f"https://media.example/{item.file_ref}", 1234


async def test_buttons_share_a_rows_six_columns_and_carry_action_ids() -> None:
    payloads = await render([Reply("Choose:", ((ROADS,), (NEW, MENU)))], no_media)
    assert payloads == [
        {
            "type": "text",
            "text": "Choose:",
            "keyboard": board(
                button("Roads", "cat:roads", 6),
                button("📝 New appeal", "new", 3),
                button("🏠 Menu", "menu", 3),
            ),
        }
    ]


async def test_a_plain_reply_has_no_keyboard() -> None:
    assert await render([Reply("Thanks")], no_media) == [{"type": "text", "text": "Thanks"}]


async def test_requests_are_viber_controls_on_top_and_need_api_version_3() -> None:
    contact = Reply("Share your phone", request=Request.CONTACT, request_label="📱 Share")
    location = Reply("Where?", ((MENU,),), request=Request.LOCATION, request_label="📍 Location")
    assert await render([contact, location], no_media) == [
        {
            "type": "text",
            "text": "Share your phone",
            "keyboard": board(button("📱 Share", "share-phone", 6, "share-phone")),
            "min_api_version": REQUEST_API_VERSION,
        },
        {
            "type": "text",
            "text": "Where?",
            "keyboard": board(
                button("📍 Location", "location", 6, "location-picker"),
                button("🏠 Menu", "menu", 6),
            ),
            "min_api_version": REQUEST_API_VERSION,
        },
    ]


async def test_media_go_first_by_url_and_media_without_one_is_left_out() -> None:
    reply = Reply(
        "Before and after",
        media=(MediaItem(MediaKind.PHOTO, "before.jpg"), MediaItem(MediaKind.VIDEO, "after.mp4")),
    )
    assert await render([reply], hosted) == [
        {"type": "picture", "media": "https://media.example/before.jpg", "text": ""},
        {"type": "video", "media": "https://media.example/after.mp4", "size": 1234},
        {"type": "text", "text": "Before and after"},
    ]
    assert await render([reply], no_media) == [{"type": "text", "text": "Before and after"}]


async def test_a_long_text_is_cut_to_vibers_limit() -> None:
    (payload,) = await render([Reply("x" * (TEXT_LIMIT + 1))], no_media)
    assert len(payload["text"]) == TEXT_LIMIT
    assert payload["text"].endswith("…")
