"""The mutable world behind the stand-in Telegram server.

Everything lives in one :class:`StandInState` per server (no module globals), so any
number of stand-ins can run side by side. The state is only touched from the event loop
the server runs on; waiters are woken through :class:`Signal`.
"""

from __future__ import annotations

import hashlib
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any

from standins._common import Signal
from standins._telegram_model import FakeChat, FakeUser, SentMessage

__all__ = [
    "DEFAULT_UPDATE_TYPES",
    "ChatState",
    "FileRecord",
    "QueuedUpdate",
    "Signal",
    "StandInState",
    "StoredMessage",
    "Webhook",
]

# What Telegram delivers when allowed_updates is empty or was never set: everything but
# these opt-in types.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
DEFAULT_UPDATE_TYPES = "all except chat_member, message_reaction, message_reaction_count"

# Prefixes of real file_ids by kind, so ids in logs look like Telegram's.
_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "thumbnail": "AAMCAgADGQEAAg",
    "audio": "CQACAgIAAxkBAAI",
}
_FILE_FOLDER = {
    "photo": ("photos", "jpg"),
    "video": ("videos", "mp4"),
    "document": ("documents", "bin"),
    "voice": ("voice", "oga"),
    "sticker": ("stickers", "webp"),
    "thumbnail": ("thumbnails", "jpg"),
    "audio": ("music", "mp3"),
}
# Leading bytes of synthesized file contents, so downloads sniff as the right type.
_MAGIC = {
    "photo": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "thumbnail": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "video": b"\x00\x00\x00\x18ftypmp42",
    "voice": b"OggS\x00\x02",
    "sticker": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "document": b"%PDF-1.4\n",
    "audio": b"ID3\x04\x00",
}


@dataclass
class FileRecord:
    """A file Telegram stores: uploaded by the bot or sent by a simulated user."""

    file_id: str
    file_unique_id: str
    kind: str
    size: int
    data: bytes | None
    """Real bytes for bot uploads; ``None`` means synthesize ``size`` plausible bytes."""
    media: Any = None
    """What a message shows for this file: the PhotoSize list of a photo, else the object."""
    file_path: str | None = None

    def content(self) -> bytes:
        """The bytes ``/file/bot<token>/<file_path>`` serves."""
        if self.data is not None:
            return self.data
        magic = _MAGIC.get(self.kind, b"")
        return magic + bytes(max(self.size - len(magic), 0))


@dataclass
class StoredMessage:
    """Any message in a chat, whoever sent it, in its latest state."""

    raw: dict[str, Any]
    sent: SentMessage | None = None
    """The transcript entry, for messages the bot sent."""
    deleted: bool = False
    service: bool = False


@dataclass
class ChatState:
    """A chat plus its message history. Message ids are per chat, shared by all senders."""

    chat: FakeChat
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)


@dataclass
class QueuedUpdate:
    """An update waiting for ``getUpdates`` (polling mode)."""

    update: dict[str, Any]
    redelivery: bool
    """Re-queued after the bot had confirmed it: survives offsets until fetched once."""
    fetched: bool = False
    dropped: bool = False


@dataclass
class Webhook:
    """The webhook the bot configured with ``setWebhook``."""

    url: str
    secret: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


def _stable_digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def update_type(update: dict[str, Any]) -> str:
    """The update's type: its only key besides ``update_id``."""
    kinds = [key for key in update if key != "update_id"]
    return kinds[0] if kinds else ""


