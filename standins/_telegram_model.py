"""Public value types of the stand-in Telegram server: people, chats, calls, transcripts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ApiCall", "Delivery", "FakeChat", "FakeUser", "SentMessage"]


@dataclass(frozen=True)
class FakeUser:
    """A simulated Telegram user. Their private chat with the bot has ``id == user.id``."""

    id: int
    first_name: str = "Resident"
    language_code: str | None = "uk"
    username: str | None = None
    last_name: str | None = None

    @property
    def chat_id(self) -> int:
        """Id of the user's private chat with the bot."""
        return self.id

    def to_json(self) -> dict[str, Any]:
        """The Bot API ``User`` object (``from`` of the user's messages)."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data


@dataclass
class FakeChat:
    """A simulated chat: a user's private chat or a supergroup (optionally a forum).

    ``members`` and ``admins`` hold user ids; the bot is a member and administrator of
    every group it is created for. Removing the bot's id from ``members`` makes sends to
    the group fail the way they do after the bot is kicked.
    """

    id: int
    type: Literal["private", "supergroup"]
    title: str | None = None
    is_forum: bool = False
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    topics: dict[int, str] = field(default_factory=dict)
    """Forum topics: ``message_thread_id -> name``."""

    def add_member(self, user: FakeUser | int) -> None:
        """Let ``user`` into the group (``getChatMember`` then answers ``member``)."""
        self.members.add(user if isinstance(user, int) else user.id)

    def remove_member(self, user: FakeUser | int) -> None:
        """Remove ``user`` from the group (``getChatMember`` then answers ``left``)."""
        user_id = user if isinstance(user, int) else user.id
        self.members.discard(user_id)
        self.admins.discard(user_id)

    def to_json(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object, as embedded in messages."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or ""
            if self.last_name is not None:
                data["last_name"] = self.last_name
        else:
            data["title"] = self.title or ""
            if self.is_forum:
                data["is_forum"] = True  # Telegram omits the flag for ordinary groups
        if self.username is not None:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request the bot made (recorded when answered, so a long poll
    appears when it returns).

    ``params`` are decoded (``reply_markup``, ``media``... are Python objects; numbers
    and booleans are typed) and uploads appear as ``{"upload": filename, "size": n}``.
    ``ok`` tells whether the stand-in answered with success.
    """

    method: str
    params: dict[str, Any]
    ok: bool


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one update to the bot.

    ``status`` is the HTTP status the bot's webhook answered, or ``None`` in polling
    mode. ``delivered`` is false when Telegram would not have delivered the update at
    all (its type is not in the bot's ``allowed_updates``, or pending updates were
    dropped by ``setWebhook(drop_pending_updates=True)``).
    """

    update: dict[str, Any]
    status: int | None
    delivered: bool = True

    @property
    def update_id(self) -> int:
        """The ``update_id`` of the delivered update."""
        return int(self.update["update_id"])

    @property
    def message_id(self) -> int | None:
        """Id of the user's message this update carried, if it carried one."""
        message = self.update.get("message")
        return int(message["message_id"]) if isinstance(message, dict) else None


@dataclass
class SentMessage:
    """A message the bot sent, in its latest state (edits and deletions apply in place).

    ``kind`` is what the message shows: ``"text"``, ``"photo"``, ``"video"``,
    ``"document"``, ``"location"``, ``"venue"``, ``"contact"``, ``"sticker"``,
    ``"voice"``, or ``"media_group_item"`` for one item of ``sendMediaGroup`` (whose
    ``media_kind`` then tells ``"photo"``/``"video"``/``"document"``). ``text`` is the
    text or caption as the user sees it (HTML already rendered to plain text), ``media``
    is the file the bot named (a file_id or URL string) or, for uploads,
    ``{"upload": filename, "size": n}``. ``raw`` is the ``Message`` JSON Telegram
    would show now.
    """

    message_id: int
    chat_id: int
    kind: str
    text: str | None
    reply_markup: dict[str, Any] | None
    media: str | dict[str, Any] | None
    raw: dict[str, Any]
    message_thread_id: int | None = None
    reply_to_message_id: int | None = None
    edited: bool = False
    deleted: bool = False
    media_kind: str | None = None
    media_group_id: str | None = None
    location: tuple[float, float] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    copied_from: tuple[int, int] | None = None
    """``(chat_id, message_id)`` of the source for ``copyMessage``/``forwardMessage``."""

    def buttons(self) -> list[tuple[str, str]]:
        """Inline buttons that carry callback data, as ``(text, callback_data)``, row by row."""
        return [
            (str(button.get("text", "")), str(button["callback_data"]))
            for button in self.inline_buttons()
            if "callback_data" in button
        ]

    def inline_buttons(self) -> list[dict[str, Any]]:
        """All inline keyboard buttons (callback, url, ...) as sent, row by row."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [button for row in rows for button in row if isinstance(button, dict)]

    def keyboard(self) -> list[dict[str, Any]]:
        """Reply keyboard buttons, e.g. ``{"text": "Share", "request_contact": True}``.

        Plain-string buttons (legal in the Bot API) are normalised to ``{"text": ...}``.
        """
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("keyboard") or []
        return [
            button if isinstance(button, dict) else {"text": str(button)}
            for row in rows
            for button in row
        ]

    @property
    def removes_keyboard(self) -> bool:
        """Whether this message removes the user's reply keyboard."""
        return bool(self.reply_markup and self.reply_markup.get("remove_keyboard"))
