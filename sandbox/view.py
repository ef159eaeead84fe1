"""What the page shows: every chat of the sandbox as plain JSON for the browser."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sandbox.samples import SAMPLES
from sandbox.world import OPERATORS, PEOPLE, RESIDENT, STAFF_CHAT, STRANGER, Sandbox
from standins.telegram import TelegramStandIn

# Preset places of the default city (Lutsk) for the location picker; one lies outside it.
PLACES = (
    ("Theatre Square", 50.7472, 25.3254),
    ("Lutsk Castle", 50.7389, 25.3239),
    ("Central Market", 50.7556, 25.3376),
    ("Railway station", 50.7634, 25.3571),
    ("Kyiv (outside the city)", 50.4501, 30.5234),
)


def _telegram_message(raw: dict[str, Any], tg: TelegramStandIn) -> dict[str, Any]:
    sender = raw.get("from") or {}
    message: dict[str, Any] = {
        "id": raw["message_id"],
        "from_id": sender.get("id"),
        "from": sender.get("first_name", ""),
        "is_bot": bool(sender.get("is_bot")),
        "text": raw.get("text") or raw.get("caption") or "",
        "edited": "edit_date" in raw,
        "date": raw.get("date"),
    }
    if "photo" in raw:
        message["photo"] = f"api/tg/file/{raw['photo'][-1]['file_id']}"
    for kind in ("video", "document", "sticker", "voice"):
        if kind in raw:
            message["attachment"] = kind
    if "location" in raw:
        message["location"] = raw["location"]
    if "contact" in raw:
        message["contact"] = raw["contact"].get("phone_number")
    thread = raw.get("message_thread_id") if raw.get("is_topic_message") else None
    if thread is not None:
        message["thread"] = thread
    created = raw.get("forum_topic_created")
    if isinstance(created, dict):
        message["service"] = f"Topic «{created.get('name', '')}» created"
    reply = raw.get("reply_to_message")
    # Telegram shows a topic message that replies to nothing as a reply to the topic's start.
    if isinstance(reply, dict) and reply.get("message_id") != thread:
        message["reply_to"] = {
            "id": reply.get("message_id"),
            "from": (reply.get("from") or {}).get("first_name", ""),
            "text": (reply.get("text") or reply.get("caption") or "")[:80],
        }
    rows = (raw.get("reply_markup") or {}).get("inline_keyboard") or []
    message["buttons"] = [
        [
            {"text": b.get("text", ""), "data": b.get("callback_data"), "url": b.get("url")}
            for b in row
        ]
        for row in rows
    ]
    return message


def _reply_keyboard(tg: TelegramStandIn, chat_id: int) -> list[list[dict[str, Any]]] | None:
    """The reply keyboard a person in the chat sees: the newest one the bot sent, until a
    message removes it."""
    keyboard: list[list[dict[str, Any]]] | None = None
    for sent in tg.messages(chat_id):
        markup = sent.reply_markup or {}
        if "keyboard" in markup:
            keyboard = [
                [
                    {
                        "text": b if isinstance(b, str) else b.get("text", ""),
                        "contact": isinstance(b, dict) and bool(b.get("request_contact")),
                        "location": isinstance(b, dict) and bool(b.get("request_location")),
                    }
                    for b in row
                ]
                for row in markup["keyboard"]
            ]
        elif markup.get("remove_keyboard"):
            keyboard = None
    return keyboard


def _viber(sandbox: Sandbox) -> dict[str, Any]:
    viber, user = sandbox.viber, sandbox.viber_user
    assert user is not None
    messages = []
    for entry in viber.history(user):
        body = entry.get("message") or {}
        item: dict[str, Any] = {
            "from": entry.get("from"),
            "type": body.get("type", "text"),
            "text": body.get("text") or "",
        }
        if body.get("media"):
            item["media"] = "api/viber/media?url=" + str(body["media"])
        if isinstance(body.get("location"), dict):
            item["location"] = body["location"]
        if isinstance(body.get("contact"), dict):
            item["contact"] = body["contact"].get("phone_number")
        messages.append(item)
    sent = viber.messages(user)
    keyboard = sent[-1].keyboard if sent else None
    buttons = [
        {"text": text, "type": kind, "body": body}
        for text, kind, body in (sent[-1].buttons() if keyboard else [])
    ]
    return {"messages": messages, "buttons": buttons, "name": user.name}


def snapshot(sandbox: Sandbox) -> dict[str, Any]:
    """The whole world as the page draws it."""
    if not sandbox.ready:
        return {"ready": False}
    tg = sandbox.tg
    chats = {
        str(chat_id): {
            "messages": [_telegram_message(raw, tg) for raw in tg.history(chat_id)],
            "keyboard": _reply_keyboard(tg, chat_id),
        }
        for chat_id in (RESIDENT.user_id, STAFF_CHAT)
    }
    now = sandbox.clock().astimezone(ZoneInfo(sandbox.settings.timezone))
    return {
        "ready": True,
        "generation": sandbox.generation,
        "clock": now.isoformat(timespec="minutes"),
        "offset_hours": sandbox.clock.offset.total_seconds() / 3600,
        "resident": {"key": RESIDENT.key, "id": RESIDENT.user_id, "name": RESIDENT.name},
        "staff": {
            "chat": STAFF_CHAT,
            "topics": [
                {"id": thread, "name": name}
                for thread, name in sorted(tg.chat(STAFF_CHAT).topics.items())
            ],
            "people": [
                {"key": p.key, "id": p.user_id, "name": p.name, "role": p.role}
                for p in (*OPERATORS, STRANGER)
            ],
        },
        "people": {str(p.user_id): p.name for p in PEOPLE},
        "telegram": chats,
        "viber": _viber(sandbox),
        "places": [{"name": n, "lat": lat, "lon": lon} for n, lat, lon in PLACES],
        "samples": [{"name": s.name, "title": s.title} for s in SAMPLES],
        "steps": len(sandbox.recorder.steps),
    }