class StandInState:
    """Chats, messages, files, pending updates and webhook settings of one stand-in."""

    def __init__(self, token: str, bot_username: str) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "15-80",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.pending_queries: dict[str, int] = {}
        """Unanswered callback query ids -> id of the user who pressed."""
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: Webhook | None = None
        self.allowed_updates: list[str] | None = None
        self.queue: list[QueuedUpdate] = []
        self.offset = 0
        """Updates with a smaller id are confirmed (polling mode)."""
        self.acked: set[int] = set()
        """Update ids the bot's webhook acknowledged with a 2xx."""
        self.poll_generation = 0
        self.closing = False
        self.blocked_users: set[int] = set()
        self.changed = Signal()
        # Realistic, non-zero starting points: a bot must never rely on ids being small.
        self._update_seq = 734_200_000
        self._file_seq = 0
        self._query_seq = 4_213_000_000_000_000_000
        self._media_group_seq = 13_900_000_000_000_000

    # ----------------------------------------------------------------- ids and time

    @staticmethod
    def now() -> int:
        """Telegram dates are Unix seconds."""
        return int(time.time())

    def next_update_id(self) -> int:
        """A fresh, strictly increasing ``update_id``."""
        self._update_seq += 1
        return self._update_seq

    def note_update_id(self, update_id: int) -> None:
        """Keep generated ids ahead of ids of raw updates given to ``deliver``."""
        self._update_seq = max(self._update_seq, update_id)

    def next_query_id(self) -> str:
        """A fresh callback query id (Telegram's are long decimal strings)."""
        self._query_seq += 1
        return str(self._query_seq)

    def next_media_group_id(self) -> str:
        """A fresh ``media_group_id``."""
        self._media_group_seq += 1
        return str(self._media_group_seq)

    def chat_instance(self, chat_id: int) -> str:
        """Stable per-chat ``chat_instance`` of callback queries."""
        return str(int.from_bytes(_stable_digest("chat", self.bot_id, chat_id)[:7], "big"))

    # ------------------------------------------------------------- people and chats

    def add_user(self, user: FakeUser) -> FakeUser:
        """Register (or update) a user and their private chat with the bot."""
        self.users[user.id] = user
        state = self.chats.get(user.id)
        if state is None:
            chat = FakeChat(id=user.id, type="private", members={user.id, self.bot_id})
            state = self.chats[user.id] = ChatState(chat)
        state.chat.first_name = user.first_name
        state.chat.last_name = user.last_name
        state.chat.username = user.username
        return user

    def add_group(self, chat: FakeChat) -> FakeChat:
        """Register a supergroup; its members that are not known users are created."""
        chat.members.add(self.bot_id)
        chat.admins.add(self.bot_id)
        for user_id in chat.members | chat.admins:
            if user_id != self.bot_id and user_id not in self.users:
                self.add_user(FakeUser(user_id, first_name=f"User {user_id}"))
        chat.members |= chat.admins
        existing = self.chats.get(chat.id)
        if existing is not None:
            existing.chat = chat
        else:
            self.chats[chat.id] = ChatState(chat)
        return chat

    # ---------------------------------------------------------------------- messages

    def allocate_message_id(self, state: ChatState) -> int:
        """The next message id in ``state``'s chat."""
        message_id = state.next_message_id
        state.next_message_id += 1
        return message_id

    def find_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        """A message of the chat that still exists (not deleted), or ``None``."""
        state = self.chats.get(chat_id)
        stored = state.messages.get(message_id) if state else None
        return stored if stored is not None and not stored.deleted else None

    @staticmethod
    def reply_snapshot(stored: StoredMessage) -> dict[str, Any]:
        """How a replied-to message is embedded: Telegram never nests replies deeper."""
        return {key: value for key, value in stored.raw.items() if key != "reply_to_message"}

    def place(
        self,
        state: ChatState,
        raw: dict[str, Any],
        *,
        thread_id: int | None,
        reply_to: StoredMessage | None,
    ) -> int | None:
        """Fill thread and reply fields of a new message; returns its thread id.

        Mirrors forum quirks bots depend on: a reply inherits the replied message's
        topic, and a topic message that replies to nothing is shown by Telegram as a
        reply to the topic's creation message.
        """
        if thread_id is None and reply_to is not None and reply_to.raw.get("is_topic_message"):
            thread_id = int(reply_to.raw["message_thread_id"])
        if not state.chat.is_forum:
            thread_id = None
        if thread_id is not None:
            raw["message_thread_id"] = thread_id
            raw["is_topic_message"] = True
            if reply_to is None:
                reply_to = state.messages.get(thread_id)
        if reply_to is not None:
            raw["reply_to_message"] = self.reply_snapshot(reply_to)
        return thread_id

    def store(self, state: ChatState, stored: StoredMessage) -> StoredMessage:
        """Add a message to the chat history and wake waiters."""
        state.messages[int(stored.raw["message_id"])] = stored
        self.changed.notify()
        return stored

    def bot_messages(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages in the chat, oldest first (service messages excluded)."""
        state = self.chats.get(chat_id)
        if state is None:
            return []
        return [
            stored.sent
            for _, stored in sorted(state.messages.items())
            if stored.sent is not None and not stored.service
        ]

    # ------------------------------------------------------------------------- files

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        self._file_seq += 1
        digest = _stable_digest(self.bot_id, kind, self._file_seq)
        body = urlsafe_b64encode(digest + self._file_seq.to_bytes(4, "big")).decode().rstrip("=")
        file_id = _FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAAI") + body
        unique_id = "AQAD" + urlsafe_b64encode(digest[:9]).decode().rstrip("=")
        return file_id, unique_id

    def register_file(
        self,
        kind: str,
        *,
        size: int,
        data: bytes | None = None,
        fields: dict[str, Any] | None = None,
    ) -> FileRecord:
        """Store a new file; ``fields`` are extra attributes of its JSON object."""
        file_id, unique_id = self._new_file_ids(kind)
        obj: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id}
        obj.update(fields or {})
        obj["file_size"] = size
        record = FileRecord(file_id, unique_id, kind, size, data, media=obj)
        self.files[file_id] = record
        return record

    def register_photo(
        self, data: bytes | None = None, *, width: int = 1280, height: int = 960
    ) -> list[dict[str, Any]]:
        """Store a photo as Telegram does: three sizes, each its own file."""
        sizes: list[dict[str, Any]] = []
        records: list[FileRecord] = []
        for scale, approx_size in ((90, 1_300), (320, 14_800), (max(width, height), 0)):
            factor = min(1.0, scale / max(width, height))
            is_original = approx_size == 0
            size = len(data) if is_original and data is not None else approx_size or 96_000
            record = self.register_file(
                "photo",
                size=size,
                data=data if is_original else None,
                fields={"width": round(width * factor), "height": round(height * factor)},
            )
            sizes.append(record.media)
            records.append(record)
        for record in records:
            record.media = sizes  # any size's file_id re-sends the whole photo
        return sizes

    def file_path(self, record: FileRecord) -> str:
        """Assign (once) the download path ``getFile`` reports."""
        if record.file_path is None:
            folder, extension = _FILE_FOLDER.get(record.kind, ("documents", "bin"))
            record.file_path = f"{folder}/file_{len(self.files_by_path)}.{extension}"
            self.files_by_path[record.file_path] = record
        return record.file_path

    # ----------------------------------------------------------------------- updates

    def accepts(self, update: dict[str, Any]) -> bool:
        """Whether Telegram would deliver this update given the bot's allowed_updates."""
        kind = update_type(update)
        if not self.allowed_updates:
            return kind not in _OPT_IN_UPDATE_TYPES
        return kind in self.allowed_updates

    def enqueue(self, update: dict[str, Any]) -> QueuedUpdate:
        """Queue an update for ``getUpdates``."""
        update_id = int(update["update_id"])
        entry = QueuedUpdate(update, redelivery=update_id < self.offset)
        self.queue.append(entry)
        self.changed.notify()
        return entry

    def confirm(self, offset: int | None) -> None:
        """Apply ``getUpdates(offset=...)``: forget confirmed updates like Telegram.

        A positive offset confirms every update with a smaller id; a negative one keeps
        only the last ``-offset`` updates.
        """
        if offset is None or offset == 0:
            return
        if offset < 0:
            keep = self.queue[offset:]
            for entry in self.queue[:offset]:
                entry.dropped = True
            self.queue = keep
            if keep:
                self.offset = max(self.offset, int(keep[0].update["update_id"]))
        else:
            self.offset = max(self.offset, offset)
            remaining: list[QueuedUpdate] = []
            for entry in self.queue:
                confirmed = int(entry.update["update_id"]) < self.offset
                if confirmed and (entry.fetched or not entry.redelivery):
                    entry.dropped = not entry.fetched
                    continue
                remaining.append(entry)
            self.queue = remaining
        self.changed.notify()

    def take(self, limit: int) -> list[QueuedUpdate]:
        """Up to ``limit`` oldest unconfirmed updates, marked as fetched."""
        batch = self.queue[:limit]
        for entry in batch:
            entry.fetched = True
        if batch:
            self.changed.notify()
        return batch

    def drop_pending(self) -> None:
        """``drop_pending_updates``: forget every queued update."""
        for entry in self.queue:
            entry.dropped = not entry.fetched
        self.queue = []
        self.changed.notify()

    def is_confirmed(self, update_id: int) -> bool:
        """Whether the bot confirmed the update (offset past it, or webhook 2xx)."""
        return update_id < self.offset or update_id in self.acked
