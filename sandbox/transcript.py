"""Transcripts: what people did in the sandbox and what every chat showed after each step.

A transcript is JSON: the clock at each step, the action, the bot's answer to a press and
the chats' lines that changed. Replaying one on a fresh sandbox with the clock pinned to
the recorded moments must show the same lines: a session on the page becomes a regression
test (`tests/sandbox/test_replay.py` replays those under `tests/sandbox/transcripts/`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from standins.telegram import TelegramStandIn
    from standins.viber import ViberStandIn, ViberUser

FORMAT = "15-80 sandbox transcript"
# Staff confirmations carry a random token in their callback data ("s_ok:1.13762ae4"): the
# same button on a replay has another.
_TOKEN = re.compile(r"\.[0-9a-f]{6,}$")
VERSION = 1


def _telegram_line(raw: dict[str, Any], bot_id: int) -> str:
    sender = raw.get("from") or {}
    who = "bot" if sender.get("id") == bot_id else str(sender.get("first_name", "?"))
    body = raw.get("text") or raw.get("caption") or ""
    for kind in ("photo", "video", "document", "location", "contact", "sticker", "voice"):
        if kind in raw:
            body = f"[{kind}] {body}".rstrip()
            break
    created = raw.get("forum_topic_created")
    if isinstance(created, dict):
        body = f"[topic] {created.get('name')}"
    thread = raw.get("message_thread_id") if raw.get("is_topic_message") else None
    if thread is not None:
        body = f"(topic #{thread}) {body}"
    reply = raw.get("reply_to_message")
    if isinstance(reply, dict) and reply.get("message_id") != thread:
        body = f"(re #{reply.get('message_id')}) {body}"
    rows = (raw.get("reply_markup") or {}).get("inline_keyboard") or []
    data = [
        _TOKEN.sub(".<token>", b.get("callback_data") or b.get("url") or "")
        for row in rows
        for b in row
    ]
    suffix = f" {data}" if data else ""
    return f"#{raw.get('message_id')} {who}: {body}{suffix}"


def _viber_line(entry: dict[str, Any]) -> str:
    message = entry.get("message") or {}
    body = message.get("text") or ""
    kind = message.get("type", "text")
    if kind != "text":
        body = f"[{kind}] {body}".rstrip()
    keyboard = message.get("keyboard") or {}
    bodies = [b.get("ActionBody", "") for b in keyboard.get("Buttons") or [] if isinstance(b, dict)]
    suffix = f" {bodies}" if bodies else ""
    return f"{entry.get('from')}: {body}{suffix}"


def chat_lines(
    tg: TelegramStandIn, chat_ids: list[int], viber: ViberStandIn, viber_user: ViberUser
) -> dict[str, list[str]]:
    lines = {
        f"telegram:{chat_id}": [_telegram_line(raw, tg.bot_id) for raw in tg.history(chat_id)]
        for chat_id in chat_ids
    }
    lines["viber"] = [_viber_line(entry) for entry in viber.history(viber_user)]
    return lines


def changed_tail(before: list[str], after: list[str]) -> tuple[int, list[str]]:
    """Where `after` starts to differ from `before`, and the lines from there on."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    return start, after[start:]


@dataclass
class Step:
    at: datetime
    action: dict[str, Any]
    result: dict[str, Any]
    saw: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "action": self.action,
            "result": self.result,
            "saw": self.saw,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(datetime.fromisoformat(data["at"]), data["action"], data["result"], data["saw"])


def compare(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    saw: dict[str, dict[str, Any]] = {}
    for chat, lines in after.items():
        start, tail = changed_tail(before.get(chat, []), lines)
        if tail or start != len(before.get(chat, [])):
            saw[chat] = {"from": start, "lines": tail}
    return saw


@dataclass
class Recorder:
    started: datetime | None = None
    steps: list[Step] = field(default_factory=list)

    def start(self, moment: datetime) -> None:
        self.started = moment
        self.steps = []

    def record(
        self,
        at: datetime,
        action: dict[str, Any],
        result: dict[str, Any],
        before: dict[str, list[str]],
        after: dict[str, list[str]],
    ) -> None:
        self.steps.append(Step(at, dict(action), result, compare(before, after)))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "started": self.started.isoformat() if self.started else None,
            "steps": [step.to_json() for step in self.steps],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1)


def load(text: str) -> list[Step]:
    data = json.loads(text)
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError("not a 15-80 sandbox transcript of a version this code reads")
    return [Step.from_json(step) for step in data["steps"]]
