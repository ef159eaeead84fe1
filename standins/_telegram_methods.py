"""Bot API method handlers of the stand-in Telegram server: one handler per method.

Handlers receive decoded parameters (see ``_telegram_wire``), validate them the way the
Bot API server does, mutate :class:`StandInState` and return the ``result`` JSON (or
raise :class:`ApiError` with Telegram's error wording).
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from standins._telegram_html import EntityParseError, parse_html
from standins._telegram_model import SentMessage
from standins._telegram_state import ChatState, StandInState, StoredMessage, Webhook
from standins._telegram_wire import ApiError, Upload, bad_request

__all__ = ["Answer", "BotApiMethods", "Handler"]


@dataclass(frozen=True)
class Answer:
    """A successful result that Telegram accompanies with a ``description``."""

    result: Any
    description: str


Handler = Callable[[dict[str, Any]], Awaitable[Any]]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes, not characters
CALLBACK_ANSWER_LIMIT = 200
DOWNLOAD_LIMIT = 20 * 1024 * 1024
# What a bot may upload through the public Bot API: 10 MB for a photo (sendPhoto, or a
# photo in an album), 50 MB for any other file. Read as decimal megabytes: the stricter
# reading, so a bot that passes here passes there.
PHOTO_UPLOAD_LIMIT = 10_000_000
UPLOAD_LIMIT = 50_000_000

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

CHAT_ACTIONS = frozenset(
    {
        "choose_sticker",
        "find_location",
        "record_video",
        "record_video_note",
        "record_voice",
        "typing",
        "upload_document",
        "upload_photo",
        "upload_video",
        "upload_video_note",
        "upload_voice",
    }
)
# Inline button fields that give a button something to do; a button needs exactly one.
_INLINE_ACTIONS = frozenset(
    {
        "callback_data",
        "callback_game",
        "copy_text",
        "login_url",
        "pay",
        "switch_inline_query",
        "switch_inline_query_chosen_chat",
        "switch_inline_query_current_chat",
        "url",
        "web_app",
    }
)
# Content keys a copy or forward carries over, in the order that decides its kind
# (a venue also carries a location, so it comes first).
_CONTENT_KINDS = (
    "text",
    "photo",
    "video",
    "document",
    "audio",
    "voice",
    "sticker",
    "venue",
    "location",
    "contact",
)
_CONTENT_EXTRAS = ("entities", "caption", "caption_entities", "has_media_spoiler")
_FILE_TYPE_NAMES = {
    "audio": "Audio",
    "document": "Document",
    "photo": "Photo",
    "sticker": "Sticker",
    "thumbnail": "Thumbnail",
    "video": "Video",
    "voice": "VoiceNote",
}
_ALBUM_TYPES = frozenset({"photo", "video", "document", "audio"})
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_DEFAULT_TOPIC_COLOR = 0x6FB9F0

# ------------------------------------------------------------------ parameter readers


def _opt_str(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _opt_int(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f'field "{key}" must be of type Integer') from None


def _opt_float(params: Mapping[str, Any], key: str) -> float | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise bad_request(f'field "{key}" must be of type Float') from None


def _opt_bool(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _kind_of(content: Mapping[str, Any]) -> str:
    return next((kind for kind in _CONTENT_KINDS if kind in content), "unknown")


def _media_descriptor(content: Mapping[str, Any], kind: str) -> str | None:
    """The file_id a copied/forwarded message shows (largest size for photos)."""
    media = content.get(kind)
    if isinstance(media, list) and media:
        media = media[-1]
    if isinstance(media, dict) and isinstance(media.get("file_id"), str):
        return str(media["file_id"])
    return None


def _location_of(content: Mapping[str, Any]) -> tuple[float, float] | None:
    location = content.get("location")
    if isinstance(location, dict):
        return float(location["latitude"]), float(location["longitude"])
    return None


def _admin_json(user: dict[str, Any]) -> dict[str, Any]:
    """A ``ChatMemberAdministrator`` with the rights a staff-group admin bot needs."""
    return {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": True,
        "can_edit_stories": True,
        "can_delete_stories": True,
        "can_send_welcome_messages": True,
        "can_pin_messages": True,
        "can_manage_topics": True,
    }


@dataclass
class _Target:
    """Where a new bot message goes."""

    state: ChatState
    thread_id: int | None
    reply_to: StoredMessage | None


@dataclass
class _Formatted:
    """Text or caption after parse_mode processing."""

    text: str | None
    entities: list[dict[str, Any]]
    parse_mode: str | None


class BotApiMethods:
    """The dispatch table of Bot API methods over one :class:`StandInState`."""

    def __init__(self, state: StandInState) -> None:
        self.state = state
        handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.log_out,
            "close": self.close,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getMyCommands": self.get_my_commands,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendVideo": self.send_video,
            "sendDocument": self.send_document,
            "sendLocation": self.send_location,
            "sendVenue": self.send_venue,
            "sendMediaGroup": self.send_media_group,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "createForumTopic": self.create_forum_topic,
            "getFile": self.get_file,
        }
        # Bot API method names are case-insensitive.
        self.table: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers.items()
        }

    def lookup(self, method: str) -> tuple[str, Handler] | None:
        """``(canonical name, handler)`` for a method name in any letter case."""
        return self.table.get(method.lower())

    # ------------------------------------------------------------------ shared checks

    def _chat(self, params: Mapping[str, Any], key: str = "chat_id") -> ChatState:
        value = params.get(key)
        if value is None or value == "":
            raise bad_request(f"{key} is empty")
        if isinstance(value, str):
            # "@username" addressing works for chats that have a username.
            for state in self.state.chats.values():
                if state.chat.username and f"@{state.chat.username}".lower() == value.lower():
                    return state
            raise bad_request("chat not found")
        chat_id = _opt_int(params, key)
        found = self.state.chats.get(chat_id) if chat_id is not None else None
        if found is None:
            raise bad_request("chat not found")
        return found

    def _ensure_writable(self, state: ChatState) -> None:
        chat = state.chat
        if chat.type == "private" and chat.id in self.state.blocked_users:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.type != "private" and self.state.bot_id not in chat.members:
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")

    def _thread(self, state: ChatState, params: Mapping[str, Any]) -> int | None:
        thread_id = _opt_int(params, "message_thread_id")
        if thread_id is None or not state.chat.is_forum:
            return None  # outside forums the parameter has no effect
        if thread_id not in state.chat.topics:
            raise bad_request("message thread not found")
        return thread_id

    def _reply_target(self, state: ChatState, params: Mapping[str, Any]) -> StoredMessage | None:
        allow_missing = _opt_bool(params, "allow_sending_without_reply")
        reply_parameters = params.get("reply_parameters")
        chat_id = state.chat.id
        if reply_parameters is not None:
            if not isinstance(reply_parameters, dict):
                raise bad_request("can't parse reply parameters JSON object")
            message_id = _opt_int(reply_parameters, "message_id")
            allow_missing = allow_missing or _opt_bool(
                reply_parameters, "allow_sending_without_reply"
            )
            if reply_parameters.get("chat_id") is not None:
                chat_id = self._chat(reply_parameters).chat.id
        else:
            message_id = _opt_int(params, "reply_to_message_id")
        if message_id is None:
            return None
        stored = self.state.find_message(chat_id, message_id)
        if stored is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return stored

    def _target(self, params: Mapping[str, Any]) -> _Target:
        state = self._chat(params)
        return _Target(state, self._thread(state, params), self._reply_target(state, params))

    def _format(
        self,
        text: str | None,
        parse_mode: str | None,
        entities: Any,
        *,
        limit: int,
        required: bool,
        too_long: str,
    ) -> _Formatted:
        if text is None:
            if required:
                raise bad_request("message text is empty")
            return _Formatted(None, [], parse_mode)
        plain = text
        parsed: list[dict[str, Any]] = []
        if parse_mode:
            mode = parse_mode.lower()
            if mode == "html":
                try:
                    plain, parsed = parse_html(text)
                except EntityParseError as exc:
                    raise bad_request(f"can't parse entities: {exc}") from None
            elif mode not in {"markdown", "markdownv2"}:
                raise bad_request("unsupported parse_mode")
            # Markdown flavours are accepted but not rendered: the transcript shows the
            # markup as sent.
        elif entities is not None:
            if not isinstance(entities, list) or not all(
                isinstance(entity, dict) and {"type", "offset", "length"} <= entity.keys()
                for entity in entities
            ):
                raise bad_request("can't parse entities JSON object")
            parsed = list(entities)
        if not plain.strip():
            if required:
                raise bad_request("message text is empty")
            return _Formatted(None, [], parse_mode)
        if len(plain) > limit:
            raise bad_request(too_long)
        return _Formatted(plain, parsed, parse_mode)

    def _text(self, params: Mapping[str, Any]) -> _Formatted:
        return self._format(
            _opt_str(params, "text"),
            _opt_str(params, "parse_mode"),
            params.get("entities"),
            limit=TEXT_LIMIT,
            required=True,
            too_long="message is too long",
        )

    def _caption(self, params: Mapping[str, Any]) -> _Formatted:
        return self._format(
            _opt_str(params, "caption"),
            _opt_str(params, "parse_mode"),
            params.get("caption_entities"),
            limit=CAPTION_LIMIT,
            required=False,
            too_long="message caption is too long",
        )

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard button: rows must be Arrays")
        for button in (button for row in rows for button in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text must be a String")
            actions = _INLINE_ACTIONS & button.keys()
            if not actions:
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                if not 1 <= size <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = str(button["url"])
                if urlsplit(url).scheme not in {"http", "https", "tg"}:
                    raise bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )

    def _markup(
        self, params: Mapping[str, Any], *, inline_only: bool = False
    ) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif inline_only:
            raise bad_request("inline keyboard expected")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request("can't parse keyboard button: rows must be Arrays")
            for button in (button for row in rows for button in row):
                if isinstance(button, dict):
                    if not isinstance(button.get("text"), str):
                        raise bad_request("can't parse keyboard button: Text must be a String")
                elif not isinstance(button, str):
                    raise bad_request(
                        "can't parse keyboard button: KeyboardButton must be a String or an Object"
                    )
        elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup

    # --------------------------------------------------------------------- files

    @staticmethod
    def _file_fields(
        kind: str, name: str | None, mime: str | None, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        guessed = mimetypes.guess_type(name)[0] if name else None
        if kind == "video":
            return {
                "width": _opt_int(params, "width") or 1280,
                "height": _opt_int(params, "height") or 720,
                "duration": _opt_int(params, "duration") or 5,
                **({"file_name": name} if name else {}),
                "mime_type": guessed if guessed and guessed.startswith("video/") else "video/mp4",
            }
        if kind == "voice":
            return {"duration": _opt_int(params, "duration") or 3, "mime_type": "audio/ogg"}
        if kind == "audio":
            return {
                "duration": _opt_int(params, "duration") or 0,
                **({"file_name": name} if name else {}),
                "mime_type": guessed if guessed and guessed.startswith("audio/") else "audio/mpeg",
            }
        if kind == "sticker":
            return {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        fields: dict[str, Any] = {}
        if name:
            fields["file_name"] = name
        fields["mime_type"] = guessed or mime or "application/octet-stream"
        return fields

    def _media(
        self, kind: str, value: Any, params: Mapping[str, Any]
    ) -> tuple[Any, str | dict[str, Any]]:
        """Resolve a file parameter: ``(JSON shown in the message, transcript descriptor)``."""
        if value is None or value == "":
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(value, Upload):
            if not value.data:
                raise bad_request("file must be non-empty")
            if len(value.data) > UPLOAD_LIMIT:
                # Telegram's front server refuses the request itself.
                raise ApiError(413, "Request Entity Too Large")
            if kind == "photo" and len(value.data) > PHOTO_UPLOAD_LIMIT:
                raise bad_request("PHOTO_SAVE_FILE_INVALID")
            if kind == "photo":
                return self.state.register_photo(value.data), value.describe()
            record = self.state.register_file(
                kind,
                size=len(value.data),
                data=value.data,
                fields=self._file_fields(kind, value.filename, value.content_type, params),
            )
            return record.media, value.describe()
        if not isinstance(value, str):
            raise bad_request("wrong file identifier/HTTP URL specified")
        if urlsplit(value).scheme in {"http", "https"}:
            # Telegram downloads the URL; we store a plausible file instead.
            if kind == "photo":
                return self.state.register_photo(), value
            name = urlsplit(value).path.rsplit("/", 1)[-1] or None
            record = self.state.register_file(
                kind, size=48_000, fields=self._file_fields(kind, name, None, params)
            )
            return record.media, value
        record_found = self.state.files.get(value)
        if record_found is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if record_found.kind != kind:
            raise bad_request(
                f"can't use file of type {_FILE_TYPE_NAMES.get(record_found.kind, 'File')} "
                f"as {_FILE_TYPE_NAMES.get(kind, 'File')}"
            )
        return record_found.media, value

    # --------------------------------------------------------------- creating messages

    def _post(
        self,
        target: _Target,
        kind: str,
        content: dict[str, Any],
        *,
        markup: dict[str, Any] | None,
        **transcript: Any,
    ) -> SentMessage:
        """Create a bot message in ``target`` and record it in the transcript."""
        state = target.state
        self._ensure_writable(state)
        message_id = self.state.allocate_message_id(state)
        raw: dict[str, Any] = {
            "message_id": message_id,
            "from": self.state.bot_user,
            "chat": state.chat.to_json(),
            "date": self.state.now(),
        }
        thread_id = self.state.place(
            state, raw, thread_id=target.thread_id, reply_to=target.reply_to
        )
        raw.update(content)
        if markup is not None and "inline_keyboard" in markup:
            # Message objects only ever carry inline keyboards.
            raw["reply_markup"] = markup
        sent = SentMessage(
            message_id=message_id,
            chat_id=state.chat.id,
            kind=kind,
            text=content.get("text", content.get("caption")),
            reply_markup=markup,
            media=transcript.pop("media", None),
            raw=raw,
            message_thread_id=thread_id,
            reply_to_message_id=(
                int(target.reply_to.raw["message_id"]) if target.reply_to is not None else None
            ),
            entities=list(content.get("entities", content.get("caption_entities", []))),
            location=_location_of(content),
            **transcript,
        )
        self.state.store(state, StoredMessage(raw, sent=sent))
        return sent

    @staticmethod
    def _text_content(formatted: _Formatted, key: str, entities_key: str) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if formatted.text is not None:
            content[key] = formatted.text
            if formatted.entities:
                content[entities_key] = formatted.entities
        return content

    async def _send_file(self, params: dict[str, Any], kind: str) -> Any:
        caption = self._caption(params)
        markup = self._markup(params)
        target = self._target(params)
        media_json, descriptor = self._media(kind, params.get(kind), params)
        content: dict[str, Any] = {kind: media_json}
        content.update(self._text_content(caption, "caption", "caption_entities"))
        if _opt_bool(params, "has_spoiler"):
            content["has_media_spoiler"] = True
        if _opt_bool(params, "show_caption_above_media"):
            content["show_caption_above_media"] = True
        sent = self._post(
            target,
            kind,
            content,
            markup=markup,
            media=descriptor,
            media_kind=kind,
            parse_mode=caption.parse_mode,
        )
        return sent.raw

    # ------------------------------------------------------------------ bot & updates

    async def get_me(self, params: dict[str, Any]) -> Any:
        """``getMe``: the bot's own User."""
        return self.state.bot_user

    async def log_out(self, params: dict[str, Any]) -> Any:
        """``logOut``: accepted; the stand-in keeps serving."""
        return True

    async def close(self, params: dict[str, Any]) -> Any:
        """``close``: accepted; the stand-in keeps serving."""
        return True

    async def get_updates(self, params: dict[str, Any]) -> Any:
        """``getUpdates``: long polling with Telegram's offset confirmation."""
        state = self.state
        if state.webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout = max(_opt_int(params, "timeout") or 0, 0)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
                raise bad_request("can't parse allowed_updates JSON object")
            state.allowed_updates = list(allowed)  # persists, as on Telegram
        state.confirm(_opt_int(params, "offset"))
        # A newer getUpdates terminates an older one still waiting (409 for the older).
        state.poll_generation += 1
        generation = state.poll_generation
        state.changed.notify()

        def ready() -> bool:
            return (
                bool(state.queue)
                or state.closing
                or state.webhook is not None
                or state.poll_generation != generation
            )

        try:
            await state.changed.wait_for(ready, timeout)
        except TimeoutError:
            return []
        if state.poll_generation != generation:
            raise ApiError(409, OTHER_POLLER)
        if state.webhook is not None:
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        if state.closing:
            return []
        return [entry.update for entry in state.take(limit)]

    async def set_webhook(self, params: dict[str, Any]) -> Any:
        """``setWebhook``: switch to webhook delivery (an empty url removes it)."""
        url = _opt_str(params, "url") or ""
        if not url:
            return await self.delete_webhook(params)
        if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _opt_str(params, "secret_token")
        if secret is not None and not _SECRET.match(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.state.allowed_updates = [str(kind) for kind in allowed]
        if _opt_bool(params, "drop_pending_updates"):
            self.state.drop_pending()
        unchanged = self.state.webhook is not None and self.state.webhook.url == url
        self.state.webhook = Webhook(
            url=url,
            secret=secret,
            max_connections=_opt_int(params, "max_connections") or 40,
        )
        self.state.changed.notify()
        return Answer(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def delete_webhook(self, params: dict[str, Any]) -> Any:
        """``deleteWebhook``: back to ``getUpdates`` polling."""
        if _opt_bool(params, "drop_pending_updates"):
            self.state.drop_pending()
        existed = self.state.webhook is not None
        self.state.webhook = None
        self.state.changed.notify()
        return Answer(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def get_webhook_info(self, params: dict[str, Any]) -> Any:
        """``getWebhookInfo``."""
        webhook = self.state.webhook
        info: dict[str, Any] = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": sum(1 for entry in self.state.queue if not entry.fetched),
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        if self.state.allowed_updates:
            info["allowed_updates"] = self.state.allowed_updates
        return info

    # ------------------------------------------------------------------------ commands

    def _commands_key(self, params: Mapping[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), _opt_str(params, "language_code") or ""

    async def set_my_commands(self, params: dict[str, Any]) -> Any:
        """``setMyCommands`` for a scope and language."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            if not _COMMAND.match(str(command.get("command", "")).removeprefix("/")):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        self.state.commands[key] = [
            {"command": str(c["command"]).removeprefix("/"), "description": str(c["description"])}
            for c in commands
        ]
        return True

    async def delete_my_commands(self, params: dict[str, Any]) -> Any:
        """``deleteMyCommands`` for a scope and language."""
        self.state.commands.pop(self._commands_key(params), None)
        return True

    async def get_my_commands(self, params: dict[str, Any]) -> Any:
        """``getMyCommands`` for a scope and language."""
        return self.state.commands.get(self._commands_key(params), [])

    # ---------------------------------------------------------------------- sending

    async def send_message(self, params: dict[str, Any]) -> Any:
        """``sendMessage``."""
        text = self._text(params)
        markup = self._markup(params)
        target = self._target(params)
        sent = self._post(
            target,
            "text",
            self._text_content(text, "text", "entities"),
            markup=markup,
            parse_mode=text.parse_mode,
        )
        return sent.raw

    async def send_photo(self, params: dict[str, Any]) -> Any:
        """``sendPhoto``."""
        return await self._send_file(params, "photo")

    async def send_video(self, params: dict[str, Any]) -> Any:
        """``sendVideo``."""
        return await self._send_file(params, "video")

    async def send_document(self, params: dict[str, Any]) -> Any:
        """``sendDocument``."""
        return await self._send_file(params, "document")

    def _coordinates(self, params: Mapping[str, Any]) -> dict[str, Any]:
        latitude = _opt_float(params, "latitude")
        longitude = _opt_float(params, "longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise bad_request("wrong latitude specified")
        if longitude is None or not -180 <= longitude <= 180:
            raise bad_request("wrong longitude specified")
        return {"latitude": latitude, "longitude": longitude}

    async def send_location(self, params: dict[str, Any]) -> Any:
        """``sendLocation``."""
        location = self._coordinates(params)
        markup = self._markup(params)
        target = self._target(params)
        sent = self._post(target, "location", {"location": location}, markup=markup)
        return sent.raw

    async def send_venue(self, params: dict[str, Any]) -> Any:
        """``sendVenue``."""
        location = self._coordinates(params)
        title = _opt_str(params, "title")
        address = _opt_str(params, "address")
        if not title:
            raise bad_request("venue title must be non-empty")
        if not address:
            raise bad_request("venue address must be non-empty")
        markup = self._markup(params)
        target = self._target(params)
        venue = {"location": location, "title": title, "address": address}
        sent = self._post(target, "venue", {"venue": venue, "location": location}, markup=markup)
        return sent.raw

    async def send_media_group(self, params: dict[str, Any]) -> Any:
        """``sendMediaGroup``: one message per item sharing a ``media_group_id``.

        As on Telegram, a single item is sent as an ordinary message outside any album.
        """
        media = params.get("media")
        if media is None or media == []:
            raise bad_request("there are no messages to send")
        if not isinstance(media, list):
            raise bad_request("can't parse media JSON object")
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        types: list[str] = []
        for item in media:
            if not isinstance(item, dict):
                raise bad_request("can't parse InputMedia JSON object")
            kind = str(item.get("type", ""))
            if kind not in _ALBUM_TYPES:
                raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
            types.append(kind)
        for lonely in ("document", "audio"):
            if lonely in types and set(types) != {lonely}:
                raise bad_request(f"{lonely} can't be mixed with other media types")
        # Everything is checked before anything is sent: a refused album sends nothing.
        prepared: list[tuple[str, dict[str, Any], str | dict[str, Any], _Formatted]] = []
        for kind, item in zip(types, media, strict=True):
            caption = self._format(
                _opt_str(item, "caption"),
                _opt_str(item, "parse_mode"),
                item.get("caption_entities"),
                limit=CAPTION_LIMIT,
                required=False,
                too_long="message caption is too long",
            )
            media_json, descriptor = self._media(kind, item.get("media"), item)
            content: dict[str, Any] = {kind: media_json}
            content.update(self._text_content(caption, "caption", "caption_entities"))
            if item.get("has_spoiler"):
                content["has_media_spoiler"] = True
            prepared.append((kind, content, descriptor, caption))
        target = self._target(params)
        self._ensure_writable(target.state)
        group_id = self.state.next_media_group_id() if len(prepared) > 1 else None
        results = []
        for kind, content, descriptor, caption in prepared:
            if group_id is not None:
                content["media_group_id"] = group_id
            sent = self._post(
                target,
                "media_group_item" if group_id else kind,
                content,
                markup=None,
                media=descriptor,
                media_kind=kind,
                media_group_id=group_id,
                parse_mode=caption.parse_mode,
            )
            results.append(sent.raw)
        return results

    def _source(self, params: Mapping[str, Any], missing: str) -> tuple[ChatState, StoredMessage]:
        source_state = self._chat(params, "from_chat_id")
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        stored = self.state.find_message(source_state.chat.id, message_id)
        if stored is None:
            raise bad_request(missing)
        if stored.service:
            raise bad_request("message can't be copied")
        return source_state, stored

    async def copy_message(self, params: dict[str, Any]) -> Any:
        """``copyMessage``: the content without a link to the original; returns MessageId."""
        target = self._target(params)
        source_state, source = self._source(params, "message to copy not found")
        markup = self._markup(params)
        content = {
            key: source.raw[key] for key in (*_CONTENT_KINDS, *_CONTENT_EXTRAS) if key in source.raw
        }
        kind = _kind_of(content)
        parse_mode = None
        if "caption" in params and kind != "text":
            caption = self._caption(params)
            parse_mode = caption.parse_mode
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._text_content(caption, "caption", "caption_entities"))
        sent = self._post(
            target,
            kind,
            content,
            markup=markup,
            media=_media_descriptor(content, kind),
            media_kind=kind if kind in _FILE_TYPE_NAMES else None,
            parse_mode=parse_mode,
            copied_from=(source_state.chat.id, int(source.raw["message_id"])),
        )
        return {"message_id": sent.message_id}

    async def forward_message(self, params: dict[str, Any]) -> Any:
        """``forwardMessage``: the content plus ``forward_origin``; returns the Message."""
        target = self._target(params)
        source_state, source = self._source(params, "message to forward not found")
        content = {
            key: source.raw[key] for key in (*_CONTENT_KINDS, *_CONTENT_EXTRAS) if key in source.raw
        }
        origin = source.raw.get("forward_origin") or {
            "type": "user",
            "sender_user": source.raw["from"],
            "date": source.raw["date"],
        }
        content["forward_origin"] = origin
        kind = _kind_of(content)
        sent = self._post(
            target,
            kind,
            content,
            markup=None,
            media=_media_descriptor(content, kind),
            media_kind=kind if kind in _FILE_TYPE_NAMES else None,
            copied_from=(source_state.chat.id, int(source.raw["message_id"])),
        )
        return sent.raw

    # ------------------------------------------------------------------------ editing

    def _editable(self, params: Mapping[str, Any]) -> tuple[StoredMessage, SentMessage]:
        if params.get("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")  # the stand-in has no inline mode
        state = self._chat(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        stored = self.state.find_message(state.chat.id, message_id)
        if stored is None:
            raise bad_request("message to edit not found")
        if stored.sent is None or stored.service:
            raise bad_request("message can't be edited")
        self._ensure_writable(state)
        return stored, stored.sent

    @staticmethod
    def _check_modified(
        stored: StoredMessage,
        key: str,
        formatted: _Formatted | None,
        markup: dict[str, Any] | None,
    ) -> None:
        raw = stored.raw
        same_markup = raw.get("reply_markup") == markup
        if formatted is None:
            same_content = True
        else:
            entities_key = "entities" if key == "text" else "caption_entities"
            same_content = raw.get(key) == formatted.text and raw.get(entities_key, []) == (
                formatted.entities if formatted.text is not None else []
            )
        if same_content and same_markup:
            raise bad_request(NOT_MODIFIED)

    def _apply_edit(
        self,
        stored: StoredMessage,
        sent: SentMessage,
        key: str,
        formatted: _Formatted | None,
        markup: dict[str, Any] | None,
    ) -> Any:
        raw = stored.raw
        if formatted is not None:
            entities_key = "entities" if key == "text" else "caption_entities"
            raw.pop(key, None)
            raw.pop(entities_key, None)
            raw.update(self._text_content(formatted, key, entities_key))
            sent.text = formatted.text
            sent.entities = list(formatted.entities)
            sent.parse_mode = formatted.parse_mode
        # Edits replace the inline keyboard; leaving reply_markup out removes it.
        if markup is not None:
            raw["reply_markup"] = markup
            sent.reply_markup = markup
        else:
            raw.pop("reply_markup", None)
            if sent.reply_markup is not None and "inline_keyboard" in sent.reply_markup:
                sent.reply_markup = None
        raw["edit_date"] = self.state.now()
        sent.edited = True
        self.state.changed.notify()
        return raw

    async def edit_message_text(self, params: dict[str, Any]) -> Any:
        """``editMessageText``."""
        text = self._text(params)
        markup = self._markup(params, inline_only=True)
        stored, sent = self._editable(params)
        if "text" not in stored.raw:
            raise bad_request("there is no text in the message to edit")
        self._check_modified(stored, "text", text, markup)
        return self._apply_edit(stored, sent, "text", text, markup)

    async def edit_message_caption(self, params: dict[str, Any]) -> Any:
        """``editMessageCaption``."""
        caption = self._caption(params)
        markup = self._markup(params, inline_only=True)
        stored, sent = self._editable(params)
        if not any(kind in stored.raw for kind in _FILE_TYPE_NAMES):
            raise bad_request("there is no caption in the message to edit")
        self._check_modified(stored, "caption", caption, markup)
        return self._apply_edit(stored, sent, "caption", caption, markup)

    async def edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        """``editMessageReplyMarkup``."""
        markup = self._markup(params, inline_only=True)
        stored, sent = self._editable(params)
        self._check_modified(stored, "text", None, markup)
        return self._apply_edit(stored, sent, "text", None, markup)

    async def delete_message(self, params: dict[str, Any]) -> Any:
        """``deleteMessage``: bot and user messages alike."""
        state = self._chat(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        stored = self.state.find_message(state.chat.id, message_id)
        if stored is None:
            raise bad_request("message to delete not found")
        stored.deleted = True
        if stored.sent is not None:
            stored.sent.deleted = True
        self.state.changed.notify()
        return True

    # ------------------------------------------------------------ callbacks & actions

    async def answer_callback_query(self, params: dict[str, Any]) -> Any:
        """``answerCallbackQuery``: each query can be answered once."""
        query_id = _opt_str(params, "callback_query_id")
        if not query_id or query_id not in self.state.pending_queries:
            raise bad_request(QUERY_INVALID)
        text = _opt_str(params, "text")
        if text is not None and len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        del self.state.pending_queries[query_id]
        self.state.callback_answers[query_id] = {
            "text": text,
            "show_alert": _opt_bool(params, "show_alert"),
            "url": _opt_str(params, "url"),
            "cache_time": _opt_int(params, "cache_time") or 0,
        }
        self.state.changed.notify()
        return True

    async def send_chat_action(self, params: dict[str, Any]) -> Any:
        """``sendChatAction``."""
        action = _opt_str(params, "action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        state = self._chat(params)
        self._thread(state, params)
        self._ensure_writable(state)
        return True

    # -------------------------------------------------------------- chats & members

    async def get_chat(self, params: dict[str, Any]) -> Any:
        """``getChat``: a ChatFullInfo."""
        chat = self._chat(params).chat
        info = chat.to_json()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def _user_json(self, user_id: int) -> dict[str, Any]:
        if user_id == self.state.bot_id:
            return self.state.bot_user
        user = self.state.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return user.to_json()

    async def get_chat_member(self, params: dict[str, Any]) -> Any:
        """``getChatMember``: administrator / member / left."""
        state = self._chat(params)
        user_id = _opt_int(params, "user_id")
        if user_id is None:
            raise bad_request("user_id is empty")
        user = self._user_json(user_id)
        chat = state.chat
        if chat.type == "private":
            if user_id not in {chat.id, self.state.bot_id}:
                raise bad_request("user not found")
            return {"status": "member", "user": user}
        if user_id in chat.admins and user_id in chat.members:
            return _admin_json(user)
        if user_id in chat.members:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def get_chat_administrators(self, params: dict[str, Any]) -> Any:
        """``getChatAdministrators``."""
        chat = self._chat(params).chat
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            _admin_json(self._user_json(user_id)) for user_id in sorted(chat.admins & chat.members)
        ]

    async def create_forum_topic(self, params: dict[str, Any]) -> Any:
        """``createForumTopic``: the topic's id is the id of its creation message."""
        state = self._chat(params)
        if not state.chat.is_forum:
            raise bad_request("the chat is not a forum")
        name = _opt_str(params, "name") or ""
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        icon_color = _opt_int(params, "icon_color") or _DEFAULT_TOPIC_COLOR
        self._ensure_writable(state)
        thread_id = self.state.allocate_message_id(state)
        topic = {"name": name, "icon_color": icon_color}
        raw = {
            "message_id": thread_id,
            "from": self.state.bot_user,
            "chat": state.chat.to_json(),
            "date": self.state.now(),
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": topic,
        }
        state.chat.topics[thread_id] = name
        self.state.store(state, StoredMessage(raw, service=True))
        return {"message_thread_id": thread_id, **topic}

    async def get_file(self, params: dict[str, Any]) -> Any:
        """``getFile``: assigns the download path under ``/file/bot<token>/``."""
        file_id = _opt_str(params, "file_id")
        record = self.state.files.get(file_id or "")
        if record is None:
            raise bad_request("invalid file_id")
        if record.size > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.size,
            "file_path": self.state.file_path(record),
        }
